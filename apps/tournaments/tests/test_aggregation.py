"""SQL aggregation: exact totals for hand-worked data, zero rows, constant query counts."""

from __future__ import annotations

import pytest

from apps.tournaments.models import ParticipationType, TournamentStatus
from apps.tournaments.services import aggregation
from apps.tournaments.tests.factories import (
    GameFactory,
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at, build_round_robin, build_solo_cup

pytestmark = pytest.mark.django_db


def _by_name(cup, rows):
    name_of = {registration.pk: name for name, registration in cup.registrations.items()}
    return {name_of[row.totals.registration_id]: row.totals for row in rows}


def test_tournament_totals_count_completed_and_forfeit_only():
    cup = build_solo_cup()

    totals = _by_name(cup, aggregation.tournament_totals(cup.tournament.pk))

    assert sorted(totals) == ["A", "B", "C", "D", "F"]  # E cancelled: no row
    a, b, c = totals["A"], totals["B"], totals["C"]
    assert (a.points, a.wins, a.draws, a.losses, a.matches_played) == (4, 1, 1, 0, 2)
    assert (a.score_for, a.score_against) == (3, 2)
    assert (a.earliest_win_at, a.last_updated_at) == (at(1), at(2))
    # The forfeit is B's win despite the lower score; its scores still count.
    assert (b.points, b.wins, b.draws, b.losses, b.matches_played) == (3, 1, 0, 1, 2)
    assert (b.score_for, b.score_against) == (1, 5)
    assert (b.earliest_win_at, b.last_updated_at) == (at(3), at(3))
    # C's win over E counts although E's registration was cancelled afterwards.
    assert (c.points, c.wins, c.draws, c.losses, c.matches_played) == (4, 1, 1, 1, 3)
    assert (c.score_for, c.score_against) == (6, 1)
    assert (c.earliest_win_at, c.last_updated_at) == (at(4), at(4))


def test_competitor_without_counted_match_has_a_row_of_zeros():
    cup = build_solo_cup()

    totals = _by_name(cup, aggregation.tournament_totals(cup.tournament.pk))

    for name in ("D", "F"):  # D only has a disputed and a scheduled match
        row = totals[name]
        assert (row.points, row.wins, row.draws, row.losses, row.matches_played) == (0,) * 5
        assert (row.score_for, row.score_against) == (0, 0)
        assert (row.earliest_win_at, row.last_updated_at) == (None, None)


def test_tournament_points_follow_the_tournaments_own_scheme():
    cup = build_solo_cup(points_per_win=2, points_per_draw=0, points_per_loss=1)

    totals = _by_name(cup, aggregation.tournament_totals(cup.tournament.pk))

    assert totals["A"].points == 2 + 0
    assert totals["C"].points == 0 + 1 + 2


def test_tournament_totals_take_two_queries_whatever_the_size(django_assert_num_queries):
    small = build_round_robin(4)
    large = build_round_robin(16)

    with django_assert_num_queries(1):
        assert len(aggregation.tournament_totals(small.pk)) == 4
    with django_assert_num_queries(1):
        assert len(aggregation.tournament_totals(large.pk)) == 16


def _season_fixture():
    season = SeasonFactory(slug="2031-spring")
    game, other_game = GameFactory(slug="valorant"), GameFactory(slug="efootball")
    anna, ben, cleo = (UserFactory(username=name) for name in ("anna", "ben", "cleo"))

    def cup(status=TournamentStatus.COMPLETED, chosen_game=game, **fields):
        return TournamentFactory(season=season, game=chosen_game, status=status, **fields)

    def play(tournament, winner, loser, minute, draw=False):
        w = RegistrationFactory(tournament=tournament, user=winner)
        lo = RegistrationFactory(tournament=tournament, user=loser)
        MatchFactory(
            participant1=w, participant2=lo, winner=None if draw else w, completed_at=at(minute)
        )

    first = cup()
    play(first, anna, ben, 10)
    second = cup(status=TournamentStatus.LIVE, points_per_win=5)
    play(second, ben, anna, 20)
    third = cup(chosen_game=other_game)
    play(third, cleo, anna, 30)
    play(cup(status=TournamentStatus.DRAFT), ben, anna, 40)  # never counted
    play(cup(status=TournamentStatus.CANCELLED), ben, anna, 50)  # never counted
    play(TournamentFactory(status=TournamentStatus.COMPLETED), cleo, ben, 60)  # other season
    team_cup = cup(participation_type=ParticipationType.TEAM)
    team_one, team_two = TeamFactory(members=[anna]), TeamFactory(members=[ben])
    one = RegistrationFactory(tournament=team_cup, user=None, team=team_one)
    two = RegistrationFactory(tournament=team_cup, user=None, team=team_two)
    MatchFactory(participant1=one, participant2=two, winner=one, completed_at=at(70))
    return season, game, (anna, ben, cleo), (team_one, team_two)


def test_season_totals_sum_live_and_completed_tournaments_of_the_season():
    season, _, (anna, ben, cleo), _ = _season_fixture()

    totals = {
        row.competitor_id: row
        for row in aggregation.competitor_totals_across_tournaments(
            participant_type="solo", season_id=season.pk
        )
    }

    assert sorted(totals) == sorted([anna.pk, ben.pk, cleo.pk])
    a, b, c = totals[anna.pk], totals[ben.pk], totals[cleo.pk]
    assert (a.points, a.wins, a.losses, a.matches_played, a.tournaments_played) == (3, 1, 2, 3, 3)
    assert (b.points, b.wins, b.losses, b.matches_played, b.tournaments_played) == (5, 1, 1, 2, 2)
    assert (c.points, c.wins, c.losses, c.matches_played, c.tournaments_played) == (3, 1, 0, 1, 1)
    assert a.earliest_win_at == at(10)
    assert b.earliest_win_at == at(20)
    assert all(row.registration_id is None for row in totals.values())


def test_season_totals_narrow_to_one_game():
    season, game, (anna, ben, _), _ = _season_fixture()

    totals = {
        row.competitor_id: row
        for row in aggregation.competitor_totals_across_tournaments(
            participant_type="solo", season_id=season.pk, game_id=game.pk
        )
    }

    assert sorted(totals) == sorted([anna.pk, ben.pk])
    assert totals[anna.pk].tournaments_played == 2


def test_team_board_ranks_teams_and_never_credits_members():
    season, _, _, (team_one, team_two) = _season_fixture()

    totals = {
        row.competitor_id: row
        for row in aggregation.competitor_totals_across_tournaments(
            participant_type="team", season_id=season.pk
        )
    }

    assert sorted(totals) == sorted([team_one.pk, team_two.pk])
    assert totals[team_one.pk].wins == 1
    assert totals[team_two.pk].losses == 1


def test_all_time_totals_span_seasons_and_take_one_query(django_assert_num_queries):
    _, _, (anna, ben, cleo), _ = _season_fixture()

    with django_assert_num_queries(1):
        rows = aggregation.competitor_totals_across_tournaments(participant_type="solo")

    totals = {row.competitor_id: row for row in rows}
    assert totals[cleo.pk].wins == 2  # the other season's win counts all-time
    assert totals[ben.pk].tournaments_played == 3
    assert totals[anna.pk].tournaments_played == 3


def test_totals_for_the_tournaments_of_a_user_include_team_rosters():
    anna, ben = UserFactory(username="anna"), UserFactory(username="ben")
    solo = TournamentFactory()
    mine = RegistrationFactory(tournament=solo, user=anna)
    other = RegistrationFactory(tournament=solo, user=ben)
    MatchFactory(participant1=mine, participant2=other, winner=mine, completed_at=at(1))
    team_cup = TournamentFactory(participation_type=ParticipationType.TEAM)
    squad = TeamFactory(members=[anna, ben])
    RegistrationFactory(tournament=team_cup, user=None, team=squad)
    RegistrationFactory(tournament=team_cup, user=None, team=TeamFactory())
    elsewhere = TournamentFactory()
    RegistrationFactory(tournament=elsewhere, user=ben)

    rows = aggregation.totals_for_tournaments_of_user(anna.pk)

    assert sorted({row.tournament_id for row in rows}) == sorted([solo.pk, team_cup.pk])
    assert len(rows) == 4


def test_counted_matches_lists_only_completed_and_forfeit_in_id_order():
    cup = build_solo_cup()

    rows = aggregation.counted_match_rows([cup.tournament.pk])

    expected = [cup.matches[name].pk for name in ("m1", "m2", "m3", "m5")]
    assert [match_id for match_id, *_ in rows] == expected
    winners = [winner for _, _, _, _, winner, _, _ in rows]
    assert (winners[2], winners[1]) == (cup.registrations["B"].pk, None)
    assert {tournament_id for _, tournament_id, *_ in rows} == {cup.tournament.pk}


def test_timestamps_come_through_psycopg_c_loader_with_the_same_instants():
    from django.db import connection

    cup = build_solo_cup()
    totals = _by_name(cup, aggregation.tournament_totals(cup.tournament.pk))
    assert (totals["A"].earliest_win_at, totals["A"].last_updated_at) == (at(1), at(2))

    if connection.vendor != "postgresql":
        return  # SQLite returns text; `as_utc` parses it (checked above)
    with connection.cursor() as cursor:
        aggregation.register_fast_loaders(cursor)
        loader = cursor.cursor.adapters.get_loader(
            cursor.cursor.adapters.types["timestamptz"].oid, 0
        )
    # psycopg swaps its Python class for the compiled one of psycopg-binary when registered
    assert loader.__module__.startswith("psycopg_binary")
