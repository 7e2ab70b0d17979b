"""Board cache: keys, versions, TTL, the miss lock, fail-open reads and invalidation.

Layout (contract section 6). Every key starts `lb:v1:`.

- `lb:v1:<board>`: a hash holding `ver` (the version it was computed under), `doc` (the board
  document, JSON bytes) and one field per rendered page (`p:...`, response bytes). Deleting it
  removes the document and every page of the board at once. TTL: LEADERBOARD_CACHE_TTL_SECONDS.
- `lb:v1:ver:<board>`: the board's current version, a random token, with the same TTL as the
  board (set when it is created, renewed when a document is stored). Invalidation deletes it
  with the hash (the next read starts a new version); a writer stores only if the version it
  read before computing is still current (checked atomically in a Lua script), so a reader that
  computed from data older than a commit can never re-poison the board after that commit's
  invalidation. Tokens are random, not
  counters, so a version (and the ETag built on it) is never reused after Redis loses its data.
- `lb:v1:lock:<board>`: a short lock so concurrent misses compute once.

Without REDIS_URL the same semantics live in this process (`LocalBoardStore`). Redis failures
never reach a reader: reads return "unknown" and writes are skipped (see `redis_gateway`);
invalidation and key listing need Redis and raise `RedisUnavailableError`.

Why hand-written: Django's cache API cannot express "store only if the version is unchanged",
hash-per-board pages, or SCAN by scope; those are a few lines of Lua and redis-py.

Modules: `keys` (BoardRef, key names, versions, the store protocol), `stores` (Redis, the page
read riding on the rate limit, the choice of store), `local` (the in-process store),
`invalidation` (what a tournament feeds; on-commit batches with retries). Import from here.
"""

from apps.tournaments.services.board_cache.invalidation import (
    INVALIDATION_RETRY_DELAYS_SECONDS,
    Placement,
    boards_fed_by_placement,
    boards_fed_by_tournaments,
    invalidate_boards,
    invalidate_scope,
    invalidate_with_retries,
    record_evictions,
    schedule_tournament_invalidation,
)
from apps.tournaments.services.board_cache.keys import (
    ALL_GAMES,
    DOCUMENT_FIELD,
    KEY_PREFIX,
    LOCK_PREFIX,
    LOCK_TTL_SECONDS,
    MAX_PAGES_PER_BOARD,
    MISS_POLL_SECONDS,
    MISS_WAIT_SECONDS,
    VERSION_FIELD,
    VERSION_PREFIX,
    BoardRef,
    BoardStore,
    CacheRead,
    EvictionReason,
    Scope,
    cache_ttl_seconds,
    new_version,
)
from apps.tournaments.services.board_cache.local import LocalBoardStore
from apps.tournaments.services.board_cache.stores import (
    PageReadRider,
    RedisBoardStore,
    board_store,
    local_store,
)

__all__ = [
    "ALL_GAMES",
    "DOCUMENT_FIELD",
    "INVALIDATION_RETRY_DELAYS_SECONDS",
    "KEY_PREFIX",
    "LOCK_PREFIX",
    "LOCK_TTL_SECONDS",
    "MAX_PAGES_PER_BOARD",
    "MISS_POLL_SECONDS",
    "MISS_WAIT_SECONDS",
    "VERSION_FIELD",
    "VERSION_PREFIX",
    "BoardRef",
    "BoardStore",
    "CacheRead",
    "EvictionReason",
    "LocalBoardStore",
    "PageReadRider",
    "Placement",
    "RedisBoardStore",
    "Scope",
    "board_store",
    "boards_fed_by_placement",
    "boards_fed_by_tournaments",
    "cache_ttl_seconds",
    "invalidate_boards",
    "invalidate_scope",
    "invalidate_with_retries",
    "local_store",
    "new_version",
    "record_evictions",
    "schedule_tournament_invalidation",
]
