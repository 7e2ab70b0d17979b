"""Reading a board page: `read_board_page`, the one call every board view makes.

The path of one read (contract sections 5 and 6):
1. The flags are evaluated for the requesting user, before any cache access. Compute off: an
   empty board, built without touching the cache, never stored. Cache off (or this process
   knows of an invalidation it could not apply yet): computed live, nothing read or stored.
2. One Redis round trip counts the request against its rate limit and reads the board's current
   version and the requested page (`store.count_and_read_page`). Over budget: 429, nothing more.
   A cached page under the current version is returned as it is: bytes, ETag from the version.
3. Otherwise the document is read or computed (once across workers: a short lock, the others
   wait up to 2 s for it), the page is cut from it and stored beside it.
4. Redis failing or hanging: the cache answers "unknown" fast (circuit breaker), the rate limit
   lets the request through, and the board comes from SQL.

The version read in step 2 happens before any SQL of step 3, and a document is stored only under
the version current at store time, so a board computed before a commit is never served after that
commit's invalidation.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import structlog

from apps.common import metrics
from apps.common.errors import RateLimitExceededError
from apps.common.flags import is_flag_enabled
from apps.common.models import FlagName
from apps.common.rate_limits import RateLimitCount, RateLimitResult, rate_limit
from apps.tournaments.boards import BoardRef
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache import invalidation, store
from apps.tournaments.services.board_cache.keys import (
    MISS_POLL_SECONDS,
    MISS_WAIT_SECONDS,
    CacheRead,
)
from apps.tournaments.services.board_compute import compute_board, empty_board
from apps.tournaments.services.board_documents import BoardDocument, PageSpec, render_page

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BoardPage:
    body: bytes
    etag: str
    cached: bool
    rate_limit: RateLimitResult | None


def read_board_page(
    board: BoardRef, page: PageSpec, *, user_id: int, count: RateLimitCount
) -> BoardPage:
    """The page's bytes and ETag, the request counted against `count`'s budget.

    Raises RateLimitExceededError over budget, and the board's not-found errors (or a 400 for an
    unknown game) when what it names does not exist or is hidden from this viewer.
    """
    computation_enabled = is_flag_enabled(FlagName.COMPUTE, user_id)
    use_cache = (
        computation_enabled
        and is_flag_enabled(FlagName.CACHE, user_id)
        and invalidation.is_cache_trusted()
    )
    if use_cache:
        limit, read = store.count_and_read_page(count, board, page.cache_field)
    else:
        limit, read = rate_limit(count), CacheRead(version=None)
    if limit is not None and not limit.admitted:
        raise RateLimitExceededError(limit.retry_after, limit.headers())

    if not computation_enabled:
        empty = empty_board(board)
        body = render_page(empty, page)
        return BoardPage(body, _content_etag(body, page, empty), cached=False, rate_limit=limit)

    started = time.perf_counter()
    scope = board.scope.value
    if read.is_page_hit:
        _count_read(scope, started, hit=True)
        return BoardPage(read.page or b"", _version_etag(read.version, page), True, limit)

    if read.version is None:
        document, from_cache = compute_board(board), False
    else:
        document, from_cache = _cached_or_computed(board, read.version)
    body = render_page(document, page)  # also refuses a draft to a non-staff viewer
    if read.version is not None:
        store.store_page(board, read.version, page.cache_field, body)
        etag = _version_etag(read.version, page)
    else:
        etag = _content_etag(body, page, document)
    _count_read(scope, started, hit=from_cache)
    return BoardPage(body, etag, from_cache, limit)


def _count_read(scope: str, started: float, *, hit: bool) -> None:
    (metrics.CACHE_HITS if hit else metrics.CACHE_MISSES).labels(scope=scope).inc()
    (cache_stats.record_hit if hit else cache_stats.record_miss)()
    metrics.SERVICE_LATENCY.labels(scope=scope, cached=str(hit).lower()).observe(
        time.perf_counter() - started
    )


def _version_etag(version: str | None, page: PageSpec) -> str:
    # The page field already hashes page, page_size and every other shaping input;
    # computation_enabled is always true for a versioned (cached) board.
    return f'"v-{version}-{page.cache_field[2:18]}-1"'


def _content_etag(body: bytes, page: PageSpec, document: BoardDocument | None = None) -> str:
    """The ETag of a page computed live (cache off or unreachable, computation off): a hash of
    what the page shows. `computed_at` is left out (it is new on every computation, and the ETag
    must change only when the board does); the page's shaping inputs are put in."""
    computed_at = document.header.get("computed_at") if document is not None else None
    if computed_at is not None:
        body = body.replace(f'"computed_at":"{computed_at}"'.encode(), b'"computed_at":null', 1)
    digest = hashlib.sha256(page.cache_field.encode() + b"\n" + body).hexdigest()[:32]
    return f'"b-{digest}"'


def _cached_or_computed(board: BoardRef, version: str) -> tuple[BoardDocument, bool]:
    """The board document under `version`: cached, or computed once across workers.

    Returns (document, came_from_cache). The first miss takes a short lock and computes; the
    others poll for its result for up to MISS_WAIT_SECONDS, then compute themselves.
    """
    raw = store.read_document(board, version)
    if raw is not None:
        return BoardDocument.decode(raw), True
    lock = store.try_lock(board)
    if lock is None:
        found = _wait_for_document(board, version)
        if found is not None:
            return found, True
        log.info("board_lock_wait_expired", board=board.name)
    try:
        document = compute_board(board)
        store.store_document(board, version, document.encode())
    finally:
        if lock is not None:
            store.release_lock(lock)
    log.info("board_computed", board=board.name, rows=len(document.rows))
    return document, False


def _wait_for_document(board: BoardRef, version: str) -> BoardDocument | None:
    deadline = time.monotonic() + MISS_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(MISS_POLL_SECONDS)
        raw = store.read_document(board, version)
        if raw is not None:
            return BoardDocument.decode(raw)
    return None
