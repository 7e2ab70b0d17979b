"""What a board is in the cache: its reference, key names, versions and the store protocol."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from django.conf import settings

KEY_PREFIX = "lb:v1:"
VERSION_PREFIX = f"{KEY_PREFIX}ver:"
LOCK_PREFIX = f"{KEY_PREFIX}lock:"
DOCUMENT_FIELD = "doc"
VERSION_FIELD = "ver"
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
