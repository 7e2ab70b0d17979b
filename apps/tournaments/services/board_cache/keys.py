"""Where a board lives in Redis: key names, versions, the TTL, the limits of one board hash.

Layout (contract section 6; every key starts `lb:v1:`):
- `lb:v1:<board name>`: a hash with `ver` (the version the documents were computed under),
  `doc` (the board document, JSON bytes), one `doc@<instant>` per board "as of" an instant that
  was asked for (the same board counting only the matches completed by then), and one field per
  rendered page (`p:...`, response bytes). Deleting it removes every document and page at once:
  a change to the board's results invalidates its past states with it.
- `lb:v1:ver:<board name>`: the board's current version, a random token. Invalidation deletes
  it with the hash, so the next read starts a new version and a document computed before the
  invalidation can no longer be stored (its writer checks the version it read). Tokens are
  random, not counters: a version, and the ETag built on it, is never reused after Redis loses
  its data.
- `lb:v1:lock:<board name>` (`...@<instant>` for a past state): a short lock so that
  concurrent misses compute once.
- `lb:v1:applied:<pending invalidation id>`: set in the same pipeline as the deletions of a
  result change's boards (`invalidation.py`): that change needs no further application.
Both the hash and the version key expire after LEADERBOARD_CACHE_TTL_SECONDS (renewed together
when a document is stored); the lock after LOCK_TTL_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings

from apps.common.timestamps import iso_utc
from apps.tournaments.boards import BoardRef, Scope

KEY_PREFIX = "lb:v1:"
VERSION_PREFIX = f"{KEY_PREFIX}ver:"
LOCK_PREFIX = f"{KEY_PREFIX}lock:"
APPLIED_PREFIX = f"{KEY_PREFIX}applied:"
# Long enough for a serving process to delete the applied row (within about a second), short
# enough that markers never pile up; a row outliving its marker is only applied once more.
APPLIED_TTL_SECONDS = 600
DOCUMENT_FIELD = "doc"
VERSION_FIELD = "ver"
LOCK_TTL_SECONDS = 10
MISS_WAIT_SECONDS = 2.0
MISS_POLL_SECONDS = 0.02
# Fields of one board hash (pages and past states together): a client asking for ever new
# instants or windows stops adding to the hash there, and is served without storing.
MAX_PAGES_PER_BOARD = 256


def document_field(as_of: dt.datetime | None) -> str:
    """The hash field of the board's document now, or as of an instant."""
    return DOCUMENT_FIELD if as_of is None else f"{DOCUMENT_FIELD}@{iso_utc(as_of)}"


def board_key(name: str) -> str:
    return f"{KEY_PREFIX}{name}"


def version_key(name: str) -> str:
    return f"{VERSION_PREFIX}{name}"


def lock_key(board: BoardRef, field: str = DOCUMENT_FIELD) -> str:
    suffix = field.removeprefix(DOCUMENT_FIELD)
    return f"{LOCK_PREFIX}{board.name}{suffix}"


def applied_key(row_id: int) -> str:
    return f"{APPLIED_PREFIX}{row_id}"


def scope_pattern(prefix: str, scope: Scope) -> str:
    """The SCAN pattern of every key under `prefix` of boards of `scope`."""
    return f"{prefix}{scope.value}:*"


def cache_ttl_seconds() -> int:
    return int(settings.LEADERBOARD_CACHE_TTL_SECONDS)


def new_version() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class CacheRead:
    """What one read found. `version` None: the cache could not tell (Redis failing)."""

    version: str | None
    document: bytes | None = None
    page: bytes | None = None

    @property
    def is_page_hit(self) -> bool:
        return self.version is not None and self.page is not None
