"""The Swiss rulesets (contract section 10): `swiss-buchholz` (FIDE) and `cs-swiss` (the
Counter-Strike Majors). Boards worked by hand, each criterion deciding at least one place; a
property against a brute-force sort by the criteria; the board, the trace and a withdrawn
opponent through the database."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.tournaments.models import RegistrationStatus, TiebreakRuleset
from apps.tournaments.services.ranking import (
    CS_SWISS,
    RULESETS,
    SWISS_BUCHHOLZ,
    CompetitorTotals,
    CountedMatch,
    PointsScheme,
    Ranking,
    Ruleset,
    buchholz,
    buchholz_cut1,
    buchholz_difficulty,
    opponent_records,
    rank_competitors,
    sonneborn_berger,
)
from apps.tournaments.tests.factories import (
    MatchFactory,
    RegistrationFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at

POINTS = PointsScheme(win=3, draw=1, loss=0)


def _matches(rows: Sequence[tuple[int, int, int | None]]) -> list[CountedMatch]:
    return [CountedMatch(first, second, winner, 0, 0) for first, second, winner in rows]


def _totals(
    players: Sequence[int],
    matches: Sequence[CountedMatch],
    seeds: dict[int, int | None] | None = None,
    points: PointsScheme = POINTS,
) -> list[CompetitorTotals]:
    """Each player's totals from the matches (competitor id = registration id here)."""
    rows = []
    for player in players:
        wins = draws = losses = 0
        for match in matches:
            if player not in (match.registration1_id, match.registration2_id):
                continue
            if match.winner_registration_id is None:
                draws += 1
            elif match.winner_registration_id == player:
                wins += 1
            else:
                losses += 1
        rows.append(
            CompetitorTotals(
                competitor_id=player,
                registration_id=player,
                points=wins * points.win + draws * points.draw + losses * points.loss,
                wins=wins,
                draws=draws,
                losses=losses,
                matches_played=wins + draws + losses,
                score_for=0,
                score_against=0,
                earliest_win_at=None,
                last_updated_at=None,
                seed=(seeds or {}).get(player),
            )
        )
    return rows


def _order(ranking: Ranking) -> list[tuple[int, str | None]]:
    return [(row.totals.competitor_id, row.decided_by) for row in ranking.rows]


def _trace(ranking: Ranking) -> list[tuple[str, object, object]]:
    return [(step.step, step.value_above, step.value_below) for step in ranking.trace]


# --- the rulesets as data ------------------------------------------------------------------------


def test_the_two_swiss_rulesets_list_the_contracts_criteria_in_order():
    assert [criterion.name for criterion in SWISS_BUCHHOLZ.criteria] == [
        "points",
        "buchholz_cut1",
        "buchholz",
        "sonneborn_berger",
        "wins",
        "id",
    ]
    assert [criterion.name for criterion in CS_SWISS.criteria] == [
        "wins",
        "losses",
        "buchholz_difficulty",
        "seed",
        "id",
    ]
    assert set(RULESETS) == set(TiebreakRuleset.values)


# --- swiss-buchholz, by hand ---------------------------------------------------------------------

# Eight players, three rounds, no draws (3 points a win):
#   round 1: 7 beat 8, 4 beat 1, 6 beat 5, 2 beat 3
#   round 2: 3 beat 7, 8 beat 4, 1 beat 5, 6 beat 2
#   round 3: 2 beat 8, 5 beat 3, 4 beat 6, 7 beat 1
# Points: 2, 4, 6, 7 have 6; 1, 3, 5, 8 have 3.
#   player  opponents (their points)  Buchholz  Cut 1   Sonneborn-Berger (beaten opponents)
#   6       5 (3), 2 (6), 4 (6)       15        12      3 + 6 = 9
#   4       1 (3), 8 (3), 6 (6)       12         9      3 + 6 = 9
#   2       3 (3), 6 (6), 8 (3)       12         9      3 + 3 = 6
#   7       8 (3), 3 (3), 1 (3)        9         6      3 + 3 = 6
#   8       7 (6), 4 (6), 2 (6)       18        12      6
#   3       2 (6), 7 (6), 5 (3)       15        12      6
#   1       4 (6), 5 (3), 7 (6)       15        12      3
#   5       6 (6), 1 (3), 3 (3)       12         9      3
# 6 > 4 by Cut 1 (12 v 9); 4 > 2 by Sonneborn-Berger (Cut 1 and Buchholz equal); 2 > 7 by
# Cut 1; 7 > 8 by points; 8 > 3 by Buchholz (Cut 1 equal); 3 > 1 by Sonneborn-Berger; 1 > 5 by
# Cut 1.
BOARD_A = _matches(
    [
        (7, 8, 7), (4, 1, 4), (5, 6, 6), (2, 3, 2),
        (7, 3, 3), (8, 4, 8), (5, 1, 1), (6, 2, 6),
        (2, 8, 2), (3, 5, 5), (4, 6, 4), (7, 1, 7),
    ]
)  # fmt: skip


def test_swiss_buchholz_points_cut1_buchholz_and_sonneborn_berger_each_decide():
    ranking = rank_competitors(_totals(range(1, 9), BOARD_A), SWISS_BUCHHOLZ, matches=BOARD_A)

    assert _order(ranking) == [
        (6, None),
        (4, "buchholz_cut1"),
        (2, "sonneborn_berger"),
        (7, "buchholz_cut1"),
        (8, "points"),
        (3, "buchholz"),
        (1, "sonneborn_berger"),
        (5, "buchholz_cut1"),
    ]
    assert _trace(ranking) == [
        ("buchholz_cut1", 12, 9),
        ("sonneborn_berger", 9, 6),
        ("buchholz_cut1", 9, 6),
        ("points", 6, 3),
        ("buchholz", 18, 15),
        ("sonneborn_berger", 6, 3),
        ("buchholz_cut1", 12, 9),
    ]


# Eight players, four rounds, with draws:
#   1-7 7 won; 5-6 5; 2-8 2; 4-3 draw; 3-2 3; 7-5 draw; 4-6 draw; 8-1 8;
#   6-3 draw; 7-8 draw; 4-1 4; 5-2 2; 7-4 draw; 1-2 1; 8-6 6; 5-3 5.
# Points: 5 has 7; 2, 4, 7 have 6; 3, 6 have 5; 8 has 4; 1 has 3.
#   2: opponents 8 (4), 3 (5), 5 (7), 1 (3): Buchholz 19, Cut 1 16; beat 8 and 5: SB 4 + 7 = 11
#   4: opponents 3 (5), 6 (5), 1 (3), 7 (6): Buchholz 19, Cut 1 16; drew 3, 6, 7, beat 1:
#      SB 2.5 + 2.5 + 3 + 3 = 11
#   7: opponents 1 (3), 5 (7), 8 (4), 4 (6): Buchholz 20, Cut 1 17
# 7 > 2 by Cut 1 (17 v 16); 2 > 4 by wins (2 v 1) once Cut 1, Buchholz and SB are equal.
BOARD_B = _matches(
    [
        (1, 7, 7), (5, 6, 5), (2, 8, 2), (4, 3, None),
        (3, 2, 3), (7, 5, None), (4, 6, None), (8, 1, 8),
        (6, 3, None), (7, 8, None), (4, 1, 4), (5, 2, 2),
        (7, 4, None), (1, 2, 1), (8, 6, 6), (5, 3, 5),
    ]
)  # fmt: skip


def test_swiss_buchholz_wins_decide_when_every_opponent_criterion_is_equal():
    ranking = rank_competitors(_totals(range(1, 9), BOARD_B), SWISS_BUCHHOLZ, matches=BOARD_B)

    assert [competitor for competitor, _ in _order(ranking)][:4] == [5, 7, 2, 4]
    assert _trace(ranking)[1:3] == [("buchholz_cut1", 17, 16), ("wins", 2, 1)]


def test_sonneborn_berger_counts_half_the_points_of_a_drawn_opponent_exactly():
    records = opponent_records(BOARD_B, POINTS)

    # 3: drew 4 (6), beat 2 (6), drew 6 (5), lost to 5 (7): 3 + 6 + 2.5 + 0
    assert sonneborn_berger(records[3]) == 11.5
    assert sonneborn_berger(records[4]) == 11 and isinstance(sonneborn_berger(records[4]), int)
    assert (buchholz(records[3]), buchholz_cut1(records[3])) == (24, 19)


def test_the_id_decides_what_nothing_else_does():
    # 1 beat 2, 3 beat 4: 1 and 3 are equal on everything (one opponent: Cut 1 is 0), 2 and 4 too
    matches = _matches([(1, 2, 1), (3, 4, 3)])

    ranking = rank_competitors(_totals([4, 3, 2, 1], matches), SWISS_BUCHHOLZ, matches=matches)

    assert _order(ranking) == [(1, None), (3, "id"), (2, "points"), (4, "id")]


def test_an_opponent_met_twice_counts_twice_and_cut1_needs_two_opponents():
    # 1 beat 2 twice, 2 beat 3: 2 has 3 points; 1 met 2 twice
    records = opponent_records(_matches([(1, 2, 1), (2, 1, 1), (2, 3, 2)]), POINTS)

    assert (buchholz(records[1]), buchholz_cut1(records[1])) == (6, 3)
    assert (buchholz(records[3]), buchholz_cut1(records[3])) == (3, 0)


# --- cs-swiss, by hand ---------------------------------------------------------------------------

# Seeds: 1 -> 4, 2 -> 8, 3 -> 4, 4 -> 2, 5 -> none, 6 -> 2, 7 -> 7, 8 -> 6. Matches:
#   2-6 draw; 7-8 draw; 5-3 3; 4-1 1; 5-4 4; 2-8 draw; 7-3 draw; 1-6 1; 4-8 draw; 2-3 3;
#   1-5 draw; 6-7 draw.
# Records (W-L): 1 2-0, 3 2-0, 4 1-1, 7 0-0, 8 0-0, 2 0-1, 6 0-1, 5 0-2.
#   Buchholz difficulty (sum of the opponents' W - L):
#   1: 4 (0), 6 (-1), 5 (-2) = -3;  3: 5 (-2), 7 (0), 2 (-1) = -3  -> equal; seeds 4 and 4 equal
#   7: 8 (0), 3 (+2), 6 (-1) = +1;  8: 7 (0), 2 (-1), 4 (0) = -1
#   2: 6 (-1), 8 (0), 3 (+2) = +1;  6: 2 (-1), 1 (+2), 7 (0) = +1  -> equal; seed 2 beats seed 8
CS_SEEDS: dict[int, int | None] = {1: 4, 2: 8, 3: 4, 4: 2, 5: None, 6: 2, 7: 7, 8: 6}
CS_BOARD = _matches(
    [
        (2, 6, None), (7, 8, None), (5, 3, 3), (4, 1, 1),
        (5, 4, 4), (2, 8, None), (7, 3, None), (1, 6, 1),
        (4, 8, None), (2, 3, 3), (1, 5, None), (6, 7, None),
    ]
)  # fmt: skip


def test_cs_swiss_wins_losses_difficulty_seed_and_id_each_decide():
    totals = _totals(range(1, 9), CS_BOARD, CS_SEEDS)

    ranking = rank_competitors(totals, CS_SWISS, matches=CS_BOARD)

    assert _order(ranking) == [
        (1, None),
        (3, "id"),
        (4, "wins"),
        (7, "wins"),
        (8, "buchholz_difficulty"),
        (6, "losses"),
        (2, "seed"),
        (5, "losses"),
    ]
    assert _trace(ranking)[4:6] == [("losses", 0, 1), ("seed", 2, 8)]
    assert _trace(ranking)[3] == ("buchholz_difficulty", 1, -1)


def test_cs_swiss_puts_an_unseeded_registration_after_every_seeded_one():
    # 1 and 2 never played: equal on wins, losses, difficulty; 2 is seeded, 1 is not
    ranking = rank_competitors(_totals([1, 2], []), CS_SWISS, matches=[])

    assert _order(ranking) == [(1, None), (2, "id")]
    seeded = rank_competitors(_totals([1, 2], [], {2: 16}), CS_SWISS, matches=[])
    assert _order(seeded) == [(2, None), (1, "seed")]
    assert _trace(seeded) == [("seed", 16, None)]


def test_opponents_need_registration_ids():
    row = _totals([1], [])[0]
    unregistered = CompetitorTotals(**{**_asdict(row), "registration_id": None})

    with pytest.raises(ValueError, match="weighs opponents by registration"):
        rank_competitors([unregistered], SWISS_BUCHHOLZ, matches=[])


def _asdict(row: CompetitorTotals) -> dict:
    return {name: getattr(row, name) for name in row.__slots__}


# --- the property: equal to a brute-force sort, whatever the input order -------------------------


def _brute_force(
    players: Sequence[int],
    matches: Sequence[CountedMatch],
    seeds: dict[int, int | None],
    ruleset: Ruleset,
) -> list[int]:
    """The order by the contract's definitions, written out naively: every match scanned for
    every player and every opponent."""

    def record(player: int) -> tuple[int, int, int, int]:  # points, wins, draws, losses
        wins = draws = losses = 0
        for match in matches:
            if player in (match.registration1_id, match.registration2_id):
                if match.winner_registration_id is None:
                    draws += 1
                elif match.winner_registration_id == player:
                    wins += 1
                else:
                    losses += 1
        return 3 * wins + draws, wins, draws, losses

    def met(player: int) -> list[tuple[int, float]]:  # (opponent, share of the match)
        shares = []
        for match in matches:
            sides = (match.registration1_id, match.registration2_id)
            if player in sides:
                opponent = sides[1] if sides[0] == player else sides[0]
                if match.winner_registration_id is None:
                    shares.append((opponent, 0.5))
                else:
                    shares.append((opponent, 1.0 if match.winner_registration_id == player else 0))
        return shares

    def key(player: int) -> tuple:
        points, wins, _, losses = record(player)
        opponents = met(player)
        their_points = [record(opponent)[0] for opponent, _ in opponents]
        total = sum(their_points)
        cut1 = total - min(their_points) if len(their_points) >= 2 else 0
        sb = sum(record(opponent)[0] * share for opponent, share in opponents)
        difficulty = sum(record(opp)[1] - record(opp)[3] for opp, _ in opponents)
        seed = seeds.get(player)
        if ruleset is SWISS_BUCHHOLZ:
            return (-points, -cut1, -total, -sb, -wins, player)
        return (-wins, losses, -difficulty, seed is None, seed or 0, player)

    return sorted(players, key=key)


@st.composite
def swiss_events(draw):
    size = draw(st.integers(min_value=1, max_value=9))
    players = list(range(1, size + 1))
    withdrawn = size + 1  # plays, but has no row (its registration is no longer confirmed)
    everyone = [*players, withdrawn]
    pairs = st.tuples(st.sampled_from(everyone), st.sampled_from(everyone)).filter(
        lambda pair: pair[0] != pair[1]
    )
    played = draw(st.lists(pairs, max_size=25))
    outcomes = draw(st.lists(st.sampled_from(["first", "second", "draw"]), min_size=len(played)))
    matches = [
        CountedMatch(first, second, {"first": first, "second": second, "draw": None}[outcome], 0, 0)
        for (first, second), outcome in zip(played, outcomes, strict=False)
    ]
    seeds = {player: draw(st.one_of(st.none(), st.integers(1, 4))) for player in players}
    order = draw(st.randoms(use_true_random=False))
    return players, matches, seeds, order


@settings(max_examples=150, deadline=None)
@given(events=swiss_events(), ruleset=st.sampled_from([SWISS_BUCHHOLZ, CS_SWISS]))
def test_the_ranking_is_a_brute_force_sort_by_the_criteria_in_any_input_order(events, ruleset):
    players, matches, seeds, order = events
    totals = _totals(players, matches, seeds)

    ranking = rank_competitors(totals, ruleset, matches=matches)
    shuffled_totals, shuffled_matches = list(totals), list(matches)
    order.shuffle(shuffled_totals)
    order.shuffle(shuffled_matches)
    again = rank_competitors(shuffled_totals, ruleset, matches=shuffled_matches)

    expected = _brute_force(players, matches, seeds, ruleset)
    assert [row.totals.competitor_id for row in ranking.rows] == expected
    assert _order(again) == _order(ranking)
    assert _trace(again) == _trace(ranking)


# --- through the database: the board, the trace, a withdrawn opponent ---------------------------


@pytest.mark.django_db
def test_a_swiss_board_counts_a_withdrawn_opponents_results(client_for_user):
    """A beat W, W beat B and C, C beat A, B beat C... then W withdraws (no row): A's Buchholz
    still counts W's 6 points."""
    tournament = TournamentFactory(tiebreak_ruleset=TiebreakRuleset.SWISS_BUCHHOLZ)
    a, b, c, w = (UserFactory(username=f"sw{tournament.pk}-{name}") for name in "abcw")
    ra, rb, rc, rw = (
        RegistrationFactory(tournament=tournament, user=user) for user in (a, b, c, w)
    )
    for number, (first, second) in enumerate([(ra, rw), (rw, rb), (rw, rc), (rc, ra)], start=1):
        MatchFactory(participant1=first, participant2=second, winner=first, completed_at=at(number))
    rw.status = RegistrationStatus.CANCELLED
    rw.save()
    # A: beat W (6 points), lost to C (3): 3 points, Buchholz 9, Cut 1 6, SB 6
    # C: beat A (3), lost to W (6):        3 points, Buchholz 9, Cut 1 6, SB 3
    # B: lost to W (6):                     0 points

    body = client_for_user(a).get(f"/api/tournaments/{tournament.pk}/leaderboard/").json()

    assert body["ruleset"] == "swiss-buchholz"
    assert [(row["participant_id"], row["decided_by"]) for row in body["results"]] == [
        (a.pk, None),
        (c.pk, "sonneborn_berger"),
        (b.pk, "points"),
    ]


@pytest.fixture
def client_for_user(flags_on):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.mark.django_db
def test_the_inspect_trace_names_the_swiss_steps_with_their_values(flags_on):
    from apps.tournaments.tests.factories import UserFactory as Users

    tournament = TournamentFactory(tiebreak_ruleset=TiebreakRuleset.SWISS_BUCHHOLZ)
    players = [Users(username=f"tr{tournament.pk}-{n}") for n in range(1, 9)]
    registrations = {
        n: RegistrationFactory(tournament=tournament, user=player)
        for n, player in enumerate(players, start=1)
    }
    for number, match in enumerate(BOARD_B, start=1):
        winner = match.winner_registration_id
        MatchFactory(
            participant1=registrations[match.registration1_id],
            participant2=registrations[match.registration2_id],
            winner=registrations[winner] if winner else None,
            completed_at=at(number),
        )
    staff = Users(username=f"tr{tournament.pk}-staff", is_staff=True)
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")

    body = client.get(f"/api/admin/leaderboards/inspect/{tournament.pk}/").json()

    trace = body["tiebreak_trace"]
    assert [(step["step"], step["value_above"], step["value_below"]) for step in trace[1:3]] == [
        ("buchholz_cut1", 17, 16),
        ("wins", 2, 1),
    ]


def test_a_random_order_of_matches_changes_no_opponent_value():
    shuffled = list(BOARD_B)
    random.Random(5).shuffle(shuffled)

    first, second = opponent_records(BOARD_B, POINTS), opponent_records(shuffled, POINTS)

    for player in range(1, 9):
        for value in (buchholz, buchholz_cut1, sonneborn_berger, buchholz_difficulty):
            assert value(first[player]) == value(second[player])
