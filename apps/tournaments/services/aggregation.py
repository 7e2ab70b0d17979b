"""SQL: counted matches -> per-competitor totals, in a constant number of queries.

Each counted match (state `completed` or `forfeit`) is read twice, once per side, through a
`UNION ALL` of the participant1 and participant2 columns (joining both participant columns at
once would multiply rows and inflate every SUM); each side is grouped per registration before
anything is joined to it. The totals start from the confirmed registrations (LEFT JOIN), so a
competitor with no counted match still gets a row of zeros. Points are computed in SQL from each
registration's own tournament's points per win / draw / loss.

The SQL is written by hand because the ORM cannot aggregate over a UNION; it is plain SQL-92
that runs unchanged on PostgreSQL and SQLite. Every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from django.db import connection
from django.utils.dateparse import parse_datetime
from psycopg.types.datetime import TimestamptzLoader

from apps.tournaments.models import (
    BOARD_VISIBLE_STATUSES,
    COUNTED_MATCH_STATES,
    ParticipationType,
    RegistrationStatus,
)
from apps.tournaments.services.ranking import CompetitorTotals

_COUNTED = tuple(str(state) for state in COUNTED_MATCH_STATES)
_VISIBLE = tuple(str(status) for status in BOARD_VISIBLE_STATUSES)
_CONFIRMED = str(RegistrationStatus.CONFIRMED)

_SIDE_SELECT = """
    SELECT m.{me}_id AS registration_id,
           COUNT(*) AS played,
           SUM(CASE WHEN m.winner_id = m.{me}_id THEN 1 ELSE 0 END) AS won,
           SUM(CASE WHEN m.winner_id IS NULL THEN 1 ELSE 0 END) AS drawn,
           SUM(CASE WHEN m.winner_id = m.{them}_id THEN 1 ELSE 0 END) AS lost,
           SUM(m.score{me_n}) AS score_for,
           SUM(m.score{them_n}) AS score_against,
           MIN(CASE WHEN m.winner_id = m.{me}_id THEN m.completed_at END) AS won_at,
           MAX(m.completed_at) AS completed_at
    FROM tournaments_match m
    {join}
    WHERE {match_filter} AND m.state IN (%s, %s){completed_by}
    GROUP BY m.{me}_id
"""
# With an instant (a board "as of"): only the matches completed at or before it count.
_COMPLETED_BY = " AND m.completed_at <= %s"


def _sides_sql(
    match_filter: str, *, filters_on_tournament: bool = False, completed_by: bool = False
) -> str:
    """Both sides of every counted match, each aggregated per registration before the outer
    join: the join and the outer GROUP BY then see at most two rows per registration instead of
    one per match and side. `filters_on_tournament`: the filter names columns of `t`;
    `completed_by`: one more parameter, after the states, bounds `completed_at`."""
    join = (
        "JOIN tournaments_tournament t ON t.id = m.tournament_id" if filters_on_tournament else ""
    )
    shared = {
        "match_filter": match_filter,
        "join": join,
        "completed_by": _COMPLETED_BY if completed_by else "",
    }
    first = _SIDE_SELECT.format(me="participant1", them="participant2", me_n=1, them_n=2, **shared)
    second = _SIDE_SELECT.format(me="participant2", them="participant1", me_n=2, them_n=1, **shared)
    return f"{first} UNION ALL {second}"


def _side_params(params: Sequence[Any], completed_by: dt.datetime | None) -> list[Any]:
    """The parameters of one side of `_sides_sql`: the filter's, the states, the instant."""
    bound = [] if completed_by is None else [connection.ops.adapt_datetimefield_value(completed_by)]
    return [*params, *_COUNTED, *bound]


# Points come from the registration's own tournament (`t`, joined by the outer query).
_TOTAL_COLUMNS = """
    COALESCE(SUM(s.played), 0) AS matches_played,
    COALESCE(SUM(s.won * t.points_per_win + s.drawn * t.points_per_draw
                 + s.lost * t.points_per_loss), 0) AS points,
    COALESCE(SUM(s.won), 0) AS wins,
    COALESCE(SUM(s.drawn), 0) AS draws,
    COALESCE(SUM(s.lost), 0) AS losses,
    COALESCE(SUM(s.score_for), 0) AS score_for,
    COALESCE(SUM(s.score_against), 0) AS score_against,
    MIN(s.won_at) AS earliest_win_at,
    MAX(s.completed_at) AS last_updated_at
"""


def as_utc(value: Any) -> dt.datetime | None:
    """A database timestamp as an aware UTC datetime (SQLite returns text from raw SQL)."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"unreadable timestamp {value!r}")
        value = parsed
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def register_fast_loaders(cursor: Any) -> None:
    """On PostgreSQL, read this cursor's timestamps with psycopg's compiled loader.

    Django's timestamptz loader subclasses psycopg's pure-Python one, so the compiled loader of
    psycopg-binary never runs; registering psycopg's own class (which psycopg swaps for its
    compiled version) on this cursor only saves ~25 % of a board's fetch time
    (docs/performance.md). The values are the same: the session time zone is UTC, and `as_utc`
    normalises whatever comes back.
    """
    if connection.vendor == "postgresql":
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        register_fast_loaders(cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


def _competitor_totals(
    competitor_id: int,
    registration_id: int | None,
    tournaments_played: int,
    total_columns: Sequence[Any],
    seed: int | None = None,
) -> CompetitorTotals:
    """Totals from the `_TOTAL_COLUMNS` of one result row, in their order."""
    (
        matches_played,
        points,
        wins,
        draws,
        losses,
        score_for,
        score_against,
        earliest_win_at,
        last_updated_at,
    ) = total_columns
    return CompetitorTotals(
        competitor_id=competitor_id,
        registration_id=registration_id,
        points=int(points),
        wins=int(wins),
        draws=int(draws),
        losses=int(losses),
        matches_played=int(matches_played),
        score_for=int(score_for),
        score_against=int(score_against),
        earliest_win_at=as_utc(earliest_win_at),
        last_updated_at=as_utc(last_updated_at),
        tournaments_played=tournaments_played,
        seed=seed,
    )


@dataclass(frozen=True, slots=True)
class RegistrationTotals:
    """Totals of one registration in one tournament (tournament boards and histories)."""

    tournament_id: int
    totals: CompetitorTotals
    participant_id: int | None
    team_id: int | None


def _registration_totals(
    match_filter: str,
    registration_filter: str,
    params: Sequence[Any],
    side_params: Sequence[Any],
    completed_by: dt.datetime | None = None,
) -> list[RegistrationTotals]:
    sides = _sides_sql(match_filter, completed_by=completed_by is not None)
    sql = f"""
        WITH sides AS ({sides})
        SELECT r.id, r.tournament_id, r.user_id, r.team_id, r.seed, {_TOTAL_COLUMNS}
        FROM tournaments_registration r
        JOIN tournaments_tournament t ON t.id = r.tournament_id
        LEFT JOIN sides s ON s.registration_id = r.id
        WHERE {registration_filter} AND r.status = %s
        GROUP BY r.id, r.tournament_id, r.user_id, r.team_id, r.seed
    """  # noqa: S608 - only fixed SQL fragments are interpolated; values are parameters
    side = _side_params(side_params, completed_by)
    all_params = [*side, *side, *params, _CONFIRMED]
    result = []
    fetched = _fetch(sql, all_params)
    for registration_id, tournament_id, user_id, team_id, seed, *total_columns in fetched:
        competitor_id = user_id if user_id is not None else team_id
        totals = _competitor_totals(competitor_id, registration_id, 1, total_columns, seed)
        result.append(RegistrationTotals(tournament_id, totals, user_id, team_id))
    return result


def tournament_totals(
    tournament_id: int, completed_by: dt.datetime | None = None
) -> list[RegistrationTotals]:
    """One row per confirmed registration of the tournament (counting only the matches
    completed by `completed_by` when given). One query."""
    return _registration_totals(
        match_filter="m.tournament_id = %s",
        registration_filter="r.tournament_id = %s",
        params=[tournament_id],
        side_params=[tournament_id],
        completed_by=completed_by,
    )


# Only a team registration's roster counts: a roster stored on a solo registration (the import
# format does not forbid one) does not make its members play in that tournament.
# Two index lookups (the user's own registrations; the rosters naming the user) instead of one
# `user_id = %s OR id IN (...)` filter, which PostgreSQL can only evaluate by scanning every
# registration and then estimates at half the table (so it scans every match as well).
_USER_TOURNAMENTS = """
    SELECT r2.tournament_id FROM tournaments_registration r2
    WHERE r2.status = %s AND r2.user_id = %s
    UNION
    SELECT r3.tournament_id FROM tournaments_registration r3
    JOIN tournaments_registration_roster rr ON rr.registration_id = r3.id
    WHERE r3.status = %s AND rr.user_id = %s AND r3.team_id IS NOT NULL
"""


def totals_for_tournaments_of_user(user_id: int) -> list[RegistrationTotals]:
    """Every confirmed registration of every tournament where the user holds a confirmed
    registration (solo, or on a confirmed team's roster). One query, whatever the count."""
    user_params = [_CONFIRMED, user_id, _CONFIRMED, user_id]
    return _registration_totals(
        match_filter=f"m.tournament_id IN ({_USER_TOURNAMENTS})",
        registration_filter=f"r.tournament_id IN ({_USER_TOURNAMENTS})",
        params=user_params,
        side_params=user_params,
    )


def competitor_totals_across_tournaments(
    *,
    participant_type: str,
    season_id: int | None = None,
    game_id: int | None = None,
    completed_by: dt.datetime | None = None,
) -> list[CompetitorTotals]:
    """Season or all-time totals: summed per user (solo) or team (team) over every live or
    completed tournament of that type (and season, and game), counting only the matches
    completed by `completed_by` when given. One query."""
    competitor_column = "user_id" if participant_type == ParticipationType.SOLO else "team_id"
    conditions = ["t.status IN (%s, %s)", "t.participation_type = %s"]
    params: list[Any] = [*_VISIBLE, participant_type]
    if season_id is not None:
        conditions.append("t.season_id = %s")
        params.append(season_id)
    if game_id is not None:
        conditions.append("t.game_id = %s")
        params.append(game_id)
    tournament_filter = " AND ".join(conditions)
    sides = _sides_sql(
        tournament_filter, filters_on_tournament=True, completed_by=completed_by is not None
    )
    sql = f"""
        WITH sides AS ({sides})
        SELECT r.{competitor_column} AS competitor_id,
               COUNT(DISTINCT r.tournament_id) AS tournaments_played,
               {_TOTAL_COLUMNS}
        FROM tournaments_registration r
        JOIN tournaments_tournament t ON t.id = r.tournament_id
        LEFT JOIN sides s ON s.registration_id = r.id
        WHERE {tournament_filter} AND r.status = %s AND r.{competitor_column} IS NOT NULL
        GROUP BY r.{competitor_column}
    """  # noqa: S608 - only fixed SQL fragments are interpolated; values are parameters
    side = _side_params(params, completed_by)
    all_params = [*side, *side, *params, _CONFIRMED]
    return [
        _competitor_totals(competitor_id, None, int(tournaments_played), total_columns)
        for competitor_id, tournaments_played, *total_columns in _fetch(sql, all_params)
    ]


# (match id, tournament id, registration 1, registration 2, winner registration or None,
#  score 1, score 2): plain tuples, because a head-to-head board reads thousands of them and
#  keeps only the few a mini-table can use (board_compute.head_to_head_matches).
MatchRow: TypeAlias = tuple[int, int, int, int, int | None, int, int]


def counted_match_rows(
    tournament_ids: Sequence[int], completed_by: dt.datetime | None = None
) -> list[MatchRow]:
    """Every counted match of these tournaments (completed by `completed_by` when given),
    ascending by id, as tuples. One query."""
    if not tournament_ids:
        return []
    placeholders = ", ".join(["%s"] * len(tournament_ids))
    sql = f"""
        SELECT m.id, m.tournament_id, m.participant1_id, m.participant2_id, m.winner_id,
               m.score1, m.score2
        FROM tournaments_match m
        WHERE m.tournament_id IN ({placeholders}) AND m.state IN (%s, %s)
              {_COMPLETED_BY if completed_by is not None else ""}
        ORDER BY m.id
    """  # noqa: S608 - only placeholders are interpolated
    params = _side_params(tournament_ids, completed_by)
    return _fetch(sql, params)  # type: ignore[return-value]
