"""Bulk writes schedule the invalidation the signals schedule for single saves (querysets.py):
which tournaments, placements and histories, at what cost in queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db.models import F

from apps.tournaments import querysets
from apps.tournaments.models import (
    Dispute,
    DisputeStatus,
    Match,
    MatchState,
    ParticipationType,
    Registration,
    Tournament,
    TournamentStatus,
)
from apps.tournaments.services.board_cache import BoardRef, Scope
from apps.tournaments.services.board_documents import PageSpec
from apps.tournaments.services.leaderboard_service import LeaderboardService
from apps.tournaments.tests.factories import (
    DisputeFactory,
    GameFactory,
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at, build_round_robin

pytestmark = pytest.mark.django_db

Call = tuple[list[int], set[Any], set[BoardRef]]


@pytest.fixture
def scheduled(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """What the querysets pass to `schedule_tournament_invalidation`, call by call."""
    calls: list[Call] = []

    def record(ids: list[int], extra_placements: Any = (), extra_boards: Any = ()) -> None:
        calls.append((list(ids), set(extra_placements), set(extra_boards)))

    monkeypatch.setattr(querysets, "schedule_tournament_invalidation", record)
    return calls


@pytest.fixture
def two_cups() -> tuple[Tournament, Tournament]:
    return build_round_robin(2), build_round_robin(2)


# --- Matches --------------------------------------------------------------------------------------


def test_match_update_names_its_tournament_and_costs_one_extra_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, _ = two_cups

    with django_assert_num_queries(2):  # the tournaments of the rows, then the UPDATE
        updated = Match.objects.filter(tournament=first).update(score1=F("score1") + 1)

    assert updated == 1
    assert scheduled == [([first.pk], set(), set())]


def test_match_moved_by_update_names_its_old_and_new_tournament(two_cups, scheduled):
    first, second = two_cups

    Match.objects.filter(tournament=first).update(tournament=second)

    assert scheduled == [([first.pk, second.pk], set(), set())]


def test_match_moved_by_bulk_update_names_both_tournaments_in_one_extra_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, second = two_cups
    match = Match.objects.get(tournament=first)
    match.tournament = second
    match.score2 = 7

    with django_assert_num_queries(2):  # bulk_update runs one update() for its one batch
        Match.objects.bulk_update([match], ["tournament", "score2"])

    assert scheduled == [([first.pk, second.pk], set(), set())]


def test_update_that_matches_no_row_schedules_nothing(two_cups, scheduled):
    assert Match.objects.filter(state=MatchState.LIVE).update(state=MatchState.COMPLETED) == 0
    assert scheduled == []


def test_match_bulk_create_names_the_tournaments_without_a_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, second = two_cups
    new_matches = [
        Match(
            tournament=cup,
            participant1=cup.registrations.order_by("pk")[0],
            participant2=cup.registrations.order_by("pk")[1],
            state=MatchState.SCHEDULED,
        )
        for cup in (first, second)
    ]

    with django_assert_num_queries(1):  # the INSERT
        Match.objects.bulk_create(new_matches)

    assert scheduled == [([first.pk, second.pk], set(), set())]


def test_match_upsert_names_the_tournament_it_leaves(two_cups, scheduled):
    first, second = two_cups
    stored = Match.objects.get(tournament=first)
    seats = list(second.registrations.order_by("pk"))
    moved = Match(
        pk=stored.pk,
        tournament=second,
        participant1=seats[0],
        participant2=seats[1],
        state=MatchState.SCHEDULED,
    )

    Match.objects.bulk_create(
        [moved],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["tournament", "participant1", "participant2", "state", "winner"],
    )

    assert Match.objects.get(pk=stored.pk).tournament_id == second.pk
    assert scheduled == [([first.pk, second.pk], set(), set())]


# --- Registrations --------------------------------------------------------------------------------


def test_registration_update_names_the_histories_of_the_users_it_held(two_cups, scheduled):
    first, _ = two_cups
    registration = first.registrations.order_by("pk").first()
    heir = UserFactory(username="heir")

    Registration.objects.filter(pk=registration.pk).update(user=heir)

    assert scheduled == [
        ([first.pk], set(), {BoardRef(Scope.HISTORY, user_id=registration.user_id)})
    ]


def test_registration_bulk_create_names_its_tournament(two_cups, scheduled):
    first, _ = two_cups

    Registration.objects.bulk_create([Registration(tournament=first, user=UserFactory())])

    assert scheduled == [([first.pk], set(), set())]


# --- Disputes -------------------------------------------------------------------------------------


def test_dispute_update_names_the_tournament_of_its_match(two_cups, scheduled):
    first, _ = two_cups
    dispute = DisputeFactory(match=Match.objects.get(tournament=first))

    Dispute.objects.filter(pk=dispute.pk).update(status=DisputeStatus.RESOLVED)

    assert scheduled == [([first.pk], set(), set())]


def test_dispute_moved_to_another_match_names_both_tournaments_in_one_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, second = two_cups
    dispute = DisputeFactory(match=Match.objects.get(tournament=first))
    other_match = Match.objects.get(tournament=second)

    with django_assert_num_queries(2):
        Dispute.objects.filter(pk=dispute.pk).update(match=other_match)

    assert scheduled == [([first.pk, second.pk], set(), set())]


def test_dispute_bulk_create_names_the_tournament_of_its_match(two_cups, scheduled):
    _, second = two_cups

    Dispute.objects.bulk_create([Dispute(match=Match.objects.get(tournament=second))])

    assert scheduled == [([second.pk], set(), set())]


# --- Tournaments ----------------------------------------------------------------------------------


def test_tournament_update_names_where_it_was_before(scheduled):
    season = SeasonFactory(slug="2031-autumn")
    game = GameFactory(slug="valorant")
    tournament = TournamentFactory(season=season, game=game)

    Tournament.objects.filter(season=season).update(season=None)

    assert scheduled == [([tournament.pk], {("2031-autumn", "valorant", "solo")}, set())]


def test_tournament_bulk_create_names_the_new_tournaments(scheduled):
    game = GameFactory()

    created = Tournament.objects.bulk_create(
        [Tournament(name="Bulk Cup", game=game, participation_type=ParticipationType.TEAM)]
    )

    assert scheduled == [([created[0].pk], set(), set())]


def test_a_tournament_moved_out_of_its_season_by_update_leaves_the_season_board(
    transactional_db, flags_on
):
    # given a season board, cached, with one completed tournament's two players
    season = SeasonFactory(slug="2031-winter")
    tournament = TournamentFactory(season=season, status=TournamentStatus.COMPLETED)
    winner, loser = (
        RegistrationFactory(tournament=tournament),
        RegistrationFactory(tournament=tournament),
    )
    MatchFactory(participant1=winner, participant2=loser, winner=winner, completed_at=at(1))
    service = LeaderboardService(user_id=None)
    assert service.season_page("2031-winter", None, "solo", PageSpec()).cached is False
    assert service.season_page("2031-winter", None, "solo", PageSpec()).cached is True

    # when the tournament leaves the season through a queryset update (it commits at once)
    Tournament.objects.filter(season=season).update(season=None)

    # then the season board is computed again, and is empty
    result = service.season_page("2031-winter", None, "solo", PageSpec())
    assert result.cached is False
    assert json.loads(result.body)["count"] == 0
