"""Computing a board document from SQL: the tournament, season / all-time and history boards.

What a cache miss runs (`leaderboard_service.read_board_page` decides when): `compute_board`.
Each board makes a constant number of queries whatever its size (tested), ranks a tournament
board with the tournament's own ruleset and points (season and all-time boards with
`deltacrown-5step` over each tournament's points), and returns a `BoardDocument`
(`board_documents.py` renders pages from it). `empty_board` is the same board with computation
off: no rows, but the same 404s for what does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.common.errors import InvalidInputError, quoted
from apps.common.models import User
from apps.common.timestamps import iso_utc
from apps.tournaments.boards import BoardRef, Scope
from apps.tournaments.errors import (
    ParticipantNotFoundError,
    SeasonNotFoundError,
    TournamentNotFoundError,
)
from apps.tournaments.models import (
    BOARD_VISIBLE_STATUSES,
    Game,
    ParticipationType,
    Registration,
    RegistrationStatus,
    Season,
    Tournament,
    TournamentStatus,
)
from apps.tournaments.services import aggregation
from apps.tournaments.services.board_documents import (
    BoardDocument,
    BoardHeader,
    BoardRow,
    HistoryRow,
)
from apps.tournaments.services.ranking import (
    CompetitorTotals,
    CountedMatch,
    HeadToHeadCriterion,
    PointsScheme,
    Ranking,
    Ruleset,
    get_ruleset,
    rank_competitors,
)

SEASON_RULESET = "deltacrown-5step"


def reads_matches(ruleset_name: str) -> bool:
    """Whether ranking under this ruleset needs the tournament's counted matches (head-to-head,
    and the Swiss rulesets' opponent criteria): one more query."""
    return get_ruleset(ruleset_name).reads_matches


# The fields of a tournament that ranking it needs (its ruleset and points scheme, and what
# the board's header shows).
TOURNAMENT_FIELDS = (
    "id",
    "status",
    "participation_type",
    "tiebreak_ruleset",
    "points_per_win",
    "points_per_draw",
    "points_per_loss",
)


def tournament_row(tournament_id: int) -> dict[str, Any]:
    """The fields a board needs of one tournament; TournamentNotFoundError when it is absent."""
    row = Tournament.objects.filter(pk=tournament_id).values(*TOURNAMENT_FIELDS).first()
    if row is None:
        raise TournamentNotFoundError.for_id(tournament_id)
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
) -> list[CountedMatch]:
    """The matches of this tournament a mini-table can use, as CountedMatch objects.

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
            kept.append(CountedMatch(first, second, winner, score1, score2))
    return kept


def rank_tournament(
    tournament: dict[str, Any],
    registration_totals: Sequence[aggregation.RegistrationTotals],
    match_rows: Sequence[aggregation.MatchRow] = (),
) -> Ranking:
    """Rank one tournament's registrations with its own ruleset and points. `match_rows` may
    hold other tournaments' matches too (the history board reads them all at once). A Swiss
    ruleset weighs every opponent, so it gets all the tournament's matches; head-to-head only
    the few a mini-table can use."""
    ruleset = get_ruleset(tournament["tiebreak_ruleset"])
    matches: list[CountedMatch] = []
    if ruleset.uses_opponents:
        matches = [
            CountedMatch(first, second, winner, score1, score2)
            for _, match_tournament, first, second, winner, score1, score2 in match_rows
            if match_tournament == tournament["id"]
        ]
    elif ruleset.uses_head_to_head:
        matches = head_to_head_matches(ruleset, registration_totals, match_rows, tournament["id"])
    return rank_competitors(
        [each.totals for each in registration_totals],
        ruleset,
        matches=matches,
        points=_points_scheme(tournament),
    )


def _board_row(
    totals: CompetitorTotals,
    rank: int,
    decided_by: str | None,
    participant_id: int | None,
    team_id: int | None,
) -> BoardRow:
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


def tournament_header(tournament: dict[str, Any], *, computation_enabled: bool) -> BoardHeader:
    return {
        "tournament_id": tournament["id"],
        "participant_type": tournament["participation_type"],
        "ruleset": tournament["tiebreak_ruleset"],
        "computed_at": iso_utc(timezone.now()),
        "computation_enabled": computation_enabled,
        "is_final": tournament["status"] == TournamentStatus.COMPLETED,
    }


def scoped_header(
    board: BoardRef, lookups: ScopeLookups, *, computation_enabled: bool
) -> BoardHeader:
    header: BoardHeader = {"scope": board.scope.value}
    if board.scope is Scope.SEASON:
        header["season"] = str(board.season)
    header.update(
        {
            "tournament_id": None,
            "participant_type": str(board.participant_type),
            "ruleset": SEASON_RULESET,
            "computed_at": iso_utc(timezone.now()),
            "computation_enabled": computation_enabled,
            "is_final": _is_final(board, lookups),
        }
    )
    return header


def _is_final(board: BoardRef, lookups: ScopeLookups) -> bool:
    """A season board is final once its season has ended (`ends_on` in the past; without one,
    never) and every tournament counted on it is completed; an all-time board never is."""
    if board.scope is not Scope.SEASON or lookups.season_ends_on is None:
        return False
    if lookups.season_ends_on >= timezone.now().date():
        return False
    counted = Tournament.objects.filter(
        season_id=lookups.season_id,
        participation_type=board.participant_type or ParticipationType.SOLO,
        status__in=BOARD_VISIBLE_STATUSES,
    )
    if lookups.game_id is not None:
        counted = counted.filter(game_id=lookups.game_id)
    return not counted.exclude(status=TournamentStatus.COMPLETED).exists()


def _tournament_document(tournament_id: int, as_of: dt.datetime | None) -> BoardDocument:
    """The full board of one tournament (as of an instant: only the matches completed by
    then). 2 queries (3 with the head-to-head ruleset)."""
    tournament = tournament_row(tournament_id)
    registration_totals = aggregation.tournament_totals(tournament_id, as_of)
    matches = (
        aggregation.counted_match_rows([tournament_id], as_of)
        if reads_matches(tournament["tiebreak_ruleset"])
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
    header = tournament_header(tournament, computation_enabled=True)
    return BoardDocument(header, rows, tournament["status"])


def _scoped_document(board: BoardRef, as_of: dt.datetime | None) -> BoardDocument:
    """A season or all-time board (as of an instant: only the matches completed by then). One
    query after the season and game lookups (and one for `is_final` of an ended season)."""
    lookups = _scope_lookups(board)
    totals = aggregation.competitor_totals_across_tournaments(
        participant_type=board.participant_type or ParticipationType.SOLO,
        season_id=lookups.season_id,
        game_id=lookups.game_id,
        completed_by=as_of,
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
    return BoardDocument(scoped_header(board, lookups, computation_enabled=True), rows)


def team_of_member(tournament_id: int, user_id: int) -> int | None:
    """The team whose confirmed registration in this tournament has the user on its roster
    (the lowest id should there be several), or None. One query."""
    return (
        Registration.objects.filter(
            tournament_id=tournament_id,
            status=RegistrationStatus.CONFIRMED,
            team__isnull=False,
            roster__id=user_id,
        )
        .order_by("team_id")
        .values_list("team_id", flat=True)
        .first()
    )


def _require_user(user_id: int) -> None:
    if not User.objects.filter(pk=user_id).exists():
        raise ParticipantNotFoundError(f"No participant with id {user_id}.")


def _history_document(user_id: int) -> BoardDocument:
    """Every tournament where the user holds a confirmed registration (solo or on a confirmed
    team's roster), with rank and field size on that tournament's board. 4-5 queries,
    whatever the number of tournaments."""
    _require_user(user_id)
    registration_totals = aggregation.totals_for_tournaments_of_user(user_id)
    tournament_ids = sorted({each.tournament_id for each in registration_totals})
    tournaments = {
        row["id"]: row
        for row in Tournament.objects.filter(pk__in=tournament_ids).values(
            *TOURNAMENT_FIELDS, "starts_at", "ends_at"
        )
    }
    own_registration_ids = set(
        Registration.objects.filter(status=RegistrationStatus.CONFIRMED)
        .filter(Q(user_id=user_id) | Q(roster__id=user_id, team__isnull=False))
        .values_list("id", flat=True)
    )
    head_to_head_ids = [
        tournament_id
        for tournament_id, row in tournaments.items()
        if reads_matches(row["tiebreak_ruleset"])
    ]
    matches = aggregation.counted_match_rows(head_to_head_ids)
    per_tournament: dict[int, list[aggregation.RegistrationTotals]] = {}
    for each in registration_totals:
        per_tournament.setdefault(each.tournament_id, []).append(each)

    items: list[tuple[tuple[Any, ...], HistoryRow]] = []
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
    header: BoardHeader = {"participant_id": user_id, "computation_enabled": True}
    return BoardDocument(header, [row for _, row in items])


def compute_board(board: BoardRef, as_of: dt.datetime | None = None) -> BoardDocument:
    """The full document of any board: as the records stand now, or (`as_of`, tournament and
    scoped boards) counting only the matches completed by that instant. Raises the board's
    not-found error (or a 400 for an unknown game) when what it names does not exist."""
    match board.scope:
        case Scope.TOURNAMENT:
            return _tournament_document(int(board.tournament_id or 0), as_of)
        case Scope.SEASON | Scope.ALL_TIME:
            return _scoped_document(board, as_of)
        case Scope.HISTORY:
            return _history_document(int(board.user_id or 0))
    raise ValueError(f"unknown scope {board.scope!r}")


def empty_board(board: BoardRef) -> BoardDocument:
    """The board with computation off: no rows, computed nowhere, but a missing tournament,
    season or user is still a 404 and an unknown game a 400."""
    match board.scope:
        case Scope.TOURNAMENT:
            tournament = tournament_row(int(board.tournament_id or 0))
            header = tournament_header(tournament, computation_enabled=False)
            return BoardDocument.empty(header, tournament["status"])
        case Scope.SEASON | Scope.ALL_TIME:
            lookups = _scope_lookups(board)
            return BoardDocument.empty(scoped_header(board, lookups, computation_enabled=False))
        case Scope.HISTORY:
            _require_user(int(board.user_id or 0))
            return BoardDocument.empty({"participant_id": int(board.user_id or 0)})
    raise ValueError(f"unknown scope {board.scope!r}")


@dataclass(frozen=True, slots=True)
class ScopeLookups:
    season_id: int | None = None
    season_ends_on: dt.date | None = None
    game_id: int | None = None


def _scope_lookups(board: BoardRef) -> ScopeLookups:
    """The season (id, end) and game id of a season or all-time board: an unknown season is a
    404 and an unknown game a 400, whatever the flags. They run only when the board is computed:
    a cached board proves both existed (renaming or deleting a season or game, or changing a
    season's end, invalidates its boards)."""
    season_id, ends_on = season_for(board.season) if board.scope is Scope.SEASON else (None, None)
    game_id = game_id_for(board.game) if board.game else None
    return ScopeLookups(season_id, ends_on, game_id)


def season_for(slug: str | None) -> tuple[int, dt.date | None]:
    """The id and `ends_on` of the season with this slug; SeasonNotFoundError otherwise."""
    season = Season.objects.filter(slug=slug).values_list("id", "ends_on").first()
    if season is None:
        raise SeasonNotFoundError(f"No season with slug {quoted(slug)}.")
    return season


def game_id_for(slug: str) -> int:
    """The id of the game with this slug; a 400 naming `game` (and the known slugs) otherwise."""
    game_id = Game.objects.filter(slug=slug).values_list("id", flat=True).first()
    if game_id is None:
        known = ", ".join(sorted(Game.objects.values_list("slug", flat=True)))
        raise InvalidInputError({"game": [f"Unknown game {quoted(slug)}; known games: {known}."]})
    return game_id
