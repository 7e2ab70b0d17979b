"""Registrations: one competitor (a user, or a team with its roster) in one tournament."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete
from django.dispatch import receiver
from django.utils import timezone

from apps.tournaments.boards import BoardRef
from apps.tournaments.events import announce_results_changed
from apps.tournaments.models.base import BoardFeedingModel
from apps.tournaments.models.competition import ParticipationType, Team, Tournament
from apps.tournaments.querysets import RegistrationQuerySet


class RegistrationStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class Registration(BoardFeedingModel):
    """One competitor in one tournament: a user (solo) or a team with the roster it registered."""

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="registrations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="registrations",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="registrations"
    )
    status = models.CharField(
        max_length=16, choices=RegistrationStatus.choices, default=RegistrationStatus.PENDING
    )
    registered_at = models.DateTimeField(default=timezone.now)
    seed = models.PositiveIntegerField(null=True, blank=True)
    roster = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="roster_registrations"
    )

    objects = RegistrationQuerySet.as_manager()

    board_fields = frozenset({"tournament", "user", "team", "status", "seed"})

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tournament", "status"], name="registration_tournament_status"),
            models.Index(fields=["user", "status"], name="registration_user_status"),
            models.Index(fields=["team", "status"], name="registration_team_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(team__isnull=True))
                | (Q(user__isnull=True) & Q(team__isnull=False)),
                name="registration_exactly_one_of_user_or_team",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RegistrationStatus.values),
                name="registration_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"registration #{self.pk} in tournament #{self.tournament_id}"

    @property
    def competitor_id(self) -> int | None:
        """The id ranked on boards: the user's for solo, the team's for team."""
        return self.user_id if self.user_id is not None else self.team_id

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if (self.user_id is None) == (self.team_id is None):
            errors["user"] = "A registration has exactly one of user or team."
        elif self.tournament_id is not None:
            participation_type = (
                Tournament.objects.filter(pk=self.tournament_id)
                .values_list("participation_type", flat=True)
                .first()
            )
            if participation_type == ParticipationType.SOLO and self.team_id is not None:
                errors["team"] = "A solo tournament takes user registrations, not teams."
            if participation_type == ParticipationType.TEAM and self.user_id is not None:
                errors["user"] = "A team tournament takes team registrations, not users."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Announces its tournament (and the one it left), and the history of a user it was
        taken from."""
        self.clean()
        update_fields = kwargs.get("update_fields")
        with transaction.atomic(using=self._state.db, savepoint=False):
            before = self.stored_values("tournament_id", "user_id") or {}
            super().save(*args, **kwargs)
            if self.saves_board_fields(update_fields):
                left = before.get("user_id")
                boards = [BoardRef.history(left)] if left not in (None, self.user_id) else []
                self.announce([self.tournament_id, before.get("tournament_id")], boards)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Names the histories of its user and roster: after the delete nothing links them."""
        with transaction.atomic(using=self._state.db, savepoint=False):
            users = {self.user_id, *self.roster.values_list("id", flat=True)} - {None}
            deleted = super().delete(*args, **kwargs)
            self.announce([self.tournament_id], [BoardRef.history(user) for user in users])
        return deleted


@receiver(m2m_changed, sender=Registration.roster.through)
def announce_roster_change(
    sender: type, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """A roster edit (`roster.add()`, `remove()`, `set()`, `clear()`) changes who has the
    tournament in their history. `clear()` names its users before they are removed."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if reverse:  # instance is a user; pk_set, registrations (all of them on clear)
        registrations = instance.roster_registrations.all()
        if pk_set is not None:
            registrations = Registration.objects.filter(pk__in=pk_set)
        tournament_ids = registrations.values_list("tournament_id", flat=True)
        announce_results_changed(tournament_ids, [BoardRef.history(instance.pk)])
        return
    users = pk_set if pk_set is not None else set(instance.roster.values_list("id", flat=True))
    announce_results_changed([instance.tournament_id], [BoardRef.history(user) for user in users])


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def announce_deleted_user(sender: type, instance: Any, **kwargs: Any) -> None:
    """A deleted user's history is a 404 from now on, not a cached list."""
    announce_results_changed([], [BoardRef.history(instance.pk)])
