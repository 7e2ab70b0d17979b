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
after that commit's invalidation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.db.models import Q
from django.utils import timezone

from apps.common.flags import is_flag_enabled
from apps.common.models import FlagName, User
from apps.common.redis_gateway import redis_client
from apps.tournaments.models import (
    Game,
    ParticipationType,
    Registration,
    RegistrationStatus,
    Season,
    Tournament,
)
from apps.tournaments.services import aggregation, cache_stats
from apps.tournaments.services.board_cache import (
    MISS_POLL_SECONDS,
    MISS_WAIT_SECONDS,
    BoardRef,
    CacheRead,
    PageReadRider,
    Scope,
    board_store,
)
from apps.tournaments.services.documents import (
    PageSpec,
    decode_document,
    empty_document,
    encode_document,
    iso_utc,
    render_page,
)
from apps.tournaments.services.errors import (
    InvalidParameterError,
    ParticipantNotFoundError,
    SeasonNotFoundError,
    TournamentNotFoundError,
)
from apps.tournaments.services.ranking import (
    CompetitorTotals,
    HeadToHeadCriterion,
    HeadToHeadMatch,
    PointsScheme,
    Ranking,
    Ruleset,
    get_ruleset,
    rank_competitors,
)
from apps.tournaments.utils import metrics

log = structlog.get_logger(__name__)

SEASON_RULESET = "deltacrown-5step"
HEAD_TO_HEAD_STEP = "head_to_head"


@dataclass(frozen=True, slots=True)
class PageResult:
    body: bytes
    etag: str
    computation_enabled: bool
    cached: bool


def _body_etag(body: bytes) -> str:
    return '"b-' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _version_etag(version: str, spec: PageSpec) -> str:
    # The page field already hashes page, page_size and every other shaping input;
    # computation_enabled is always true for a versioned (cached) board.
    return f'"v-{version}-{spec.cache_field[2:18]}-1"'


def _uses_head_to_head(ruleset_name: str) -> bool:
    return any(
        criterion.name == HEAD_TO_HEAD_STEP for criterion in get_ruleset(ruleset_name).criteria
    )


def tournament_row(tournament_id: int) -> dict[str, Any]:
    """The fields a board needs of one tournament; TournamentNotFoundError when it is absent."""
    row = (
        Tournament.objects.filter(pk=tournament_id)
        .values(
            "id",
            "status",
            "participation_type",
            "tiebreak_ruleset",
            "points_per_win",
            "points_per_draw",
            "points_per_loss",
        )
        .first()
    )
    if row is None:
        raise TournamentNotFoundError(f"No tournament with id {tournament_id}.")
    return row


def _points_scheme(tournament: dict[str, Any]) -> PointsScheme:
    return PointsScheme(
        win=tournament["points_per_win"],
        draw=tournament["points_per_draw"],
        loss=tournament["points_per_loss"],
    )


def head_to_head_matches(
    ruleset: Ruleset,
    registration_totals: Sequence[aggregation.RegistrationTotals],
    match_rows: Sequence[aggregation.MatchRow],
    tournament_id: int,
) -> list[HeadToHeadMatch]:
    """The matches of this tournament a mini-table can use, as HeadToHeadMatch objects.

    A mini-table only spans rows that every criterion before head-to-head left tied, and only
    counts matches between its members; so a match whose two sides differ on those criteria
    (on a typical board, nearly all of them) can never count and is not built. The ranking is
    the same as with every match (tested); a 256 / 8,000 board builds a few dozen, not 8,000.
    """
    before: list[Any] = []
    for criterion in ruleset.criteria:
        if isinstance(criterion, HeadToHeadCriterion):
            break
        before.append(criterion)
    tie_key = {
        each.totals.registration_id: tuple(criterion.value(each.totals) for criterion in before)
        for each in registration_totals
    }
    kept = []
    for _, match_tournament, first, second, winner, score1, score2 in match_rows:
        if match_tournament != tournament_id:
            continue
        key = tie_key.get(first)
        if key is not None and key == tie_key.get(second):
            kept.append(HeadToHeadMatch(first, second, winner, score1, score2))
    return kept


def rank_tournament(
    tournament: dict[str, Any],
    registration_totals: Sequence[aggregation.RegistrationTotals],
    match_rows: Sequence[aggregation.MatchRow] = (),
) -> Ranking:
    """Rank one tournament's registrations with its own ruleset and points. `match_rows` may
    hold other tournaments' matches too (the history board reads them all at once)."""
    ruleset = get_ruleset(tournament["tiebreak_ruleset"])
    matches = (
        head_to_head_matches(ruleset, registration_totals, match_rows, tournament["id"])
        if ruleset.uses_head_to_head
        else []
    )
    return rank_competitors(
        [each.totals for each in registration_totals],
        ruleset,
        head_to_head_matches=matches,
        points=_points_scheme(tournament),
    )


def _board_row(
    totals: CompetitorTotals,
    rank: int,
    decided_by: str | None,
    participant_id: int | None,
    team_id: int | None,
) -> dict[str, Any]:
    return {
        "rank": rank,
        "participant_id": participant_id,
        "team_id": team_id,
        "registration_id": totals.registration_id,
        "points": totals.points,
        "wins": totals.wins,
        "draws": totals.draws,
        "losses": totals.losses,
        "matches_played": totals.matches_played,
        "score_for": totals.score_for,
        "score_against": totals.score_against,
        "earliest_win_at": iso_utc(totals.earliest_win_at),
        "last_updated_at": iso_utc(totals.last_updated_at),
        "decided_by": decided_by,
    }


def compute_tournament_document(tournament_id: int) -> dict[str, Any]:
    """The full board of one tournament. 2 queries (3 with the head-to-head ruleset)."""
    tournament = tournament_row(tournament_id)
    registration_totals = aggregation.tournament_totals(tournament_id)
    matches = (
        aggregation.counted_match_rows([tournament_id])
        if _uses_head_to_head(tournament["tiebreak_ruleset"])
        else []
    )
    ranking = rank_tournament(tournament, registration_totals, matches)
    by_registration = {each.totals.registration_id: each for each in registration_totals}
    rows = []
    for ranked in ranking.rows:
        registration = by_registration[ranked.totals.registration_id]
        rows.append(
            _board_row(
                ranked.totals,
                ranked.rank,
                ranked.decided_by,
                registration.participant_id,
                registration.team_id,
            )
        )
    return {
        "header": _tournament_header(tournament, computation_enabled=True),
        "rows": rows,
        "tournament_status": tournament["status"],
    }


def _tournament_header(tournament: dict[str, Any], *, computation_enabled: bool) -> dict:
    return {
        "tournament_id": tournament["id"],
        "participant_type": tournament["participation_type"],
        "ruleset": tournament["tiebreak_ruleset"],
        "computed_at": iso_utc(timezone.now()),
        "computation_enabled": computation_enabled,
    }


def _scoped_header(board: BoardRef, *, computation_enabled: bool) -> dict[str, Any]:
    header: dict[str, Any] = {"scope": board.scope.value}
    if board.scope is Scope.SEASON:
        header["season"] = board.season
    header.update(
        {
            "tournament_id": None,
            "participant_type": board.participant_type,
            "ruleset": SEASON_RULESET,
            "computed_at": iso_utc(timezone.now()),
            "computation_enabled": computation_enabled,
        }
    )
    return header


def compute_scoped_document(board: BoardRef, season_id: int | None, game_id: int | None) -> dict:
    """A season or all-time board. One query (after the season and game lookups)."""
    totals = aggregation.competitor_totals_across_tournaments(
        participant_type=board.participant_type or ParticipationType.SOLO,
        season_id=season_id,
        game_id=game_id,
    )
    ranking = rank_competitors(totals, get_ruleset(SEASON_RULESET))
    is_solo = board.participant_type == ParticipationType.SOLO
    rows = []
    for ranked in ranking.rows:
        competitor_id = ranked.totals.competitor_id
        row = _board_row(
            ranked.totals,
            ranked.rank,
            ranked.decided_by,
            competitor_id if is_solo else None,
            None if is_solo else competitor_id,
        )
        row["tournaments_played"] = ranked.totals.tournaments_played
        rows.append(row)
    return {
        "header": _scoped_header(board, computation_enabled=True),
        "rows": rows,
        "tournament_status": None,
    }


def compute_history_document(user_id: int) -> dict[str, Any]:
    """Every tournament where the user holds a confirmed registration (solo or on a confirmed
    team's roster), with rank and field size on that tournament's board. 4-5 queries,
    whatever the number of tournaments."""
    if not User.objects.filter(pk=user_id).exists():
        raise ParticipantNotFoundError(f"No participant with id {user_id}.")
    registration_totals = aggregation.totals_for_tournaments_of_user(user_id)
    tournament_ids = sorted({each.tournament_id for each in registration_totals})
    tournaments = {
        row["id"]: row
        for row in Tournament.objects.filter(pk__in=tournament_ids).values(
            "id",
            "status",
            "participation_type",
            "tiebreak_ruleset",
            "points_per_win",
            "points_per_draw",
            "points_per_loss",
            "starts_at",
            "ends_at",
        )
    }
    own_registration_ids = set(
        Registration.objects.filter(status=RegistrationStatus.CONFIRMED)
        .filter(Q(user_id=user_id) | Q(roster__id=user_id))
        .values_list("id", flat=True)
    )
    head_to_head_ids = [
        tournament_id
        for tournament_id, row in tournaments.items()
        if _uses_head_to_head(row["tiebreak_ruleset"])
    ]
    matches = aggregation.counted_match_rows(head_to_head_ids)
    per_tournament: dict[int, list[aggregation.RegistrationTotals]] = {}
    for each in registration_totals:
        per_tournament.setdefault(each.tournament_id, []).append(each)

    items: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for tournament_id, members in per_tournament.items():
        tournament = tournaments[tournament_id]
        ranking = rank_tournament(tournament, members, matches)
        team_of = {each.totals.registration_id: each.team_id for each in members}
        for ranked in ranking.rows:
            registration_id = ranked.totals.registration_id
            if registration_id not in own_registration_ids:
                continue
            starts_at: dt.datetime | None = tournament["starts_at"]
            order = (
                starts_at is None,
                -(starts_at.timestamp()) if starts_at else 0.0,
                -tournament_id,
                registration_id,
            )
            items.append(
                (
                    order,
                    {
                        "tournament_id": tournament_id,
                        "team_id": team_of[registration_id],
                        "registration_id": registration_id,
                        "rank": ranked.rank,
                        "field_size": len(ranking.rows),
                        "points": ranked.totals.points,
                        "wins": ranked.totals.wins,
                        "draws": ranked.totals.draws,
                        "losses": ranked.totals.losses,
                        "matches_played": ranked.totals.matches_played,
                        "tournament_status": tournament["status"],
                        "tournament_ended_at": iso_utc(tournament["ends_at"]),
                    },
                )
            )
    items.sort(key=lambda item: item[0])
    return {
        "header": {"participant_id": user_id, "computation_enabled": True},
        "rows": [row for _, row in items],
        "tournament_status": None,
    }


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
        """The page of any board, by its reference."""
        match board.scope:
            case Scope.TOURNAMENT:
                assert board.tournament_id is not None
                return self.tournament_page(board.tournament_id, spec)
            case Scope.SEASON:
                assert board.season is not None and board.participant_type is not None
                return self.season_page(board.season, board.game, board.participant_type, spec)
            case Scope.ALL_TIME:
                assert board.participant_type is not None
                return self.all_time_page(board.game, board.participant_type, spec)
            case Scope.HISTORY:
                assert board.user_id is not None
                return self.history_page(board.user_id, spec)
        raise ValueError(f"unknown scope {board.scope!r}")

    # --- public reads -------------------------------------------------------------------------

    def tournament_page(self, tournament_id: int, spec: PageSpec) -> PageResult:
        board = BoardRef(Scope.TOURNAMENT, tournament_id=tournament_id)
        if not self.computation_enabled:
            tournament = tournament_row(tournament_id)
            document = empty_document(
                _tournament_header(tournament, computation_enabled=False), tournament["status"]
            )
            return self._uncomputed(document, spec)
        return self._serve(board, spec, lambda: compute_tournament_document(tournament_id))

    def season_page(
        self, season: str, game: str | None, participant_type: str, spec: PageSpec
    ) -> PageResult:
        board = BoardRef(Scope.SEASON, season=season, game=game, participant_type=participant_type)
        return self._scoped_page(board, spec)

    def all_time_page(self, game: str | None, participant_type: str, spec: PageSpec) -> PageResult:
        board = BoardRef(Scope.ALL_TIME, game=game, participant_type=participant_type)
        return self._scoped_page(board, spec)

    def history_page(self, user_id: int, spec: PageSpec) -> PageResult:
        board = BoardRef(Scope.HISTORY, user_id=user_id)
        if not self.computation_enabled:
            if not User.objects.filter(pk=user_id).exists():
                raise ParticipantNotFoundError(f"No participant with id {user_id}.")
            document = empty_document({"participant_id": user_id})
            return self._uncomputed(document, spec)
        return self._serve(board, spec, lambda: compute_history_document(user_id))

    def require_game(self, game: str) -> int:
        """The id of the game with this slug; InvalidParameterError (a 400) when there is none."""
        return _game_id(game)

    # --- internals ----------------------------------------------------------------------------

    def _scoped_page(self, board: BoardRef, spec: PageSpec) -> PageResult:
        """An unknown season is 404 and an unknown game 400 whatever the flags. The lookups run
        only when the board is computed: a cached board proves both existed (deleting a season
        or game invalidates its boards), so a cache hit costs no SQL."""

        def lookups() -> tuple[int | None, int | None]:
            season_id = _season_id(board.season) if board.scope is Scope.SEASON else None
            game_id = _game_id(board.game) if board.game else None
            return season_id, game_id

        if not self.computation_enabled:
            lookups()
            return self._uncomputed(
                empty_document(_scoped_header(board, computation_enabled=False)), spec
            )
        return self._serve(board, spec, lambda: compute_scoped_document(board, *lookups()))

    def _uncomputed(self, document: dict[str, Any], spec: PageSpec) -> PageResult:
        body = render_page(document, spec)
        return PageResult(body, _body_etag(body), computation_enabled=False, cached=False)

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
            etag = _body_etag(body)
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


def _season_id(slug: str | None) -> int:
    season_id = Season.objects.filter(slug=slug).values_list("id", flat=True).first()
    if season_id is None:
        raise SeasonNotFoundError(f"No season with slug {slug!r}.")
    return season_id


def _game_id(slug: str) -> int:
    game_id = Game.objects.filter(slug=slug).values_list("id", flat=True).first()
    if game_id is None:
        known = sorted(Game.objects.values_list("slug", flat=True))
        raise InvalidParameterError("game", f"Unknown game {slug!r}; known games: {known}.")
    return game_id
