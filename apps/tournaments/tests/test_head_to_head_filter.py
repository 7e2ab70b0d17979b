"""A head-to-head board builds only the matches a mini-table can use, and ranks the same."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.tournaments.services.aggregation import RegistrationTotals
from apps.tournaments.services.board_compute import head_to_head_matches, rank_tournament
from apps.tournaments.services.ranking import (
    CompetitorTotals,
    CountedMatch,
    PointsScheme,
    get_ruleset,
    rank_competitors,
)

TOURNAMENT_ID = 7
OTHER_TOURNAMENT_ID = 8
TOURNAMENT = {
    "id": TOURNAMENT_ID,
    "tiebreak_ruleset": "head-to-head",
    "points_per_win": 3,
    "points_per_draw": 1,
    "points_per_loss": 0,
}


def _registration(registration_id: int, points: int, score_for: int) -> RegistrationTotals:
    totals = CompetitorTotals(
        competitor_id=100 + registration_id,
        registration_id=registration_id,
        points=points,
        wins=points // 3,
        draws=points % 3,
        losses=0,
        matches_played=points // 3 + points % 3,
        score_for=score_for,
        score_against=2,
        earliest_win_at=None,
        last_updated_at=None,
    )
    return RegistrationTotals(TOURNAMENT_ID, totals, participant_id=registration_id, team_id=None)


@st.composite
def boards(draw: st.DrawFn) -> tuple[list[RegistrationTotals], list[tuple]]:
    size = draw(st.integers(min_value=2, max_value=9))
    # few distinct points and scores, so ties (and head-to-head splits) are common
    registrations = [
        _registration(
            registration_id,
            draw(st.sampled_from([0, 3, 4, 6])),
            draw(st.integers(min_value=0, max_value=2)),
        )
        for registration_id in range(1, size + 1)
    ]
    pairs = st.tuples(
        st.integers(min_value=1, max_value=size + 1),  # size + 1: a side not on the board
        st.integers(min_value=1, max_value=size + 1),
    ).filter(lambda pair: pair[0] != pair[1])
    rows = []
    for match_id, (first, second) in enumerate(draw(st.lists(pairs, max_size=30)), start=1):
        winner = draw(st.sampled_from([first, second, None]))
        tournament_id = draw(st.sampled_from([TOURNAMENT_ID, TOURNAMENT_ID, OTHER_TOURNAMENT_ID]))
        rows.append((match_id, tournament_id, first, second, winner, 1, 0))
    return registrations, rows


@settings(max_examples=300, deadline=None)
@given(boards())
def test_filtered_matches_rank_exactly_as_all_matches(board) -> None:
    registrations, rows = board
    on_board = {each.totals.registration_id for each in registrations}
    every_match = [
        CountedMatch(first, second, winner, score1, score2)
        for _, tournament_id, first, second, winner, score1, score2 in rows
        if tournament_id == TOURNAMENT_ID and first in on_board and second in on_board
    ]

    expected = rank_competitors(
        [each.totals for each in registrations],
        get_ruleset("head-to-head"),
        matches=every_match,
        points=PointsScheme(3, 1, 0),
    )

    assert rank_tournament(TOURNAMENT, registrations, rows) == expected


def test_only_matches_between_sides_level_on_points_are_built() -> None:
    registrations = [_registration(1, 6, 0), _registration(2, 6, 0), _registration(3, 3, 0)]
    rows = [
        (1, TOURNAMENT_ID, 1, 2, 1, 2, 1),  # level on 6 points: kept
        (2, TOURNAMENT_ID, 1, 3, 1, 2, 0),  # 6 against 3: no mini-table holds both
        (3, TOURNAMENT_ID, 2, 9, None, 0, 0),  # 9 is not on the board
        (4, OTHER_TOURNAMENT_ID, 1, 2, 2, 0, 1),  # another tournament's match
    ]

    kept = head_to_head_matches(get_ruleset("head-to-head"), registrations, rows, TOURNAMENT_ID)

    assert kept == [CountedMatch(1, 2, 1, 2, 1)]
