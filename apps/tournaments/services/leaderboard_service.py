"""LeaderboardService: scope -> board page, with flags, the cache and metrics around it.

Flow of one read (contract sections 5 and 6):
1. The flags are evaluated for the requesting user before any cache access. Compute off: an
   empty board, built without touching the cache and never stored. Cache off: computed live.
2. One cache round trip reads the board's current version and the requested page's bytes.
   A hit returns them as they are. Over HTTP that read rides on the rate limit's round trip
   (`cache_rider`, asked for by the throttle after the flags are evaluated).
3. Otherwise the document is read or computed (one computation per board across workers: a
   short lock, the others wait up to 2 s for it), the page is cut from it and stored beside it.
4. Redis down or hanging: the cache answers "unknown" fast and the board comes from SQL.

The version read in step 2 happens before any SQL of step 3; the cache stores a document only
under the version current at store time, so a board computed before a commit is never served
after that commit's invalidation. The computation itself lives in `board_compute`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from apps.common.flags import is_flag_enabled
from apps.common.models import FlagName, User
from apps.common.redis_gateway import redis_client
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache import (
    MISS_POLL_SECONDS,
    MISS_WAIT_SECONDS,
    BoardRef,
    CacheRead,
    PageReadRider,
    Scope,
    board_store,
)
from apps.tournaments.services.board_compute import (
    compute_history_document,
    compute_scoped_document,
    compute_tournament_document,
    game_id_for,
    scoped_header,
    season_id_for,
    tournament_header,
    tournament_row,
)
from apps.tournaments.services.documents import (
    PageSpec,
    decode_document,
    empty_document,
    encode_document,
    render_page,
)
from apps.tournaments.services.errors import ParticipantNotFoundError
from apps.tournaments.utils import metrics

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PageResult:
    body: bytes
    etag: str
    computation_enabled: bool
    cached: bool


def _content_etag(body: bytes, document: dict[str, Any], spec: PageSpec) -> str:
    """The ETag of a page computed live (cache off or unreachable, computation off): a hash of
    what the page shows. `computed_at` is left out (it is new on every computation, and the
    ETag must only change when the board does), and the page's shaping inputs are put in."""
    computed_at = document["header"].get("computed_at")
    if computed_at is not None:
        stamp = b'"computed_at":' + json.dumps(computed_at).encode()
        body = body.replace(stamp, b'"computed_at":null', 1)
    digest = hashlib.sha256(spec.cache_field.encode() + b"\n" + body).hexdigest()[:32]
    return f'"b-{digest}"'


def _version_etag(version: str, spec: PageSpec) -> str:
    # The page field already hashes page, page_size and every other shaping input;
    # computation_enabled is always true for a versioned (cached) board.
    return f'"v-{version}-{spec.cache_field[2:18]}-1"'


class LeaderboardService:
    """Boards for one requesting user (flags are evaluated for that user)."""

    def __init__(self, *, user_id: int | None) -> None:
        self.user_id = user_id
        self.computation_enabled = is_flag_enabled(FlagName.COMPUTE, user_id)
        self.cache_enabled = is_flag_enabled(FlagName.CACHE, user_id)
        self._rider: PageReadRider | None = None

    def cache_rider(self, board: BoardRef, spec: PageSpec) -> PageReadRider | None:
        """A read of this board's page for the rate limit's Redis round trip to carry, or None
        when the page would not be read from Redis (a flag off, or no Redis)."""
        if not (self.computation_enabled and self.cache_enabled) or redis_client() is None:
            return None
        self._rider = PageReadRider(board, spec.cache_field)
        return self._rider

    def page(self, board: BoardRef, spec: PageSpec) -> PageResult:
        """The page of any board, by its reference (what the views call)."""
        match board.scope:
            case Scope.TOURNAMENT:
                return self._tournament_page(board, spec)
            case Scope.SEASON | Scope.ALL_TIME:
                return self._scoped_page(board, spec)
            case Scope.HISTORY:
                return self._history_page(board, spec)
        raise ValueError(f"unknown scope {board.scope!r}")

    # --- public reads by parameters -----------------------------------------------------------

    def tournament_page(self, tournament_id: int, spec: PageSpec) -> PageResult:
        return self.page(BoardRef(Scope.TOURNAMENT, tournament_id=tournament_id), spec)

    def season_page(
        self, season: str, game: str | None, participant_type: str, spec: PageSpec
    ) -> PageResult:
        board = BoardRef(Scope.SEASON, season=season, game=game, participant_type=participant_type)
        return self.page(board, spec)

    def all_time_page(self, game: str | None, participant_type: str, spec: PageSpec) -> PageResult:
        board = BoardRef(Scope.ALL_TIME, game=game, participant_type=participant_type)
        return self.page(board, spec)

    def history_page(self, user_id: int, spec: PageSpec) -> PageResult:
        return self.page(BoardRef(Scope.HISTORY, user_id=user_id), spec)

    def require_game(self, game: str) -> int:
        """The id of the game with this slug; InvalidParameterError (a 400) when there is none."""
        return game_id_for(game)

    # --- internals ----------------------------------------------------------------------------

    def _tournament_page(self, board: BoardRef, spec: PageSpec) -> PageResult:
        tournament_id = board.tournament_id
        assert tournament_id is not None
        if not self.computation_enabled:
            tournament = tournament_row(tournament_id)
            document = empty_document(
                tournament_header(tournament, computation_enabled=False), tournament["status"]
            )
            return self._uncomputed(document, spec)
        return self._serve(board, spec, lambda: compute_tournament_document(tournament_id))

    def _history_page(self, board: BoardRef, spec: PageSpec) -> PageResult:
        user_id = board.user_id
        assert user_id is not None
        if not self.computation_enabled:
            if not User.objects.filter(pk=user_id).exists():
                raise ParticipantNotFoundError(f"No participant with id {user_id}.")
            document = empty_document({"participant_id": user_id})
            return self._uncomputed(document, spec)
        return self._serve(board, spec, lambda: compute_history_document(user_id))

    def _scoped_page(self, board: BoardRef, spec: PageSpec) -> PageResult:
        """An unknown season is 404 and an unknown game 400 whatever the flags. The lookups run
        only when the board is computed: a cached board proves both existed (deleting a season
        or game invalidates its boards), so a cache hit costs no SQL."""

        def lookups() -> tuple[int | None, int | None]:
            season_id = season_id_for(board.season) if board.scope is Scope.SEASON else None
            game_id = game_id_for(board.game) if board.game else None
            return season_id, game_id

        if not self.computation_enabled:
            lookups()
            return self._uncomputed(
                empty_document(scoped_header(board, computation_enabled=False)), spec
            )
        return self._serve(board, spec, lambda: compute_scoped_document(board, *lookups()))

    def _uncomputed(self, document: dict[str, Any], spec: PageSpec) -> PageResult:
        body = render_page(document, spec)
        etag = _content_etag(body, document, spec)
        return PageResult(body, etag, computation_enabled=False, cached=False)

    def _serve(
        self, board: BoardRef, spec: PageSpec, compute: Callable[[], dict[str, Any]]
    ) -> PageResult:
        started = time.perf_counter()
        scope = board.scope.value
        read = None
        if self.cache_enabled:
            read = self._rider.take(board, spec.cache_field) if self._rider else None
            if read is None:
                read = board_store().read(board, spec.cache_field)
        if read is not None and read.version is not None and read.page is not None:
            metrics.CACHE_HITS.labels(scope=scope).inc()
            cache_stats.record_hit()
            metrics.SERVICE_LATENCY.labels(scope=scope, cached="true").observe(
                time.perf_counter() - started
            )
            return PageResult(read.page, _version_etag(read.version, spec), True, cached=True)

        if read is None or read.version is None:
            document, from_cache = compute(), False
        else:
            document, from_cache = read_or_compute_document(board, read, compute)
        body = render_page(document, spec)  # also refuses a draft to a non-staff viewer
        if read is not None and read.version is not None:
            board_store().store_page(board, read.version, spec.cache_field, body)
            etag = _version_etag(read.version, spec)
        else:
            etag = _content_etag(body, document, spec)
        counter = metrics.CACHE_HITS if from_cache else metrics.CACHE_MISSES
        counter.labels(scope=scope).inc()
        (cache_stats.record_hit if from_cache else cache_stats.record_miss)()
        metrics.SERVICE_LATENCY.labels(scope=scope, cached=str(from_cache).lower()).observe(
            time.perf_counter() - started
        )
        return PageResult(body, etag, True, cached=from_cache)


def read_or_compute_document(
    board: BoardRef, read: CacheRead, compute: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """The board document under `read.version`: cached, or computed once across workers.

    Returns (document, came_from_cache). The first miss takes a short lock and computes; the
    others poll for its result for up to MISS_WAIT_SECONDS, then compute themselves.
    """
    assert read.version is not None
    store = board_store()
    raw = store.read_document(board, read.version)
    if raw is not None:
        return decode_document(raw), True
    lock = store.try_lock(board)
    if lock is None:
        deadline = time.monotonic() + MISS_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(MISS_POLL_SECONDS)
            raw = store.read_document(board, read.version)
            if raw is not None:
                return decode_document(raw), True
        log.info("board_lock_wait_expired", board=board.name)
    try:
        document = compute()
        store.store_document(board, read.version, encode_document(document))
    finally:
        if lock is not None:
            store.release_lock(lock)
    log.info("board_computed", board=board.name, rows=len(document["rows"]))
    return document, False
