"""Feature flags (contract section 5): environment first, then the database row, then off.

Reading a flag costs no I/O on the hot path: database rows are held in this process for
`LOCAL_TTL_SECONDS` and in the shared cache (Redis) for `SHARED_TTL_SECONDS`. A change made with
`apps.common.flag_changes` deletes the shared copy and this process's copy after its commit;
other processes see it after at most LOCAL + SHARED seconds (4 s), as they see any other write to
the table (a raw ORM or SQL write in a shell). Environment overrides are read per call in their
own process and never written to Redis.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from apps.common.metrics import RedisOperation
from apps.common.models import FeatureFlag, FlagName
from apps.common.redis_gateway import safe_redis_call

LOCAL_TTL_SECONDS = 1.0
SHARED_TTL_SECONDS = 3
SHARED_CACHE_KEY = "dc:flags:v1"


class FlagSource(StrEnum):
    ENV = "env"
    DB = "db"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class FlagRow:
    is_enabled: bool
    rollout_percent: int


@dataclass(frozen=True, slots=True)
class FlagState:
    """A flag as configured, before the per-user rollout is applied."""

    name: str
    enabled: bool
    source: FlagSource
    rollout_percent: int


_local_lock = threading.Lock()
_local_rows: dict[str, FlagRow] | None = None
_local_expires_at = 0.0


def env_override(name: str) -> bool | None:
    """`true` / `false` (any case) in the environment variable of the flag's name, else None."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def _rows_from_database() -> dict[str, FlagRow]:
    return {
        name: FlagRow(is_enabled=is_enabled, rollout_percent=rollout_percent)
        for name, is_enabled, rollout_percent in FeatureFlag.objects.values_list(
            "name", "is_enabled", "rollout_percent"
        )
    }


def _rows_from_shared_cache() -> dict[str, FlagRow] | None:
    raw = safe_redis_call(RedisOperation.FLAGS, lambda client: client.get(SHARED_CACHE_KEY), None)
    if raw is None:
        return None
    try:
        decoded = json.loads(raw)
        return {name: FlagRow(bool(row[0]), int(row[1])) for name, row in decoded.items()}
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _store_in_shared_cache(rows: dict[str, FlagRow]) -> None:
    payload = json.dumps(
        {name: [row.is_enabled, row.rollout_percent] for name, row in rows.items()}
    )
    safe_redis_call(
        RedisOperation.FLAGS,
        lambda client: client.set(SHARED_CACHE_KEY, payload, ex=SHARED_TTL_SECONDS),
        None,
    )


def database_rows() -> dict[str, FlagRow]:
    """The flag rows as stored, at most LOCAL + SHARED seconds old."""
    global _local_rows, _local_expires_at
    now = time.monotonic()
    rows = _local_rows
    if rows is not None and now < _local_expires_at:
        return rows
    with _local_lock:
        if _local_rows is not None and time.monotonic() < _local_expires_at:
            return _local_rows
        rows = _rows_from_shared_cache()
        if rows is None:
            rows = _rows_from_database()
            _store_in_shared_cache(rows)
        _local_rows = rows
        _local_expires_at = time.monotonic() + LOCAL_TTL_SECONDS
        return rows


def forget_local_rows() -> None:
    """Drop this process's copy; the next read goes to the shared cache or the database."""
    global _local_rows, _local_expires_at
    with _local_lock:
        _local_rows = None
        _local_expires_at = 0.0


def forget_cached_rows() -> None:
    """Drop the shared and this process's copy; the next read goes to the database.

    Shared copy first: a thread of this process that reads the old shared copy in between would
    otherwise store it locally after the local copy was dropped, and this process would answer
    with the old rows for up to LOCAL_TTL_SECONDS after its own change.
    """
    safe_redis_call(RedisOperation.FLAGS, lambda client: client.delete(SHARED_CACHE_KEY), None)
    forget_local_rows()


def flag_state(name: str) -> FlagState:
    override = env_override(name)
    if override is not None:
        return FlagState(name, override, FlagSource.ENV, 100)
    row = database_rows().get(name)
    if row is not None:
        return FlagState(name, row.is_enabled, FlagSource.DB, row.rollout_percent)
    return FlagState(name, False, FlagSource.DEFAULT, 100)


def rollout_bucket(name: str, user_id: int) -> int:
    """A stable bucket 0..99 for (flag, user): the same user always lands in the same bucket."""
    digest = hashlib.sha256(f"{name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def is_state_enabled_for(state: FlagState, user_id: int | None) -> bool:
    """Apply the rollout: below 100 % only users whose bucket is under the percentage are in.

    An environment override is all-or-nothing. A request without a user is outside a partial
    rollout (it cannot be assigned a stable bucket).
    """
    if not state.enabled:
        return False
    if state.source is FlagSource.ENV or state.rollout_percent >= 100:
        return True
    if state.rollout_percent <= 0 or user_id is None:
        return False
    return rollout_bucket(state.name, user_id) < state.rollout_percent


def is_flag_enabled(name: str | FlagName, user_id: int | None = None) -> bool:
    return is_state_enabled_for(flag_state(str(name)), user_id)


def all_flag_states() -> dict[str, FlagState]:
    return {str(name): flag_state(str(name)) for name in FlagName}
