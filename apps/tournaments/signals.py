"""Result changes schedule board invalidation for after the transaction commits."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from apps.tournaments.models import (
    Dispute,
    Game,
    Match,
    ParticipationType,
    Registration,
    Season,
    Tournament,
)
from apps.tournaments.services.board_cache import (
    BoardRef,
    Scope,
    boards_fed_by_tournaments,
    schedule_tournament_invalidation,
)


@receiver(post_save, sender=Match)
@receiver(post_delete, sender=Match)
@receiver(post_save, sender=Registration)
@receiver(post_delete, sender=Registration)
def invalidate_on_result_change(
    sender: type, instance: Match | Registration, **kwargs: Any
) -> None:
    schedule_tournament_invalidation([instance.tournament_id])


@receiver(post_save, sender=Dispute)
def invalidate_on_dispute_change(sender: type, instance: Dispute, **kwargs: Any) -> None:
    tournament_id = (
        Match.objects.filter(pk=instance.match_id).values_list("tournament_id", flat=True).first()
    )
    if tournament_id is not None:
        schedule_tournament_invalidation([tournament_id])


@receiver(m2m_changed, sender=Registration.roster.through)
def invalidate_on_roster_change(
    sender: type, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, Registration):
        schedule_tournament_invalidation([instance.tournament_id])
    elif pk_set:
        tournament_ids = Registration.objects.filter(pk__in=pk_set).values_list(
            "tournament_id", flat=True
        )
        schedule_tournament_invalidation(list(tournament_ids))


@receiver(pre_save, sender=Tournament)
def remember_tournament_placement(sender: type, instance: Tournament, **kwargs: Any) -> None:
    """A tournament that moves season, game or type leaves stale boards where it was."""
    instance._previous_placement = None  # type: ignore[attr-defined]
    if instance.pk is not None:
        instance._previous_placement = (  # type: ignore[attr-defined]
            Tournament.objects.filter(pk=instance.pk)
            .values_list("season__slug", "game__slug", "participation_type")
            .first()
        )


@receiver(pre_delete, sender=Registration)
def invalidate_histories_of_removed_registration(
    sender: type, instance: Registration, **kwargs: Any
) -> None:
    """After the delete nobody can tell who was registered: name their histories now."""
    user_ids = {instance.user_id, *instance.roster.values_list("id", flat=True)} - {None}
    schedule_tournament_invalidation(
        [instance.tournament_id],
        extra_boards=[BoardRef(Scope.HISTORY, user_id=user_id) for user_id in user_ids],
    )


@receiver(pre_delete, sender=Tournament)
def invalidate_boards_of_removed_tournament(
    sender: type, instance: Tournament, **kwargs: Any
) -> None:
    """Resolve the boards while the tournament and its registrations still exist."""
    schedule_tournament_invalidation([], extra_boards=boards_fed_by_tournaments([instance.pk]))


@receiver(post_save, sender=Tournament)
def invalidate_on_tournament_change(sender: type, instance: Tournament, **kwargs: Any) -> None:
    previous = getattr(instance, "_previous_placement", None)
    schedule_tournament_invalidation([instance.pk], extra_placements=[previous] if previous else [])


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def invalidate_history_of_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    """A deleted user's history is a 404 from now on, not a cached empty list."""
    schedule_tournament_invalidation(
        [], extra_boards=[BoardRef(Scope.HISTORY, user_id=instance.pk)]
    )


@receiver(post_delete, sender=Season)
@receiver(post_delete, sender=Game)
def invalidate_boards_of_removed_season_or_game(
    sender: type, instance: Season | Game, **kwargs: Any
) -> None:
    """A cached season or all-time board proves its season and game exist; once one is gone,
    its boards go too, so the next read answers 404 / 400 instead of a cached board."""
    if isinstance(instance, Season):
        seasons = [instance.slug]
        games = [None, *Game.objects.values_list("slug", flat=True)]
    else:
        seasons = list(Season.objects.values_list("slug", flat=True))
        games = [instance.slug]
    boards: list[BoardRef] = []
    for participant_type in ParticipationType.values:
        for game in games:
            boards += [
                BoardRef(Scope.SEASON, season=season, game=game, participant_type=participant_type)
                for season in seasons
            ]
            if isinstance(instance, Game):
                boards.append(
                    BoardRef(Scope.ALL_TIME, game=game, participant_type=participant_type)
                )
    schedule_tournament_invalidation([], extra_boards=boards)
