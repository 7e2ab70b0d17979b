"""Reading a board page: `read_board_page`, the one call every board view makes.

The path of one read (contract sections 5 and 6):
1. The flags are evaluated for the requesting user, before any cache access. Compute off: an
   empty board, built without touching the cache, never stored. Cache off (or this process
   knows of an invalidation it could not apply yet): computed live, nothing read or stored.
2. One Redis round trip counts the request against its rate limit and reads the board's current
   version and the requested page (`store.count_and_read_page`). Over budget: 429, nothing more.
   A cached page under the current version is returned as it is: bytes, ETag from the version.
3. Otherwise the document is read or computed (once across workers: a short lock, the others
   wait up to 2 s for it), the page is cut from it and stored beside it. A board "as of" an
   instant is its own document in the same hash (`doc@<instant>`), read and computed the same
   way; a page with movement (`compare_to`) reads a second document, the board at that instant.
   A window around a competitor or a list of competitors is cut from the same documents as a
   page: a slice, not a recomputation.
4. Redis failing or hanging: the cache answers "unknown" fast (circuit breaker), the rate limit
   lets the request through, and the board comes from SQL.

The version read in step 2 happens before any SQL of step 3, and a document is stored only under
the version current at store time, so a board computed before a commit is never served after that
commit's invalidation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass

import structlog

from apps.common import metrics
from apps.common.errors import RateLimitExceededError
from apps.common.flags import is_flag_enabled
from apps.common.models import FlagName
from apps.common.rate_limits import RateLimitCount, RateLimitResult, rate_limit
from apps.tournaments.boards import BoardRef, Scope
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache import invalidation, store
from apps.tournaments.services.board_cache.keys import (
    MISS_POLL_SECONDS,
    MISS_WAIT_SECONDS,
    CacheRead,
    document_field,
)
from apps.tournaments.services.board_compute import compute_board, empty_board, team_of_member
from apps.tournaments.services.board_documents import (
    TEAM,
    BoardDocument,
    PageSpec,
    refuse_hidden,
    render_page,
)

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
        refuse_hidden(empty, page)
        me = _me_on_board(board, empty, user_id) if page.around_me else None
        body = render_page(empty, page, previous=empty, me=me)
        return BoardPage(body, _content_etag(body, page, empty), cached=False, rate_limit=limit)

    started = time.perf_counter()
    scope = board.scope.value
    if read.is_page_hit:
        _count_read(scope, started, hit=True)
        return BoardPage(read.page or b"", _version_etag(read.version, page), True, limit)

    document, from_cache = _document(board, read.version, page.as_of)
    refuse_hidden(document, page)  # a draft's board is a 404 for a non-staff viewer
    previous = (
        _document(board, read.version, page.compare_to)[0] if page.compare_to is not None else None
    )
    me = _me_on_board(board, document, user_id) if page.around_me else None
    body = render_page(document, page, previous=previous, me=me)
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


def _document(
    board: BoardRef, version: str | None, as_of: dt.datetime | None
) -> tuple[BoardDocument, bool]:
    """The board now (or as of an instant): cached under `version`, else computed (and stored);
    with no version (the cache off or unreachable), computed. Returns (document, from_cache)."""
    if version is None:
        return compute_board(board, as_of), False
    return _cached_or_computed(board, version, as_of)


def _cached_or_computed(
    board: BoardRef, version: str, as_of: dt.datetime | None = None
) -> tuple[BoardDocument, bool]:
    """A document of the board under `version`: cached, or computed once across workers.

    Returns (document, came_from_cache). The first miss takes a short lock and computes; the
    others poll for its result for up to MISS_WAIT_SECONDS, then compute themselves.
    """
    field = document_field(as_of)
    raw = store.read_document(board, version, field)
    if raw is not None:
        return BoardDocument.decode(raw), True
    lock = store.try_lock(board, field)
    if lock is None:
        found = _wait_for_document(board, version, field)
        if found is not None:
            return found, True
        log.info("board_lock_wait_expired", board=board.name, document=field)
    try:
        document = compute_board(board, as_of)
        store.store_document(board, version, document.encode(), field)
    finally:
        if lock is not None:
            store.release_lock(lock)
    log.info("board_computed", board=board.name, document=field, rows=len(document.rows))
    return document, False


def _wait_for_document(board: BoardRef, version: str, field: str) -> BoardDocument | None:
    deadline = time.monotonic() + MISS_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(MISS_POLL_SECONDS)
        raw = store.read_document(board, version, field)
        if raw is not None:
            return BoardDocument.decode(raw)
    return None


def _me_on_board(board: BoardRef, document: BoardDocument, user_id: int) -> int | None:
    """The caller's competitor id on this board: their user id, or on a tournament's team board
    the team of the confirmed registration whose roster holds them (one query; None when no
    roster does). Scoped team boards refuse `me` before this (the view)."""
    if board.scope is not Scope.TOURNAMENT or document.header.get("participant_type") != TEAM:
        return user_id
    return team_of_member(int(board.tournament_id or 0), user_id)
