"""Bulk writes announce what they change (querysets.py), as single saves do: which tournaments
and boards, once per call, at what cost in queries.

The costs counted include the outbox row the one receiver writes per announcement.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db.models import F

from apps.tournaments.boards import BoardRef, Placement, Scope
from apps.tournaments.events import ResultChange, results_changed
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
from apps.tournaments.services.board_documents import PageSpec
from apps.tournaments.tests.factories import (
    DisputeFactory,
    GameFactory,
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.reads import body, read
from apps.tournaments.tests.scenarios import at, build_round_robin

pytestmark = pytest.mark.django_db

Call = tuple[list[int], set[BoardRef]]


@pytest.fixture
def scheduled(db) -> Iterator[list[Call]]:
    """What is announced, call by call: (sorted tournament ids, boards named)."""
    calls: list[Call] = []

    def record(sender: object, change: ResultChange, **kwargs: object) -> None:
        calls.append((sorted(change.tournament_ids), set(change.boards)))

    results_changed.connect(record, dispatch_uid="test_querysets")
    yield calls
    results_changed.disconnect(dispatch_uid="test_querysets")


@pytest.fixture
def two_cups() -> tuple[Tournament, Tournament]:
    return build_round_robin(2), build_round_robin(2)


# --- Matches --------------------------------------------------------------------------------------


def test_match_update_names_its_tournament_and_costs_one_extra_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, _ = two_cups

    # the tournaments of the rows, the UPDATE, the outbox row
    with django_assert_num_queries(3):
        updated = Match.objects.filter(tournament=first).update(score1=F("score1") + 1)

    assert updated == 1
    assert scheduled == [([first.pk], set())]


def test_match_moved_by_update_names_its_old_and_new_tournament(two_cups, scheduled):
    first, second = two_cups

    Match.objects.filter(tournament=first).update(tournament=second)

    assert scheduled == [([first.pk, second.pk], set())]


def test_match_moved_by_bulk_update_names_both_tournaments_in_one_extra_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, second = two_cups
    match = Match.objects.get(tournament=first)
    match.tournament = second
    match.score2 = 7

    # bulk_update runs one update() for its one batch: rows' tournaments, UPDATE, outbox row
    with django_assert_num_queries(3):
        Match.objects.bulk_update([match], ["tournament", "score2"])

    assert scheduled == [([first.pk, second.pk], set())]


def test_update_that_matches_no_row_announces_nothing(two_cups, scheduled):
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

    with django_assert_num_queries(2):  # the INSERT and the outbox row
        Match.objects.bulk_create(new_matches)

    assert scheduled == [([first.pk, second.pk], set())]


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
    assert scheduled == [([first.pk, second.pk], set())]


# --- Registrations --------------------------------------------------------------------------------


def test_registration_update_names_the_histories_of_the_users_it_held(two_cups, scheduled):
    first, _ = two_cups
    registration = first.registrations.order_by("pk").first()
    heir = UserFactory(username="heir")

    Registration.objects.filter(pk=registration.pk).update(user=heir)

    assert scheduled == [([first.pk], {BoardRef.history(registration.user_id)})]


def test_registration_bulk_create_names_its_tournament(two_cups, scheduled):
    first, _ = two_cups

    Registration.objects.bulk_create([Registration(tournament=first, user=UserFactory())])

    assert scheduled == [([first.pk], set())]


# --- Disputes -------------------------------------------------------------------------------------


def test_dispute_update_names_the_tournament_of_its_match(two_cups, scheduled):
    first, _ = two_cups
    dispute = DisputeFactory(match=Match.objects.get(tournament=first))
    scheduled.clear()

    Dispute.objects.filter(pk=dispute.pk).update(status=DisputeStatus.RESOLVED)

    assert scheduled == [([first.pk], set())]


def test_dispute_moved_to_another_match_names_both_tournaments_in_one_query(
    two_cups, scheduled, django_assert_num_queries
):
    first, second = two_cups
    dispute = DisputeFactory(match=Match.objects.get(tournament=first))
    other_match = Match.objects.get(tournament=second)
    scheduled.clear()

    with django_assert_num_queries(3):  # both tournaments in one query, UPDATE, outbox row
        Dispute.objects.filter(pk=dispute.pk).update(match=other_match)

    assert scheduled == [([first.pk, second.pk], set())]


def test_dispute_bulk_create_names_the_tournament_of_its_match(two_cups, scheduled):
    _, second = two_cups

    Dispute.objects.bulk_create([Dispute(match=Match.objects.get(tournament=second))])

    assert scheduled == [([second.pk], set())]


# --- Tournaments ----------------------------------------------------------------------------------


def test_tournament_update_names_where_it_was_before(scheduled):
    season = SeasonFactory(slug="2031-autumn")
    game = GameFactory(slug="valorant")
    tournament = TournamentFactory(season=season, game=game)
    scheduled.clear()

    Tournament.objects.filter(season=season).update(season=None)

    assert scheduled == [([tournament.pk], Placement("2031-autumn", "valorant", "solo").boards())]


def test_tournament_bulk_create_names_the_new_tournaments(scheduled):
    game = GameFactory()

    created = Tournament.objects.bulk_create(
        [Tournament(name="Bulk Cup", game=game, participation_type=ParticipationType.TEAM)]
    )

    assert scheduled == [([created[0].pk], set())]


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
    board = BoardRef(Scope.SEASON, season="2031-winter", participant_type="solo")
    assert read(board, PageSpec()).cached is False
    assert read(board, PageSpec()).cached is True

    # when the tournament leaves the season through a queryset update (it commits at once)
    Tournament.objects.filter(season=season).update(season=None)

    # then the season board is computed again, and is empty
    result = read(board, PageSpec())
    assert result.cached is False
    assert body(result)["count"] == 0


def test_an_update_of_fields_no_board_shows_reads_nothing_and_announces_nothing(
    two_cups, scheduled, django_assert_num_queries
):
    first, _ = two_cups
    dispute = DisputeFactory(match=Match.objects.get(tournament=first))
    scheduled.clear()

    with django_assert_num_queries(2):  # the two UPDATEs
        Match.objects.filter(tournament=first).update(round=3, scheduled_at=at(5))
        Dispute.objects.filter(pk=dispute.pk).update(notes="checked the replay")

    assert scheduled == []


def test_a_queryset_delete_names_the_tournaments_and_the_users_it_held(two_cups, scheduled):
    first, second = two_cups
    Match.objects.filter(tournament__in=[first, second]).delete()
    scheduled.clear()
    registration = first.registrations.order_by("pk").first()

    Registration.objects.filter(pk=registration.pk).delete()

    assert scheduled == [([first.pk], {BoardRef.history(registration.user_id)})]


def test_a_tournament_deleted_through_its_queryset_names_every_board_it_fed(scheduled):
    season = SeasonFactory(slug="2031-deleted")
    tournament = build_round_robin(2, season=season)
    players = set(tournament.registrations.values_list("user_id", flat=True))
    place = Placement("2031-deleted", tournament.game.slug, "solo")
    Match.objects.filter(tournament=tournament).delete()  # matches protect the registrations

    Tournament.objects.filter(pk=tournament.pk).delete()

    expected = {BoardRef.tournament(tournament.pk), *place.boards()}
    expected |= {BoardRef.history(user) for user in players}
    assert scheduled[-1] == ([], expected)
