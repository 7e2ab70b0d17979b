"""The ranking core (contract section 3) on hand-worked boards and hypothesis properties.

Pure: every test builds frozen dataclasses; no database, no Django import in the code under test.
Tournament rows use registration ids 100 + competitor id unless a test says otherwise, so a
mix-up between the two kinds of id shows.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.tournaments.models import TiebreakRuleset
from apps.tournaments.services.ranking import (
    DELTACROWN_5STEP,
    EARLIEST_WIN,
    HEAD_TO_HEAD_RULESET,
    IDENTITY_STEP,
    RULESETS,
    WINS,
    CompetitorTotals,
    CountedMatch,
    Direction,
    HeadToHeadCriterion,
    KeyCriterion,
    PointsScheme,
    Ranking,
    Ruleset,
    TraceStep,
    UnknownRulesetError,
    get_ruleset,
    rank_competitors,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2031, 6, 1, 10, 0, tzinfo=UTC)
FIVE_STEP = get_ruleset("deltacrown-5step")
HEAD_TO_HEAD = get_ruleset("head-to-head")


def totals(
    competitor_id: int,
    *,
    registration_id: int | None = None,
    wins: int = 0,
    draws: int = 0,
    losses: int = 0,
    points: int | None = None,
    matches_played: int | None = None,
    score_for: int = 0,
    score_against: int = 0,
    earliest_win_at: datetime | None = None,
) -> CompetitorTotals:
    """A row; points default to 3 / 1 / 0 per result, matches_played to the number of results."""
    return CompetitorTotals(
        competitor_id=competitor_id,
        registration_id=registration_id,
        points=3 * wins + draws if points is None else points,
        wins=wins,
        draws=draws,
        losses=losses,
        matches_played=wins + draws + losses if matches_played is None else matches_played,
        score_for=score_for,
        score_against=score_against,
        earliest_win_at=earliest_win_at,
        last_updated_at=earliest_win_at,
    )


def entry(competitor_id: int, **fields: object) -> CompetitorTotals:
    """A tournament row: registration id 100 + competitor id."""
    return totals(competitor_id, registration_id=100 + competitor_id, **fields)  # type: ignore[arg-type]


def beat(winner: int, loser: int, score: tuple[int, int] = (1, 0)) -> CountedMatch:
    """`winner` beat `loser` (competitor ids; registrations 100 + id)."""
    return CountedMatch(100 + winner, 100 + loser, 100 + winner, score[0], score[1])


def drew(first: int, second: int) -> CountedMatch:
    return CountedMatch(100 + first, 100 + second, None, 1, 1)


def order(ranking: Ranking) -> list[int]:
    return [row.totals.competitor_id for row in ranking.rows]


def decided_by(ranking: Ranking) -> list[str | None]:
    return [row.decided_by for row in ranking.rows]


def trace(ranking: Ranking) -> list[tuple[int, int, str, int | str | None, int | str | None]]:
    return [
        (step.rank_above, step.rank_below, step.step, step.value_above, step.value_below)
        for step in ranking.trace
    ]


# --- deltacrown-5step, one step at a time ------------------------------------------------------


def test_5step_points_higher_first() -> None:
    # given: 2 has more points than 1, though 1 has the lower id
    rows = [totals(1, wins=2), totals(2, wins=3)]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [2, 1]
    assert [row.rank for row in ranking.rows] == [1, 2]
    assert decided_by(ranking) == [None, "points"]
    assert trace(ranking) == [(1, 2, "points", 9, 6)]


def test_5step_wins_break_a_points_tie() -> None:
    # given: 6 points each; 1 from one win and three draws, 2 from two wins
    rows = [totals(1, wins=1, draws=3), totals(2, wins=2)]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [2, 1]
    assert decided_by(ranking) == [None, "wins"]
    assert trace(ranking) == [(1, 2, "wins", 2, 1)]


def test_5step_fewer_matches_played_break_a_wins_tie() -> None:
    # given: 6 points and 2 wins each; 1 also lost a match
    rows = [
        totals(1, wins=2, losses=1, earliest_win_at=T0),
        totals(2, wins=2, earliest_win_at=T0 + timedelta(days=1)),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [2, 1]
    assert decided_by(ranking) == [None, "matches_played"]
    assert trace(ranking) == [(1, 2, "matches_played", 2, 3)]


def test_5step_earlier_first_win_breaks_a_matches_played_tie() -> None:
    # given: equal points, wins and matches; 2 won first (its time given in UTC+02:00)
    plus_two = timezone(timedelta(hours=2))
    rows = [
        totals(1, wins=1, losses=1, earliest_win_at=datetime(2031, 6, 2, 9, 0, tzinfo=UTC)),
        totals(2, wins=1, losses=1, earliest_win_at=datetime(2031, 6, 1, 12, 30, tzinfo=plus_two)),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then: values are ISO-8601 UTC strings with "Z"
    assert order(ranking) == [2, 1]
    assert decided_by(ranking) == [None, "earliest_win"]
    assert trace(ranking) == [
        (1, 2, "earliest_win", "2031-06-01T10:30:00Z", "2031-06-02T09:00:00Z")
    ]


def test_5step_a_row_without_a_win_comes_after_every_row_with_one() -> None:
    # given: hand-made totals tied on points, wins and matches_played, so earliest_win decides;
    # competitor 1 has no earliest win and the lowest id
    rows = [
        totals(1, points=3, wins=1, matches_played=2, earliest_win_at=None),
        totals(2, points=3, wins=1, matches_played=2, earliest_win_at=T0 + timedelta(days=30)),
        totals(3, points=3, wins=1, matches_played=2, earliest_win_at=T0),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [3, 2, 1]
    assert decided_by(ranking) == [None, "earliest_win", "earliest_win"]
    assert trace(ranking) == [
        (1, 2, "earliest_win", "2031-06-01T10:00:00Z", "2031-07-01T10:00:00Z"),
        (2, 3, "earliest_win", "2031-07-01T10:00:00Z", None),
    ]


def test_5step_competitors_without_a_win_fall_through_to_id() -> None:
    # given: a winner, and two competitors with two draws each and no win
    rows = [
        totals(9, draws=2),
        totals(4, draws=2),
        totals(7, wins=1, losses=1, earliest_win_at=T0),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [7, 4, 9]
    assert decided_by(ranking) == [None, "points", "id"]
    assert trace(ranking) == [(1, 2, "points", 3, 2), (2, 3, "id", 4, 9)]


def test_5step_competitor_id_lower_first() -> None:
    # given: identical results
    rows = [totals(30, wins=1, earliest_win_at=T0), totals(12, wins=1, earliest_win_at=T0)]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [12, 30]
    assert decided_by(ranking) == [None, "id"]
    assert trace(ranking) == [(1, 2, "id", 12, 30)]


def test_same_competitor_registered_twice_is_ordered_by_registration_id_reported_as_id() -> None:
    # given: competitor 5 holds registrations 20 and 10 with identical results
    rows = [
        totals(5, registration_id=20, draws=1),
        totals(5, registration_id=10, draws=1),
        totals(6, registration_id=15, draws=1),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert [row.totals.registration_id for row in ranking.rows] == [10, 20, 15]
    assert decided_by(ranking) == [None, "id", "id"]
    assert trace(ranking) == [(1, 2, "id", 5, 5), (2, 3, "id", 5, 6)]


def test_5step_full_board_uses_every_step() -> None:
    # given: a season board (no registration ids), passed in reverse order of the expected result
    rows = [
        totals(7, draws=4),
        totals(6, draws=4),
        totals(4, wins=2, draws=4, losses=1, earliest_win_at=T0 + timedelta(hours=2)),
        totals(5, wins=2, draws=4, losses=1, earliest_win_at=T0 + timedelta(minutes=30)),
        totals(3, wins=2, draws=4, earliest_win_at=T0 + timedelta(hours=1)),
        totals(2, wins=3, draws=1, earliest_win_at=T0 + timedelta(days=1)),
        totals(1, wins=4, losses=1, earliest_win_at=T0),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [1, 2, 3, 5, 4, 6, 7]
    assert [row.rank for row in ranking.rows] == [1, 2, 3, 4, 5, 6, 7]
    assert decided_by(ranking) == [
        None,
        "points",
        "wins",
        "matches_played",
        "earliest_win",
        "points",
        "id",
    ]
    assert ranking.trace == (
        TraceStep(1, 2, "points", 12, 10),
        TraceStep(2, 3, "wins", 3, 2),
        TraceStep(3, 4, "matches_played", 6, 7),
        TraceStep(4, 5, "earliest_win", "2031-06-01T10:30:00Z", "2031-06-01T12:00:00Z"),
        TraceStep(5, 6, "points", 10, 4),
        TraceStep(6, 7, "id", 6, 7),
    )


def test_5step_forfeit_win_with_the_lower_score_is_still_a_win() -> None:
    # given: the aggregation credited 1 with a forfeit win although it scored 0-3
    rows = [
        totals(2, losses=1, score_for=3, score_against=0),
        totals(1, wins=1, score_for=0, score_against=3, earliest_win_at=T0),
    ]
    # when
    ranking = rank_competitors(rows, FIVE_STEP)
    # then
    assert order(ranking) == [1, 2]
    assert trace(ranking) == [(1, 2, "points", 3, 0)]


def test_empty_board() -> None:
    # given / when
    ranking = rank_competitors([], FIVE_STEP)
    # then
    assert ranking == Ranking(rows=(), trace=())


def test_single_row() -> None:
    # given
    row = entry(1, wins=1, earliest_win_at=T0)
    # when
    ranking = rank_competitors([row], HEAD_TO_HEAD)
    # then
    assert [(r.totals, r.rank, r.decided_by) for r in ranking.rows] == [(row, 1, None)]
    assert ranking.trace == ()


# --- head-to-head, one step at a time -------------------------------------------------------


def test_head_to_head_points_higher_first() -> None:
    # given
    rows = [entry(1, wins=1, losses=1), entry(2, wins=2)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=[beat(2, 1)])
    # then
    assert order(ranking) == [2, 1]
    assert trace(ranking) == [(1, 2, "points", 6, 3)]


def test_head_to_head_winner_of_the_match_between_two_tied_ranks_first() -> None:
    # given: 3 points each; 2 beat 1, though 1 has the better score difference and lower id
    rows = [
        entry(1, wins=1, losses=1, score_for=9, score_against=2),
        entry(2, wins=1, losses=1, score_for=2, score_against=6),
    ]
    matches = [beat(2, 1, (1, 0)), beat(1, 3, (9, 1))]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then: the mini-table holds only their match: 2 has 3 points, 1 has 0
    assert order(ranking) == [2, 1]
    assert decided_by(ranking) == [None, "head_to_head"]
    assert trace(ranking) == [(1, 2, "head_to_head", 3, 0)]


def test_head_to_head_draw_between_the_tied_pair_falls_to_score_difference() -> None:
    # given: tied on points, their match drawn
    rows = [
        entry(1, wins=1, draws=1, score_for=3, score_against=2),
        entry(2, wins=1, draws=1, score_for=5, score_against=2),
    ]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=[drew(1, 2)])
    # then
    assert order(ranking) == [2, 1]
    assert decided_by(ranking) == [None, "score_difference"]
    assert trace(ranking) == [(1, 2, "score_difference", 3, 1)]


def test_head_to_head_score_for_breaks_an_equal_score_difference() -> None:
    # given: a drawn match between them, score difference +2 each
    rows = [
        entry(1, wins=1, draws=1, score_for=3, score_against=1),
        entry(2, wins=1, draws=1, score_for=6, score_against=4),
    ]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=[drew(2, 1)])
    # then
    assert order(ranking) == [2, 1]
    assert trace(ranking) == [(1, 2, "score_for", 6, 3)]


def test_head_to_head_wins_break_equal_scores() -> None:
    # given: 3 points each (one win; three draws), same scores, never met
    rows = [
        entry(1, draws=3, score_for=4, score_against=4),
        entry(2, wins=1, losses=2, score_for=4, score_against=4),
    ]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD)
    # then
    assert order(ranking) == [2, 1]
    assert trace(ranking) == [(1, 2, "wins", 1, 0)]


def test_head_to_head_competitor_id_last() -> None:
    # given: identical results, their match drawn
    rows = [entry(8, draws=1), entry(3, draws=1)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=[drew(8, 3)])
    # then
    assert order(ranking) == [3, 8]
    assert trace(ranking) == [(1, 2, "id", 3, 8)]


def test_head_to_head_three_way_cycle_ties_the_mini_table_and_falls_to_score_difference() -> None:
    # given: 1 beat 2, 2 beat 3, 3 beat 1; 6 points each overall
    rows = [
        entry(1, wins=2, losses=1, score_for=6, score_against=4),
        entry(2, wins=2, losses=1, score_for=5, score_against=6),
        entry(3, wins=2, losses=1, score_for=8, score_against=3),
    ]
    matches = [beat(1, 2), beat(2, 3), beat(3, 1)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then: 3 points each in the mini-table, no split
    assert order(ranking) == [3, 1, 2]
    assert decided_by(ranking) == [None, "score_difference", "score_difference"]
    assert trace(ranking) == [
        (1, 2, "score_difference", 5, 2),
        (2, 3, "score_difference", 2, -1),
    ]


def test_head_to_head_splits_a_group_of_four_and_recurses_into_each_tied_sub_group() -> None:
    # given: 1..4 tied on 9 points, 5 behind. Between the four: 1 beat 2 and 3, 4 beat 1 and 2,
    # 2 beat 3, 3 beat 4. Mini-table: 1 and 4 on 6, 2 and 3 on 3. Sub-groups: 4 beat 1; 2 beat 3.
    # Matches against 5 and against a registration not on the board are outside every mini-table.
    rows = [
        entry(1, wins=3, losses=2, score_for=12, score_against=6),
        entry(2, wins=3, losses=2, score_for=7, score_against=7),
        entry(3, wins=3, losses=2, score_for=10, score_against=6),
        entry(4, wins=3, losses=2, score_for=5, score_against=7),
        entry(5, wins=1, losses=4),
    ]
    matches = [
        beat(1, 2),
        beat(1, 3),
        beat(4, 1),
        beat(2, 3),
        beat(4, 2),
        beat(3, 4),
        beat(5, 2),
        CountedMatch(103, 999, 999, 0, 5),
    ]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then
    assert order(ranking) == [4, 1, 2, 3, 5]
    assert decided_by(ranking) == [None, "head_to_head", "head_to_head", "head_to_head", "points"]
    assert trace(ranking) == [
        (1, 2, "head_to_head", 3, 0),  # sub-group {1, 4}
        (2, 3, "head_to_head", 6, 3),  # the group of four
        (3, 4, "head_to_head", 3, 0),  # sub-group {2, 3}
        (4, 5, "points", 9, 3),
    ]


def test_head_to_head_sub_group_that_splits_no_further_falls_to_score_difference() -> None:
    # given: 1 beat 2 and 3; 2 and 3 drew. Mini-table 6, 1, 1; then {2, 3} stays 1 - 1
    rows = [
        entry(1, wins=2, draws=1, points=7, score_for=4, score_against=3),
        entry(2, wins=2, draws=1, points=7, score_for=6, score_against=5),
        entry(3, wins=2, draws=1, points=7, score_for=8, score_against=5),
    ]
    matches = [beat(1, 2), beat(1, 3), drew(2, 3)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then
    assert order(ranking) == [1, 3, 2]
    assert trace(ranking) == [
        (1, 2, "head_to_head", 6, 1),
        (2, 3, "score_difference", 3, 1),
    ]


def test_head_to_head_forfeit_win_with_the_lower_score_wins_the_mini_table() -> None:
    # given: 2 won their match by forfeit although the stored score is 0-3
    rows = [
        entry(1, wins=1, losses=1, score_for=5, score_against=1),
        entry(2, wins=1, losses=1, score_for=1, score_against=5),
    ]
    matches = [CountedMatch(101, 102, 102, 3, 0)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then
    assert order(ranking) == [2, 1]
    assert trace(ranking) == [(1, 2, "head_to_head", 3, 0)]


def test_head_to_head_counts_every_match_between_a_pair() -> None:
    # given: 1 beat 2 once, 2 beat 1 twice (a league with return legs)
    rows = [entry(1, wins=2, losses=2), entry(2, wins=2, losses=2)]
    matches = [beat(1, 2), beat(2, 1), beat(2, 1)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then
    assert order(ranking) == [2, 1]
    assert trace(ranking) == [(1, 2, "head_to_head", 6, 3)]


def test_head_to_head_tied_competitors_who_never_met_fall_through() -> None:
    # given: tied on points, no match between them (their matches were against 3)
    rows = [
        entry(1, wins=1, score_for=2, score_against=0),
        entry(2, wins=1, score_for=4, score_against=0),
        entry(3, losses=2),
    ]
    matches = [beat(1, 3), beat(2, 3)]
    # when
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then
    assert order(ranking) == [2, 1, 3]
    assert decided_by(ranking) == [None, "score_difference", "points"]


def test_head_to_head_mini_table_is_scored_with_the_points_scheme() -> None:
    # given: 1 beat 3; 2 and 3 drew twice. Score difference: 3 +5, 2 +3, 1 +1
    rows = [
        entry(1, wins=1, draws=2, points=5, score_for=4, score_against=3),
        entry(2, wins=1, draws=2, points=5, score_for=6, score_against=3),
        entry(3, wins=1, draws=2, points=5, score_for=9, score_against=4),
    ]
    matches = [beat(1, 3), drew(2, 3), drew(3, 2)]
    # when: 3 / 1 / 0 gives 1 three points, 2 and 3 two each; 2 / 1 / 0 gives everyone two
    default_scheme = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    two_for_a_win = rank_competitors(
        rows, HEAD_TO_HEAD, matches=matches, points=PointsScheme(win=2)
    )
    # then
    assert order(default_scheme) == [1, 3, 2]
    assert trace(default_scheme) == [
        (1, 2, "head_to_head", 3, 2),
        (2, 3, "score_difference", 5, 3),
    ]
    assert order(two_for_a_win) == [3, 2, 1]
    assert decided_by(two_for_a_win) == [None, "score_difference", "score_difference"]


# --- rulesets and input checks -------------------------------------------------------------


def test_rulesets_are_the_two_of_the_contract_in_order() -> None:
    # given / when
    five_step = [criterion.name for criterion in get_ruleset("deltacrown-5step").criteria]
    head_to_head = [criterion.name for criterion in get_ruleset("head-to-head").criteria]
    # then
    assert five_step == ["points", "wins", "matches_played", "earliest_win", "id"]
    assert head_to_head == [
        "points",
        "head_to_head",
        "score_difference",
        "score_for",
        "wins",
        "id",
    ]
    assert FIVE_STEP is DELTACROWN_5STEP
    assert five_step[-1] == IDENTITY_STEP
    assert HEAD_TO_HEAD is HEAD_TO_HEAD_RULESET


def test_rulesets_cover_the_model_choices() -> None:
    assert sorted(RULESETS) == sorted(TiebreakRuleset.values)


def test_unknown_ruleset_raises_naming_the_known_ones() -> None:
    with pytest.raises(UnknownRulesetError) as raised:
        get_ruleset("fifa")
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == (
        "unknown ruleset 'fifa'; known rulesets: "
        "cs-swiss, deltacrown-5step, head-to-head, swiss-buchholz"
    )


def test_a_new_ruleset_is_data() -> None:
    # given: wins first, then earliest win, then id
    most_wins = Ruleset("most-wins", (WINS, EARLIEST_WIN))
    rows = [
        totals(1, draws=5),
        totals(2, wins=1, earliest_win_at=T0 + timedelta(hours=1)),
        totals(3, wins=1, earliest_win_at=T0),
    ]
    # when
    ranking = rank_competitors(rows, most_wins)
    # then
    assert order(ranking) == [3, 2, 1]
    assert decided_by(ranking) == [None, "earliest_win", "wins"]


def test_a_ruleset_with_head_to_head_first_and_higher_first_datetimes() -> None:
    # given: a made-up ruleset: head to head over the whole board, then the latest first win
    latest_win = KeyCriterion(
        "latest_first_win", lambda row: row.earliest_win_at, Direction.HIGHER_FIRST
    )
    ruleset = Ruleset("made-up", (HeadToHeadCriterion(), latest_win))
    rows = [
        entry(1, earliest_win_at=None),
        entry(2, earliest_win_at=T0),
        entry(3, earliest_win_at=T0 + timedelta(days=1)),
        entry(4, earliest_win_at=T0),
    ]
    # when
    ranking = rank_competitors(rows, ruleset, matches=[beat(4, 1)])
    # then: 4 tops the mini-table; then later first; None last whatever the direction
    assert order(ranking) == [4, 3, 2, 1]
    assert trace(ranking) == [
        (1, 2, "head_to_head", 3, 0),
        (2, 3, "latest_first_win", "2031-06-02T10:00:00Z", "2031-06-01T10:00:00Z"),
        (3, 4, "latest_first_win", "2031-06-01T10:00:00Z", None),
    ]


def test_a_ruleset_needs_criteria_with_distinct_names() -> None:
    with pytest.raises(ValueError, match="repeats a criterion name"):
        Ruleset("twice", (WINS, WINS))
    with pytest.raises(ValueError, match="has no criteria"):
        Ruleset("empty", ())


def test_two_rows_with_one_registration_are_rejected() -> None:
    with pytest.raises(ValueError, match="registration 7 appears on two rows"):
        rank_competitors([totals(1, registration_id=7), totals(2, registration_id=7)], FIVE_STEP)


def test_two_season_rows_for_one_competitor_are_rejected() -> None:
    with pytest.raises(ValueError, match="competitor 1 appears on two rows"):
        rank_competitors([totals(1), totals(1)], FIVE_STEP)


def test_head_to_head_needs_registration_ids() -> None:
    with pytest.raises(ValueError, match="competitor 2 has no registration id"):
        rank_competitors([entry(1), totals(2)], HEAD_TO_HEAD)


def test_a_match_winner_must_be_one_of_its_sides() -> None:
    with pytest.raises(ValueError, match="winner 3 is neither side"):
        CountedMatch(1, 2, 3, 1, 0)
    with pytest.raises(ValueError, match="needs two registrations"):
        CountedMatch(1, 1, None, 0, 0)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="earliest_win_at must be an aware datetime"):
        totals(1, wins=1, earliest_win_at=datetime(2031, 6, 1, 10, 0))


def test_ranking_module_imports_no_django() -> None:
    # given / when: a fresh interpreter imports only the ranking module
    code = (
        "import sys; import apps.tournaments.services.ranking; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    # then
    assert result.stdout.strip() == "[]"


def test_a_thousand_rows_with_ties_at_every_step_rank_one_to_a_thousand() -> None:
    # given: 1,000 rows with many ties at every step, under both rulesets (200 matches between
    # registrations); their speed is measured by bench/, not asserted here
    generator = random.Random(7)
    rows = [
        entry(
            index,
            wins=(wins := generator.randint(0, 6)),
            draws=generator.randint(0, 4),
            losses=generator.randint(0, 4),
            score_for=generator.randint(0, 30),
            score_against=generator.randint(0, 30),
            earliest_win_at=T0 + timedelta(hours=generator.randint(0, 48)) if wins else None,
        )
        for index in range(1000)
    ]
    matches = [
        beat(generator.randrange(0, 500), generator.randrange(500, 1000)) for _ in range(200)
    ]
    # when
    five_step = rank_competitors(rows, FIVE_STEP)
    head_to_head = rank_competitors(rows, HEAD_TO_HEAD, matches=matches)
    # then: every rank once, in order, and the same result from the rows in reverse
    for ranking in (five_step, head_to_head):
        assert [row.rank for row in ranking.rows] == list(range(1, 1001))
    reversed_rows = list(reversed(rows))
    again = rank_competitors(reversed_rows, HEAD_TO_HEAD, matches=matches)
    assert [row.totals for row in again.rows] == [row.totals for row in head_to_head.rows]


# --- properties -------------------------------------------------------------------------------

INSTANTS = [T0 + timedelta(hours=hours) for hours in range(4)]
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]


@st.composite
def rows_strategy(
    draw: st.DrawFn, *, tournament_scope: bool | None = None
) -> list[CompetitorTotals]:
    """Small boards with many ties. Tournament scope: unique registration ids, a competitor may
    hold two registrations. Season scope: no registration ids, unique competitor ids."""
    is_tournament = draw(st.booleans()) if tournament_scope is None else tournament_scope
    size = draw(st.integers(min_value=0, max_value=12))
    if is_tournament:
        registration_ids: list[int | None] = list(
            draw(st.lists(st.integers(1, 60), min_size=size, max_size=size, unique=True))
        )
        competitor_ids = draw(st.lists(st.integers(1, 10), min_size=size, max_size=size))
    else:
        registration_ids = [None] * size
        competitor_ids = draw(
            st.lists(st.integers(1, 40), min_size=size, max_size=size, unique=True)
        )
    rows = []
    for competitor_id, registration_id in zip(competitor_ids, registration_ids, strict=True):
        wins = draw(st.integers(0, 3))
        earliest_win_at = None
        if wins:
            instant = draw(st.sampled_from(INSTANTS))
            earliest_win_at = instant.astimezone(draw(st.sampled_from(ZONES)))
        rows.append(
            totals(
                competitor_id,
                registration_id=registration_id,
                wins=wins,
                draws=draw(st.integers(0, 3)),
                losses=draw(st.integers(0, 2)),
                score_for=draw(st.integers(0, 4)),
                score_against=draw(st.integers(0, 4)),
                earliest_win_at=earliest_win_at,
            )
        )
    return rows


@st.composite
def matches_strategy(draw: st.DrawFn, rows: list[CompetitorTotals]) -> list[CountedMatch]:
    """Matches between the board's registrations, plus some against registrations not on it."""
    registration_ids = [row.registration_id for row in rows if row.registration_id is not None]
    candidates = [*registration_ids, 901]
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(candidates), st.sampled_from(candidates)).filter(
                lambda pair: pair[0] != pair[1]
            ),
            max_size=40,
        )
    )
    matches = []
    for first, second in pairs:
        winner = draw(st.sampled_from([None, first, second]))
        matches.append(
            CountedMatch(first, second, winner, draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        )
    return matches


@st.composite
def head_to_head_boards(
    draw: st.DrawFn,
) -> tuple[list[CompetitorTotals], list[CountedMatch]]:
    """Round-robin-like tournament boards where most rows tie on points (two levels) and every
    pair met zero to two times, so the mini-table splits and recurses often."""
    rows = [
        replace(row, points=draw(st.sampled_from([4, 7])))
        for row in draw(rows_strategy(tournament_scope=True))
    ]
    registration_ids = [row.registration_id for row in rows if row.registration_id is not None]
    matches = []
    for position, first in enumerate(registration_ids):
        for second in registration_ids[position + 1 :]:
            for _ in range(draw(st.integers(0, 2))):
                winner = draw(st.sampled_from([None, first, second]))
                matches.append(CountedMatch(first, second, winner, 1, 0))
    return rows, matches


@st.composite
def boards(draw: st.DrawFn) -> tuple[list[CompetitorTotals], Ruleset, list[CountedMatch]]:
    """A board with its ruleset: head-to-head boards are tournament boards with matches."""
    ruleset = draw(st.sampled_from([FIVE_STEP, HEAD_TO_HEAD]))
    if ruleset is HEAD_TO_HEAD:
        rows, matches = draw(st.one_of(head_to_head_boards(), natural_head_to_head_boards()))
        return rows, ruleset, matches
    return draw(rows_strategy()), ruleset, []


def natural_head_to_head_boards() -> st.SearchStrategy[
    tuple[list[CompetitorTotals], list[CountedMatch]]
]:
    """Tournament boards with points as the results give them, and matches."""
    return rows_strategy(tournament_scope=True).flatmap(
        lambda rows: st.tuples(st.just(rows), matches_strategy(rows))
    )


def identity(row: CompetitorTotals) -> tuple[int, int | None]:
    return (row.competitor_id, row.registration_id)


@given(boards())
def test_property_ranks_are_exactly_one_to_n(
    board: tuple[list[CompetitorTotals], Ruleset, list[CountedMatch]],
) -> None:
    rows, ruleset, matches = board
    ranking = rank_competitors(rows, ruleset, matches=matches)
    assert [row.rank for row in ranking.rows] == list(range(1, len(rows) + 1))
    assert sorted(map(identity, (row.totals for row in ranking.rows))) == sorted(
        map(identity, rows)
    )


@given(boards(), st.randoms(use_true_random=False))
def test_property_order_does_not_depend_on_input_order(
    board: tuple[list[CompetitorTotals], Ruleset, list[CountedMatch]], shuffler: random.Random
) -> None:
    rows, ruleset, matches = board
    shuffled_rows = shuffler.sample(rows, len(rows))
    shuffled_matches = shuffler.sample(matches, len(matches))
    assert rank_competitors(shuffled_rows, ruleset, matches=shuffled_matches) == rank_competitors(
        rows, ruleset, matches=matches
    )


@given(boards())
def test_property_trace_has_one_entry_per_adjacent_pair_naming_the_lower_rows_step(
    board: tuple[list[CompetitorTotals], Ruleset, list[CountedMatch]],
) -> None:
    rows, ruleset, matches = board
    ranking = rank_competitors(rows, ruleset, matches=matches)
    assert len(ranking.trace) == max(len(rows) - 1, 0)
    if ranking.rows:
        assert ranking.rows[0].decided_by is None
    for position, step in enumerate(ranking.trace):
        assert (step.rank_above, step.rank_below) == (position + 1, position + 2)
        assert step.step == ranking.rows[position + 1].decided_by


@given(boards())
def test_property_rows_tie_on_every_step_before_the_one_that_splits_them(
    board: tuple[list[CompetitorTotals], Ruleset, list[CountedMatch]],
) -> None:
    rows, ruleset, matches = board
    ranking = rank_competitors(rows, ruleset, matches=matches)
    names = [criterion.name for criterion in ruleset.criteria]
    for step in ranking.trace:
        above = ranking.rows[step.rank_above - 1].totals
        below = ranking.rows[step.rank_below - 1].totals
        assert step.step in names
        for criterion in ruleset.criteria[: names.index(step.step)]:
            if isinstance(criterion, KeyCriterion):
                assert criterion.value(above) == criterion.value(below)
        if step.step == "id":
            assert (step.value_above, step.value_below) == (
                above.competitor_id,
                below.competitor_id,
            )
            assert identity(above) != identity(below)
        elif step.step in ("head_to_head", "points", "wins", "score_difference", "score_for"):
            assert isinstance(step.value_above, int) and isinstance(step.value_below, int)
            assert step.value_above > step.value_below
        elif step.step == "matches_played":
            assert step.value_above == above.matches_played < below.matches_played
        elif step.step == "earliest_win":
            assert above.earliest_win_at is not None
            assert below.earliest_win_at is None or above.earliest_win_at < below.earliest_win_at
        if step.step in ("points", "wins", "score_for"):
            assert step.value_above == getattr(above, step.step)
            assert step.value_below == getattr(below, step.step)


def five_step_oracle(
    row: CompetitorTotals,
) -> tuple[int, int, int, tuple[bool, datetime], int, int]:
    """The 5-step order written out as one sort key (registration id for the same competitor)."""
    earliest = row.earliest_win_at
    return (
        -row.points,
        -row.wins,
        row.matches_played,
        (earliest is None, earliest or T0),
        row.competitor_id,
        row.registration_id or 0,
    )


@given(rows_strategy())
def test_property_5step_agrees_with_a_plain_sort_key(rows: list[CompetitorTotals]) -> None:
    ranking = rank_competitors(rows, FIVE_STEP)
    expected = sorted(rows, key=five_step_oracle)
    assert [row.totals for row in ranking.rows] == expected
    steps = ["points", "wins", "matches_played", "earliest_win", "id", "id"]
    for row, above, below in zip(ranking.rows[1:], expected, expected[1:], strict=False):
        first_difference = next(
            index
            for index, (a, b) in enumerate(
                zip(five_step_oracle(above), five_step_oracle(below), strict=True)
            )
            if a != b
        )
        assert row.decided_by == steps[first_difference]


@given(rows_strategy().filter(bool), st.data())
def test_property_5step_a_competitor_who_gains_a_win_never_drops(
    rows: list[CompetitorTotals], data: st.DataObject
) -> None:
    # given: one row gains a win; its first win is the new one when it had none, else possibly
    # earlier
    index = data.draw(st.integers(0, len(rows) - 1))
    before = rows[index]
    new_win_at = data.draw(st.sampled_from(INSTANTS))
    earliest = (
        new_win_at if before.earliest_win_at is None else min(before.earliest_win_at, new_win_at)
    )
    after = replace(
        before,
        points=before.points + PointsScheme().win,
        wins=before.wins + 1,
        matches_played=before.matches_played + 1,
        earliest_win_at=earliest,
    )
    improved = [*rows[:index], after, *rows[index + 1 :]]

    # when
    def rank_of(ranking: Ranking) -> int:
        return next(row.rank for row in ranking.rows if identity(row.totals) == identity(before))

    rank_before = rank_of(rank_competitors(rows, FIVE_STEP))
    rank_after = rank_of(rank_competitors(improved, FIVE_STEP))
    # then
    assert rank_after <= rank_before


def head_to_head_oracle(
    rows: list[CompetitorTotals], matches: list[CountedMatch], points: PointsScheme
) -> list[CompetitorTotals]:
    """The head-to-head order written out naively: recursion over tied groups, quadratic scans."""

    def match_points(match: CountedMatch, registration_id: int | None) -> int:
        if match.winner_registration_id is None:
            return points.draw
        return points.win if match.winner_registration_id == registration_id else points.loss

    def split(group: list[CompetitorTotals]) -> list[list[CompetitorTotals]]:
        members = {row.registration_id for row in group}
        table = {
            row.registration_id: sum(
                match_points(match, row.registration_id)
                for match in matches
                if {match.registration1_id, match.registration2_id} <= members
                and row.registration_id in (match.registration1_id, match.registration2_id)
            )
            for row in group
        }
        levels = sorted(set(table.values()), reverse=True)
        if len(levels) < 2:
            return [group]
        return [
            sub_group
            for level in levels
            for sub_group in split([row for row in group if table[row.registration_id] == level])
        ]

    def rest(row: CompetitorTotals) -> tuple[int, int, int, int, int]:
        return (
            row.score_against - row.score_for,
            -row.score_for,
            -row.wins,
            row.competitor_id,
            row.registration_id or 0,
        )

    ordered = []
    for level in sorted({row.points for row in rows}, reverse=True):
        for sub_group in split([row for row in rows if row.points == level]):
            ordered.extend(sorted(sub_group, key=rest))
    return ordered


@given(
    st.one_of(head_to_head_boards(), natural_head_to_head_boards()),
    st.sampled_from([PointsScheme(), PointsScheme(win=2), PointsScheme(win=3, draw=1, loss=1)]),
)
def test_property_head_to_head_agrees_with_a_naive_recursion(
    board: tuple[list[CompetitorTotals], list[CountedMatch]], points: PointsScheme
) -> None:
    rows, matches = board
    ranking = rank_competitors(rows, HEAD_TO_HEAD, matches=matches, points=points)
    assert [row.totals for row in ranking.rows] == head_to_head_oracle(rows, matches, points)
