"""Board cache: keys, versions, TTL, the miss lock, fail-open reads and invalidation.

Layout (contract section 6). Every key starts `lb:v1:`.

- `lb:v1:<board>`: a hash holding `ver` (the version it was computed under), `doc` (the board
  document, JSON bytes) and one field per rendered page (`p:...`, response bytes). Deleting it
  removes the document and every page of the board at once. TTL: LEADERBOARD_CACHE_TTL_SECONDS.
- `lb:v1:ver:<board>`: the board's current version, a random token. Invalidation replaces it and
  deletes the hash; a writer stores only if the version it read before computing is still
  current (checked atomically in a Lua script), so a reader that computed from data older than a
  commit can never re-poison the board after that commit's invalidation. Tokens are random, not
  counters, so a version (and the ETag built on it) is never reused after Redis loses its data.
- `lb:v1:lock:<board>`: a short lock so concurrent misses compute once.

Without REDIS_URL the same semantics live in this process (`LocalBoardStore`). Redis failures
never reach the caller: reads return "unknown" and writes are skipped (see `redis_gateway`).

Why hand-written: Django's cache API cannot express "store only if the version is unchanged",
hash-per-board pages, or SCAN by scope; those are a few lines of Lua and redis-py.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import redis
import structlog
from django.conf import settings
from django.db import DatabaseError, transaction

from apps.common.redis_gateway import (
    RedisUnavailableError,
    redis_client,
    require_redis,
    safe_redis_call,
)
from apps.tournaments.services import cache_stats
from apps.tournaments.utils import metrics

log = structlog.get_logger(__name__)

KEY_PREFIX = "lb:v1:"
VERSION_PREFIX = f"{KEY_PREFIX}ver:"
LOCK_PREFIX = f"{KEY_PREFIX}lock:"
DOCUMENT_FIELD = "doc"
VERSION_FIELD = "ver"
# Versions outlive every document (whose TTL is far shorter) so a live document's version is
# never forgotten while the document exists.
VERSION_TTL_SECONDS = 7 * 24 * 3600
LOCK_TTL_SECONDS = 10
MISS_WAIT_SECONDS = 2.0
MISS_POLL_SECONDS = 0.02
MAX_PAGES_PER_BOARD = 256
ALL_GAMES = "*"


class Scope(StrEnum):
    TOURNAMENT = "tournament"
    SEASON = "season"
    ALL_TIME = "all_time"
    HISTORY = "history"


class EvictionReason(StrEnum):
    MANUAL = "manual"
    RESULT_CHANGE = "result_change"


@dataclass(frozen=True, slots=True)
class BoardRef:
    """Which board: its scope and the parameters that make it one document."""

    scope: Scope
    tournament_id: int | None = None
    season: str | None = None
    game: str | None = None
    participant_type: str | None = None
    user_id: int | None = None

    @property
    def name(self) -> str:
        match self.scope:
            case Scope.TOURNAMENT:
                return f"tournament:{self.tournament_id}"
            case Scope.SEASON:
                return f"season:{self.season}:{self.game or ALL_GAMES}:{self.participant_type}"
            case Scope.ALL_TIME:
                return f"all_time:{self.game or ALL_GAMES}:{self.participant_type}"
            case Scope.HISTORY:
                return f"history:{self.user_id}"
        raise ValueError(f"unknown scope {self.scope!r}")

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.name}"

    @property
    def version_key(self) -> str:
        return f"{VERSION_PREFIX}{self.name}"

    @property
    def lock_key(self) -> str:
        return f"{LOCK_PREFIX}{self.name}"


@dataclass(frozen=True, slots=True)
class CacheRead:
    """What one read found. `version` None means the cache could not tell (down or off)."""

    version: str | None
    document: bytes | None = None
    page: bytes | None = None


def cache_ttl_seconds() -> int:
    return int(settings.LEADERBOARD_CACHE_TTL_SECONDS)


def new_version() -> str:
    return secrets.token_hex(8)


class BoardStore(Protocol):
    def read(self, board: BoardRef, page_field: str | None) -> CacheRead: ...
    def read_document(self, board: BoardRef, version: str) -> bytes | None: ...
    def store_document(self, board: BoardRef, version: str, document: bytes) -> bool: ...
    def store_page(self, board: BoardRef, version: str, page_field: str, body: bytes) -> bool: ...
    def try_lock(self, board: BoardRef) -> Any: ...
    def release_lock(self, lock: Any) -> None: ...
    def invalidate(self, boards: Iterable[BoardRef]) -> list[str]: ...
    def invalidate_scope(self, scope: Scope | None) -> list[str]: ...
    def board_keys(self, scope: Scope | None) -> list[str]: ...
    def ttl_seconds(self, board: BoardRef) -> int | None: ...
    def ttl_of_key(self, key: str) -> int | None: ...


# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------

_STORE_DOCUMENT_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'ver', ARGV[1], 'doc', ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return 1
"""

_STORE_PAGE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], 'ver') ~= ARGV[1] then return 0 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


def _decode(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


class RedisBoardStore:
    """Boards in Redis; every call fails open through `safe_redis_call`."""

    def read(self, board: BoardRef, page_field: str | None) -> CacheRead:
        def call(client: redis.Redis) -> CacheRead:
            pipe = client.pipeline(transaction=False)
            self.queue_read(pipe, board, page_field)
            return self.finish_read(client, board, page_field, pipe.execute())

        return safe_redis_call("get", call, CacheRead(version=None))

    @staticmethod
    def queue_read(pipe: redis.client.Pipeline, board: BoardRef, page_field: str | None) -> int:
        """Queue a read's two commands on `pipe` (the rate limit's pipeline, or its own)."""
        pipe.get(board.version_key)
        pipe.hmget(board.key, [VERSION_FIELD, page_field or DOCUMENT_FIELD])
        return 2

    @staticmethod
    def finish_read(
        client: redis.Redis, board: BoardRef, page_field: str | None, replies: list[Any]
    ) -> CacheRead:
        """Turn the replies of `queue_read` into a CacheRead."""
        current, (stored_version, stored) = replies
        current = _decode(current)
        if current is None:
            # First read since the version expired or Redis lost its data: start one.
            pipe = client.pipeline(transaction=False)
            pipe.set(board.version_key, new_version(), nx=True, ex=VERSION_TTL_SECONDS)
            pipe.get(board.version_key)
            current = _decode(pipe.execute()[1])
            return CacheRead(version=current)
        if _decode(stored_version) != current:
            return CacheRead(version=current)
        if page_field is None:
            return CacheRead(version=current, document=stored)
        return CacheRead(version=current, page=stored)

    def read_document(self, board: BoardRef, version: str) -> bytes | None:
        def call(client: redis.Redis) -> bytes | None:
            stored_version, document = client.hmget(board.key, [VERSION_FIELD, DOCUMENT_FIELD])
            return document if _decode(stored_version) == version else None

        return safe_redis_call("get", call, None)

    def store_document(self, board: BoardRef, version: str, document: bytes) -> bool:
        def call(client: redis.Redis) -> bool:
            script = client.register_script(_STORE_DOCUMENT_LUA)
            keys = [board.version_key, board.key]
            return bool(script(keys=keys, args=[version, document, cache_ttl_seconds()]))

        return safe_redis_call("set", call, False)

    def store_page(self, board: BoardRef, version: str, page_field: str, body: bytes) -> bool:
        def call(client: redis.Redis) -> bool:
            script = client.register_script(_STORE_PAGE_LUA)
            keys = [board.version_key, board.key]
            args = [version, page_field, body, MAX_PAGES_PER_BOARD]
            return bool(script(keys=keys, args=args))

        return safe_redis_call("set", call, False)

    def try_lock(self, board: BoardRef) -> Any:
        def call(client: redis.Redis) -> Any:
            lock = client.lock(board.lock_key, timeout=LOCK_TTL_SECONDS, blocking=False)
            return lock if lock.acquire(blocking=False) else None

        return safe_redis_call("lock", call, None)

    def release_lock(self, lock: Any) -> None:
        def call(client: redis.Redis) -> None:
            # Expired and maybe taken by another: nothing of ours to release.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()

        safe_redis_call("lock", call, None)

    def invalidate(self, boards: Iterable[BoardRef]) -> list[str]:
        return self._invalidate_names({board.name for board in boards})

    def invalidate_scope(self, scope: Scope | None) -> list[str]:
        """Every board of the scope (None = all): live documents and, through their version
        keys, boards being computed right now (their late store will be refused)."""
        scopes = [scope] if scope else list(Scope)
        patterns = [
            f"{prefix}{each.value}:*" for each in scopes for prefix in (KEY_PREFIX, VERSION_PREFIX)
        ]

        def call(client: redis.Redis) -> set[str]:
            names: set[str] = set()
            for pattern in patterns:
                prefix = VERSION_PREFIX if pattern.startswith(VERSION_PREFIX) else KEY_PREFIX
                for key in client.scan_iter(match=pattern, count=1000):
                    names.add((_decode(key) or "")[len(prefix) :])
            return names

        return self._invalidate_names(require_redis("scan", call))

    def _invalidate_names(self, names: set[str]) -> list[str]:
        ordered = sorted(names)
        if not ordered:
            return []

        def call(client: redis.Redis) -> list[str]:
            pipe = client.pipeline(transaction=False)
            for name in ordered:
                pipe.set(f"{VERSION_PREFIX}{name}", new_version(), ex=VERSION_TTL_SECONDS)
                pipe.delete(f"{KEY_PREFIX}{name}")
            results = pipe.execute()
            deleted = results[1::2]
            return [
                f"{KEY_PREFIX}{name}" for name, gone in zip(ordered, deleted, strict=True) if gone
            ]

        return require_redis("delete", call)

    def board_keys(self, scope: Scope | None) -> list[str]:
        patterns = (
            [f"{KEY_PREFIX}{scope.value}:*"]
            if scope
            else [f"{KEY_PREFIX}{each.value}:*" for each in Scope]
        )

        def call(client: redis.Redis) -> list[str]:
            found: set[str] = set()
            for pattern in patterns:
                for key in client.scan_iter(match=pattern, count=1000):
                    found.add(_decode(key) or "")
            return sorted(found)

        return require_redis("scan", call)

    def ttl_seconds(self, board: BoardRef) -> int | None:
        return self.ttl_of_key(board.key)

    def ttl_of_key(self, key: str) -> int | None:
        remaining = safe_redis_call("ttl", lambda client: client.ttl(key), None)
        if remaining is None or remaining < 0:
            return None
        return int(remaining)


# ---------------------------------------------------------------------------------------------
# In-process (no REDIS_URL): the embedded default, one process only
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _LocalEntry:
    version: str
    document: bytes
    expires_at: float
    pages: dict[str, bytes] = field(default_factory=dict)


class LocalBoardStore:
    """The same contract as RedisBoardStore, in a dict guarded by a lock."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._versions: dict[str, str] = {}
        self._entries: dict[str, _LocalEntry] = {}
        self._locks: dict[str, threading.Lock] = {}

    def clear(self) -> None:
        with self._mutex:
            self._versions.clear()
            self._entries.clear()
            self._locks.clear()

    def _live_entry(self, key: str) -> _LocalEntry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= time.monotonic():
            del self._entries[key]
            return None
        return entry

    def read(self, board: BoardRef, page_field: str | None) -> CacheRead:
        with self._mutex:
            current = self._versions.setdefault(board.key, new_version())
            entry = self._live_entry(board.key)
            if entry is None or entry.version != current:
                return CacheRead(version=current)
            if page_field is None:
                return CacheRead(version=current, document=entry.document)
            return CacheRead(version=current, page=entry.pages.get(page_field))

    def read_document(self, board: BoardRef, version: str) -> bytes | None:
        with self._mutex:
            entry = self._live_entry(board.key)
            return entry.document if entry is not None and entry.version == version else None

    def store_document(self, board: BoardRef, version: str, document: bytes) -> bool:
        with self._mutex:
            if self._versions.get(board.key) != version:
                return False
            expires_at = time.monotonic() + cache_ttl_seconds()
            self._entries[board.key] = _LocalEntry(version, document, expires_at)
            return True

    def store_page(self, board: BoardRef, version: str, page_field: str, body: bytes) -> bool:
        with self._mutex:
            entry = self._live_entry(board.key)
            if entry is None or entry.version != version:
                return False
            if self._versions.get(board.key) != version:
                return False
            if len(entry.pages) >= MAX_PAGES_PER_BOARD:
                return False
            entry.pages[page_field] = body
            return True

    def try_lock(self, board: BoardRef) -> Any:
        with self._mutex:
            lock = self._locks.setdefault(board.key, threading.Lock())
        return lock if lock.acquire(blocking=False) else None

    def release_lock(self, lock: Any) -> None:
        lock.release()

    def invalidate(self, boards: Iterable[BoardRef]) -> list[str]:
        return self._invalidate_keys({board.key for board in boards})

    def invalidate_scope(self, scope: Scope | None) -> list[str]:
        prefix = f"{KEY_PREFIX}{scope.value}:" if scope else KEY_PREFIX
        with self._mutex:
            keys = {key for key in [*self._versions, *self._entries] if key.startswith(prefix)}
        return self._invalidate_keys(keys)

    def _invalidate_keys(self, keys: set[str]) -> list[str]:
        removed: list[str] = []
        with self._mutex:
            for key in sorted(keys):
                self._versions[key] = new_version()
                if self._live_entry(key) is not None:
                    removed.append(key)
                self._entries.pop(key, None)
        return removed

    def board_keys(self, scope: Scope | None) -> list[str]:
        prefix = f"{KEY_PREFIX}{scope.value}:" if scope else KEY_PREFIX
        with self._mutex:
            return sorted(
                key
                for key in list(self._entries)
                if key.startswith(prefix) and self._live_entry(key) is not None
            )

    def ttl_seconds(self, board: BoardRef) -> int | None:
        return self.ttl_of_key(board.key)

    def ttl_of_key(self, key: str) -> int | None:
        with self._mutex:
            entry = self._live_entry(key)
            if entry is None:
                return None
            return max(0, int(entry.expires_at - time.monotonic()))


_local_store = LocalBoardStore()
_redis_store = RedisBoardStore()


def board_store() -> BoardStore:
    """Redis when REDIS_URL is set, else the in-process store."""
    return _redis_store if redis_client() is not None else _local_store


def local_store() -> LocalBoardStore:
    return _local_store


class PageReadRider:
    """A page read that rides on the rate limit's pipeline (see `throttles.rate_limit`).

    `result` stays None when the ride did not happen (no Redis, Redis failing, the throttle
    skipped): the reader then reads on its own.
    """

    def __init__(self, board: BoardRef, page_field: str) -> None:
        self.board = board
        self.page_field = page_field
        self.result: CacheRead | None = None

    def queue(self, pipe: redis.client.Pipeline) -> int:
        return RedisBoardStore.queue_read(pipe, self.board, self.page_field)

    def finish(self, client: redis.Redis, replies: list[Any]) -> None:
        self.result = RedisBoardStore.finish_read(client, self.board, self.page_field, replies)

    def take(self, board: BoardRef, page_field: str) -> CacheRead | None:
        """The prefetched read when it is for this board and page; at most once."""
        if self.result is None or board != self.board or page_field != self.page_field:
            return None
        result, self.result = self.result, None
        return result


# ---------------------------------------------------------------------------------------------
# Invalidation: which boards a tournament feeds, scheduled for after the commit
# ---------------------------------------------------------------------------------------------

Placement = tuple[str | None, str | None, str | None]  # (season slug, game slug, participant type)


def boards_fed_by_placement(placement: Placement) -> set[BoardRef]:
    """Season and all-time boards (all games and the tournament's game) for one tournament."""
    season, game, participant_type = placement
    boards: set[BoardRef] = set()
    for game_filter in (None, game):
        boards.add(BoardRef(Scope.ALL_TIME, game=game_filter, participant_type=participant_type))
        if season:
            boards.add(
                BoardRef(
                    Scope.SEASON, season=season, game=game_filter, participant_type=participant_type
                )
            )
    return boards


def boards_fed_by_tournaments(tournament_ids: Iterable[int]) -> set[BoardRef]:
    """Every board that shows a result of these tournaments (2 queries, whatever the count)."""
    from apps.tournaments.models import Registration, Tournament

    ids = sorted({tournament_id for tournament_id in tournament_ids if tournament_id is not None})
    if not ids:
        return set()
    boards = {BoardRef(Scope.TOURNAMENT, tournament_id=tournament_id) for tournament_id in ids}
    placements = Tournament.objects.filter(pk__in=ids).values_list(
        "season__slug", "game__slug", "participation_type"
    )
    for placement in placements:
        boards |= boards_fed_by_placement(placement)
    user_ids = Registration.objects.filter(tournament_id__in=ids).values_list(
        "user_id", "roster__id"
    )
    for user_id, roster_user_id in user_ids:
        for each in (user_id, roster_user_id):
            if each is not None:
                boards.add(BoardRef(Scope.HISTORY, user_id=each))
    return boards


def invalidate_boards(boards: Iterable[BoardRef], reason: EvictionReason) -> list[str]:
    """Delete these boards now; return the keys that existed. Raises RedisUnavailableError."""
    return record_evictions(board_store().invalidate(boards), reason)


def invalidate_scope(scope: Scope | None, reason: EvictionReason) -> list[str]:
    """Delete every board of a scope (None = every board). Raises RedisUnavailableError."""
    return record_evictions(board_store().invalidate_scope(scope), reason)


def record_evictions(removed: list[str], reason: EvictionReason) -> list[str]:
    if removed:
        metrics.CACHE_EVICTIONS.labels(reason=reason.value).inc(len(removed))
        cache_stats.record_evictions(len(removed))
    return removed


@dataclass(slots=True)
class _PendingInvalidation:
    tournament_ids: set[int] = field(default_factory=set)
    placements: set[Placement] = field(default_factory=set)
    boards: set[BoardRef] = field(default_factory=set)

    def flush(self) -> None:
        """Runs after the commit. Never raises: the commit has already happened."""
        try:
            boards = set(self.boards)
            boards |= boards_fed_by_tournaments(self.tournament_ids)
            for placement in self.placements:
                boards |= boards_fed_by_placement(placement)
        except DatabaseError as error:
            log.error("board_invalidation_failed", stage="resolve", error=type(error).__name__)
            return
        invalidate_with_retries(frozenset(boards), tuple(sorted(self.tournament_ids)))


# Delays between attempts when Redis cannot be reached at commit time: about four minutes in
# all, inside the default 300 s TTL. Until an attempt succeeds other workers may still serve
# the boards cached before the commit (this one logs each retry); reads during the outage itself
# come from SQL because the breaker is open.
INVALIDATION_RETRY_DELAYS_SECONDS = (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


def invalidate_with_retries(
    boards: frozenset[BoardRef], tournament_ids: tuple[int, ...], attempt: int = 0
) -> None:
    try:
        removed = invalidate_boards(boards, EvictionReason.RESULT_CHANGE)
    except RedisUnavailableError as error:
        if attempt >= len(INVALIDATION_RETRY_DELAYS_SECONDS):
            log.error(
                "board_invalidation_failed",
                stage="redis",
                boards=len(boards),
                attempts=attempt + 1,
                error=type(error).__name__,
            )
            return
        delay = INVALIDATION_RETRY_DELAYS_SECONDS[attempt]
        log.warning(
            "board_invalidation_retry", boards=len(boards), attempt=attempt + 1, in_seconds=delay
        )
        timer = threading.Timer(
            delay, invalidate_with_retries, args=(boards, tournament_ids, attempt + 1)
        )
        timer.daemon = True
        timer.start()
        return
    log.info(
        "boards_invalidated",
        reason=EvictionReason.RESULT_CHANGE.value,
        tournaments=list(tournament_ids),
        boards=len(boards),
        keys_removed=len(removed),
        attempt=attempt + 1,
    )


_pending = threading.local()


def _current_batch() -> _PendingInvalidation | None:
    """The batch already registered with this transaction, if its callback is still pending.

    A rolled-back savepoint drops the callbacks registered inside it; checking that ours is
    still queued (Django keeps them in `connection.run_on_commit`) stops a later write from
    joining a batch that will never run.
    """
    batch: _PendingInvalidation | None = getattr(_pending, "batch", None)
    if batch is None:
        return None
    connection = transaction.get_connection()
    queued = any(entry[1] == batch.flush for entry in connection.run_on_commit)
    return batch if queued else None


def schedule_tournament_invalidation(
    tournament_ids: Iterable[int],
    extra_placements: Iterable[Placement] = (),
    extra_boards: Iterable[BoardRef] = (),
) -> None:
    """Invalidate what these tournaments feed once the current transaction commits.

    Outside a transaction it runs at once. Inside, all calls of one transaction share a single
    batch (one flush, however many rows were written). Never gated by a flag.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        batch = _PendingInvalidation()
        batch.tournament_ids.update(tournament_ids)
        batch.placements.update(extra_placements)
        batch.boards.update(extra_boards)
        batch.flush()
        return
    batch = _current_batch()
    if batch is None:
        batch = _PendingInvalidation()
        _pending.batch = batch
        transaction.on_commit(batch.flush, robust=True)
    batch.tournament_ids.update(tournament_ids)
    batch.placements.update(extra_placements)
    batch.boards.update(extra_boards)
