"""Bulk writes over HTTP: a board served from the cache shows a result written by
`QuerySet.update()`, `bulk_update()`, `bulk_create()` or a queryset `delete()` at the next read.

Real commits (transactional tests): the invalidation runs once the write's transaction commits.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.tournaments.boards import BoardRef
from apps.tournaments.models import (
    Match,
    MatchState,
    PendingInvalidation,
    Registration,
    RegistrationStatus,
)
from apps.tournaments.tests.factories import UserFactory
from apps.tournaments.tests.reads import is_cached
from apps.tournaments.tests.scenarios import at, build_round_robin, build_solo_cup

pytestmark = pytest.mark.django_db(transaction=True)

BOARD = "/api/tournaments/{}/leaderboard/"
HISTORY = "/api/tournaments/leaderboards/participant/{}/history/"


def _served_from_cache(client, url: str) -> dict:
    """Read a page twice: the second answer comes from the cache (304 on the page's ETag)."""
    first = client.get(url)
    assert first.status_code == 200
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    return first.json()


def _row(body: dict, user_id: int) -> dict:
    return next(row for row in body["results"] if row["participant_id"] == user_id)


def test_a_result_written_by_queryset_update_is_seen_by_the_next_read(player_client, flags_on):
    # given the solo cup's board, cached; D-A (5-0) is disputed and counts for nobody
    cup = build_solo_cup()
    url = BOARD.format(cup.tournament.pk)
    before = _served_from_cache(player_client, url)
    assert _row(before, cup.users["D"].pk)["wins"] == 0

    # when the dispute is settled for D by a queryset update, selected by the state it leaves
    updated = Match.objects.filter(tournament=cup.tournament, state=MatchState.DISPUTED).update(
        state=MatchState.COMPLETED, winner=cup.registrations["D"], completed_at=at(20)
    )

    # then the next read shows D's win and A's loss
    assert updated == 1
    after = player_client.get(url).json()
    d_row, a_row = _row(after, cup.users["D"].pk), _row(after, cup.users["A"].pk)
    assert (d_row["wins"], a_row["losses"]) == (1, 1)


def test_results_written_by_bulk_update_are_seen_by_the_next_read(player_client, flags_on):
    # given a round robin of three whose board is cached: seat 0 beat seats 1 and 2
    tournament = build_round_robin(3)
    url = BOARD.format(tournament.pk)
    seat = list(tournament.registrations.order_by("pk"))
    assert _row(_served_from_cache(player_client, url), seat[0].user_id)["points"] == 6

    # when both of seat 0's matches are turned into draws with bulk_update()
    matches = list(Match.objects.filter(tournament=tournament, participant1=seat[0]))
    for match in matches:
        match.winner, match.score1, match.score2 = None, 1, 1
    Match.objects.bulk_update(matches, ["winner", "score1", "score2"])

    # then the next read shows two draws for seat 0
    row = _row(player_client.get(url).json(), seat[0].user_id)
    assert (row["points"], row["wins"], row["draws"]) == (2, 0, 2)


def test_a_match_added_by_bulk_create_is_seen_by_the_next_read(player_client, flags_on):
    # given the solo cup's board, cached; F has played nothing
    cup = build_solo_cup()
    url = BOARD.format(cup.tournament.pk)
    assert _row(_served_from_cache(player_client, url), cup.users["F"].pk)["matches_played"] == 0

    # when a match F won against B is added with bulk_create()
    Match.objects.bulk_create(
        [
            Match(
                tournament=cup.tournament,
                participant1=cup.registrations["F"],
                participant2=cup.registrations["B"],
                score1=3,
                score2=1,
                winner=cup.registrations["F"],
                state=MatchState.COMPLETED,
                completed_at=at(30),
            )
        ]
    )

    # then the next read counts it
    row = _row(player_client.get(url).json(), cup.users["F"].pk)
    assert (row["matches_played"], row["wins"], row["score_for"]) == (1, 1, 3)


def test_matches_removed_by_a_queryset_delete_are_gone_at_the_next_read(player_client, flags_on):
    # given the solo cup's board, cached; A has a win and a draw
    cup = build_solo_cup()
    url = BOARD.format(cup.tournament.pk)
    assert _row(_served_from_cache(player_client, url), cup.users["A"].pk)["matches_played"] == 2

    # when A's matches as first seat are deleted through the queryset
    Match.objects.filter(participant1=cup.registrations["A"]).delete()

    # then the next read no longer counts them
    row = _row(player_client.get(url).json(), cup.users["A"].pk)
    assert (row["matches_played"], row["points"]) == (0, 0)


def test_a_registration_cancelled_by_queryset_update_leaves_the_board(player_client, flags_on):
    tournament = build_round_robin(3)
    url = BOARD.format(tournament.pk)
    assert _served_from_cache(player_client, url)["count"] == 3
    leaving = tournament.registrations.order_by("pk").first()

    # the filter no longer matches once the row is written
    Registration.objects.filter(
        tournament=tournament, user=leaving.user, status=RegistrationStatus.CONFIRMED
    ).update(status=RegistrationStatus.CANCELLED)

    body = player_client.get(url).json()
    assert body["count"] == 2
    assert leaving.user_id not in [row["participant_id"] for row in body["results"]]


def test_a_registration_added_by_bulk_create_joins_the_board(player_client, flags_on):
    tournament = build_round_robin(3)
    url = BOARD.format(tournament.pk)
    assert _served_from_cache(player_client, url)["count"] == 3
    newcomer = UserFactory(username="bulk-newcomer")

    Registration.objects.bulk_create(
        [Registration(tournament=tournament, user=newcomer, status=RegistrationStatus.CONFIRMED)]
    )

    body = player_client.get(url).json()
    assert body["count"] == 4
    assert _row(body, newcomer.pk)["matches_played"] == 0


def test_a_registration_given_to_another_user_drops_the_first_users_history(
    player_client, flags_on
):
    # given a user's history, cached, listing one tournament
    cup = build_solo_cup()
    url = HISTORY.format(cup.users["F"].pk)
    tournaments = [
        item["tournament_id"] for item in _served_from_cache(player_client, url)["results"]
    ]
    assert tournaments == [cup.tournament.pk]

    # when their registration is given to someone else by a queryset update
    Registration.objects.filter(pk=cup.registrations["F"].pk).update(
        user=UserFactory(username="bulk-heir")
    )

    # then the first user's history no longer lists it
    assert player_client.get(url).json()["results"] == []


def test_a_rolled_back_bulk_update_leaves_the_cached_board(player_client, flags_on):
    tournament = build_round_robin(3)
    url = BOARD.format(tournament.pk)
    _served_from_cache(player_client, url)
    recorded = PendingInvalidation.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        Match.objects.filter(tournament=tournament).update(score1=9)
        raise RuntimeError("abandon the write")

    assert is_cached(BoardRef.tournament(tournament.pk))
    assert PendingInvalidation.objects.count() == recorded


def test_an_update_of_fields_no_board_shows_announces_nothing(
    player_client, flags_on, django_assert_num_queries
):
    # given a cached board
    tournament = build_round_robin(3)
    url = BOARD.format(tournament.pk)
    _served_from_cache(player_client, url)
    recorded = PendingInvalidation.objects.count()

    # when only the schedule of its matches changes: one UPDATE, nothing read or recorded
    with django_assert_num_queries(1):
        Match.objects.filter(tournament=tournament).update(round=7)

    # then the board stays cached
    assert is_cached(BoardRef.tournament(tournament.pk))
    assert PendingInvalidation.objects.count() == recorded
