"""The one invalidation path: what each single write announces, the outbox row it leaves in its
transaction, and how that row is applied (at commit, or later by a drain)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.db import transaction

from apps.common import redis_gateway
from apps.tournaments.boards import BoardRef, Placement, Scope
from apps.tournaments.events import ResultChange, announcements_batched, results_changed
from apps.tournaments.models import (
    DisputeStatus,
    Game,
    PendingInvalidation,
    RegistrationStatus,
    Season,
)
from apps.tournaments.services.board_cache import invalidation, store
from apps.tournaments.tests.factories import (
    DisputeFactory,
    GameFactory,
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.reads import is_cached
from apps.tournaments.tests.scenarios import at, build_round_robin

Call = tuple[list[int], set[BoardRef]]


@pytest.fixture
def announced(db) -> Iterator[list[Call]]:
    """Each announcement: (sorted tournament ids, boards named)."""
    calls: list[Call] = []

    def record(sender: object, change: ResultChange, **kwargs: object) -> None:
        calls.append((sorted(change.tournament_ids), set(change.boards)))

    results_changed.connect(record, dispatch_uid="test_invalidation")
    yield calls
    results_changed.disconnect(dispatch_uid="test_invalidation")


def _cache(board: BoardRef) -> None:
    version = store.read(board, None).version
    assert version is not None
    assert store.store_document(board, version, b"{}")


# --- what single writes announce ------------------------------------------------------------------


def test_a_match_save_announces_its_tournament_once(announced):
    tournament = build_round_robin(2)
    match = tournament.matches.get()
    announced.clear()

    match.score1 = 5
    match.save()

    assert announced == [([tournament.pk], set())]


def test_a_match_saved_with_only_its_schedule_announces_nothing(announced):
    tournament = build_round_robin(2)
    match = tournament.matches.get()
    announced.clear()

    match.scheduled_at = at(90)
    match.save(update_fields=["scheduled_at"])

    assert announced == []


def test_a_dispute_announces_only_when_its_status_changes(announced):
    tournament = build_round_robin(2)
    dispute = DisputeFactory(match=tournament.matches.get())
    announced.clear()

    dispute.notes = "replay checked"
    dispute.save()
    assert announced == []

    dispute.status = DisputeStatus.RESOLVED
    dispute.save()
    assert announced == [([tournament.pk], set())]


def test_a_registration_given_to_another_user_names_the_first_users_history(announced):
    tournament = build_round_robin(2)
    registration = tournament.registrations.order_by("pk").first()
    first_user = registration.user_id
    announced.clear()

    registration.user = UserFactory(username="heir")
    registration.save()

    assert announced == [([tournament.pk], {BoardRef.history(first_user)})]


def test_a_registration_deleted_names_its_user_and_roster(announced):
    team_cup = TournamentFactory(participation_type="team")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    registration = RegistrationFactory(
        tournament=team_cup, user=None, team=TeamFactory(), status=RegistrationStatus.PENDING
    )
    registration.roster.set([alice, bob])
    announced.clear()

    registration.delete()

    assert announced == [([team_cup.pk], {BoardRef.history(alice.pk), BoardRef.history(bob.pk)})]


def test_roster_edits_name_the_histories_of_the_users_added_and_removed(announced):
    team_cup = TournamentFactory(participation_type="team")
    registration = RegistrationFactory(tournament=team_cup, user=None, team=TeamFactory())
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    announced.clear()

    registration.roster.add(alice, bob)
    registration.roster.remove(bob)
    registration.roster.clear()

    assert announced == [
        ([team_cup.pk], {BoardRef.history(alice.pk), BoardRef.history(bob.pk)}),
        ([team_cup.pk], {BoardRef.history(bob.pk)}),
        ([team_cup.pk], {BoardRef.history(alice.pk)}),
    ]


def test_a_tournament_moved_to_another_season_names_where_it_was(announced):
    old = SeasonFactory(slug="2031-old")
    tournament = TournamentFactory(season=old, game=GameFactory(slug="chess"))
    announced.clear()

    tournament.season = SeasonFactory(slug="2031-new")
    tournament.save()

    assert announced[-1] == ([tournament.pk], Placement("2031-old", "chess", "solo").boards())


def test_a_deleted_user_names_their_history(announced):
    user = UserFactory(username="leaving")
    user_id = user.pk

    user.delete()

    assert announced == [([], {BoardRef.history(user_id)})]


def test_a_renamed_game_names_the_boards_of_its_old_slug(announced):
    game = GameFactory(slug="chess")
    SeasonFactory(slug="2031-spring")
    announced.clear()

    game.slug = "chess960"
    game.save()
    Game.objects.get(pk=game.pk).save()  # no rename: nothing

    [(tournaments, boards)] = announced
    assert tournaments == []
    assert BoardRef(Scope.ALL_TIME, game="chess", participant_type="team") in boards
    assert BoardRef(Scope.SEASON, season="2031-spring", game="chess", participant_type="solo") in (
        boards
    )


def test_a_deleted_season_names_its_boards(announced):
    season = SeasonFactory(slug="2031-gone")
    GameFactory(slug="chess")

    Season.objects.get(pk=season.pk).delete()

    [(_, boards)] = announced
    assert BoardRef(Scope.SEASON, season="2031-gone", game=None, participant_type="solo") in boards
    assert BoardRef(Scope.SEASON, season="2031-gone", game="chess", participant_type="team") in (
        boards
    )


def test_a_season_whose_end_moves_names_its_boards_and_a_new_name_alone_does_not(announced):
    season = SeasonFactory(slug="2031-ending")
    stored = Season.objects.get(pk=season.pk)

    stored.name = "Renamed"
    stored.save()
    assert announced == []
    stored.ends_on = dt.date(2031, 9, 1)
    stored.save()

    [(_, boards)] = announced
    assert BoardRef(Scope.SEASON, season="2031-ending", game=None, participant_type="team") in (
        boards
    )


def test_announcements_inside_a_batch_are_sent_once(announced):
    tournament = build_round_robin(3)
    announced.clear()

    with announcements_batched():
        for match in tournament.matches.all():
            match.score2 += 1
            match.save()
        assert announced == []

    assert announced == [([tournament.pk], set())]


# --- the outbox row and its application -----------------------------------------------------------


def test_each_announcement_leaves_one_row_in_the_writers_transaction(db):
    tournament = build_round_robin(2)
    before = PendingInvalidation.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        MatchFactory(
            tournament=tournament,
            participant1=tournament.registrations.first(),
            participant2=tournament.registrations.last(),
            completed_at=at(3),
        )
        assert PendingInvalidation.objects.count() == before + 1
        raise RuntimeError("roll back")

    assert PendingInvalidation.objects.count() == before  # gone with the result


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_takes_its_row_and_callback_with_it(use_redis):
    # given two cached boards
    kept, dropped = build_round_robin(2), build_round_robin(2)
    for tournament in (kept, dropped):
        _cache(BoardRef.tournament(tournament.pk))
    PendingInvalidation.objects.all().delete()

    # when one write of a transaction is rolled back to a savepoint and the other commits
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            MatchFactory(
                tournament=dropped,
                participant1=dropped.registrations.first(),
                participant2=dropped.registrations.last(),
                completed_at=at(3),
            )
            raise RuntimeError("roll back the savepoint")
        MatchFactory(
            tournament=kept,
            participant1=kept.registrations.first(),
            participant2=kept.registrations.last(),
            completed_at=at(4),
        )

    # then only the committed write invalidated its board; its row, applied, waits for a drain
    assert is_cached(BoardRef.tournament(dropped.pk))
    assert not is_cached(BoardRef.tournament(kept.pk))
    [row] = PendingInvalidation.objects.all()
    assert row.tournament_ids == [kept.pk]
    assert store.applied_rows([row.pk]) == {row.pk}


@pytest.mark.django_db(transaction=True)
def test_a_drain_deletes_applied_rows_without_applying_them_again(use_redis, settings):
    # given a result committed and applied, and its board cached again since
    tournament = build_round_robin(2)
    board = BoardRef.tournament(tournament.pk)
    PendingInvalidation.objects.all().delete()
    match = tournament.matches.get()
    match.score1 = 4
    match.save()
    _cache(board)

    # when a drain takes the row
    settings.BOARD_INVALIDATION_GRACE_SECONDS = 0
    assert invalidation.drain() == 0

    # then the row is gone and the board cached after the commit stays
    assert PendingInvalidation.objects.count() == 0
    assert is_cached(board)


@pytest.mark.django_db(transaction=True)
def test_a_command_on_the_embedded_redis_leaves_its_change_for_the_serving_process(
    embedded_redis, settings
):
    # given a result committed by a process with its own embedded Redis (an import, a shell)
    tournament = build_round_robin(2)
    PendingInvalidation.objects.all().delete()
    match = tournament.matches.get()
    match.score1 = 4
    match.save()
    [row] = PendingInvalidation.objects.all()

    # when the serving process, whose embedded Redis holds the board and no marker, drains
    redis_gateway.reset_for_tests()  # another process: another embedded Redis
    board = BoardRef.tournament(tournament.pk)
    _cache(board)
    settings.BOARD_INVALIDATION_GRACE_SECONDS = 0
    assert invalidation.drain() == 1

    # then its cache is invalidated too
    assert not is_cached(board)
    assert not PendingInvalidation.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_drain_applies_only_rows_older_than_the_grace_period(use_redis, settings):
    tournament = build_round_robin(2)
    board = BoardRef.tournament(tournament.pk)
    PendingInvalidation.objects.all().delete()
    row = PendingInvalidation.objects.create(tournament_ids=[tournament.pk])
    _cache(board)

    # a row younger than the grace period is its writer's to apply
    settings.BOARD_INVALIDATION_GRACE_SECONDS = 3600
    assert invalidation.drain() == 0
    assert is_cached(board)

    # once older, any serving process applies it and deletes it
    settings.BOARD_INVALIDATION_GRACE_SECONDS = 0
    assert invalidation.drain() == 1
    assert not is_cached(board)
    assert not PendingInvalidation.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_after_a_redis_failure_the_next_drain_applies_every_row_whatever_its_age(
    use_redis, settings, monkeypatch
):
    # given a fresh row (within the grace period) and a cached board it touches
    tournament = build_round_robin(2)
    board = BoardRef.tournament(tournament.pk)
    PendingInvalidation.objects.all().delete()
    PendingInvalidation.objects.create(tournament_ids=[tournament.pk])
    _cache(board)
    settings.BOARD_INVALIDATION_GRACE_SECONDS = 3600

    # when this process sees Redis fail once
    monkeypatch.setattr(redis_gateway, "_failures", redis_gateway.failure_count() + 1)

    # then it stops trusting the cache until a drain has applied every pending row
    assert invalidation.is_cache_trusted() is False
    assert invalidation.drain() == 1
    assert not is_cached(board)
    assert invalidation.is_cache_trusted() is True
