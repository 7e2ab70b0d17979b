"""Matches and their disputes: the results boards are computed from."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.tournaments.models.base import BoardFeedingModel
from apps.tournaments.models.competition import Tournament
from apps.tournaments.models.registration import Registration
from apps.tournaments.querysets import DisputeQuerySet, TournamentRowQuerySet


class MatchState(models.TextChoices):
    SCHEDULED = "scheduled"
    LIVE = "live"
    PENDING_RESULT = "pending_result"
    COMPLETED = "completed"
    FORFEIT = "forfeit"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"


# A match counts on a board only in these states.
COUNTED_MATCH_STATES = (MatchState.COMPLETED, MatchState.FORFEIT)


class DisputeReason(models.TextChoices):
    SCORE_MISMATCH = "score_mismatch"
    NO_SHOW = "no_show"
    CHEATING = "cheating"
    TECHNICAL_ISSUE = "technical_issue"
    OTHER = "other"


class DisputeStatus(models.TextChoices):
    OPEN = "open"
    UNDER_REVIEW = "under_review"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    DISMISSED = "dismissed"


class Match(BoardFeedingModel):
    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="matches")
    round = models.PositiveIntegerField(default=1)
    match_number = models.PositiveIntegerField(default=1)
    participant1 = models.ForeignKey(
        Registration, on_delete=models.PROTECT, related_name="matches_as_participant1"
    )
    participant2 = models.ForeignKey(
        Registration, on_delete=models.PROTECT, related_name="matches_as_participant2"
    )
    score1 = models.PositiveIntegerField(default=0)
    score2 = models.PositiveIntegerField(default=0)
    winner = models.ForeignKey(
        Registration,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="matches_won",
    )
    state = models.CharField(
        max_length=16, choices=MatchState.choices, default=MatchState.SCHEDULED
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TournamentRowQuerySet.as_manager()

    # A match's schedule, round and number are on no board.
    board_fields = frozenset(
        {"tournament", "participant1", "participant2", "score1", "score2", "winner", "state",
         "completed_at"}
    )  # fmt: skip

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "matches"
        indexes = [
            models.Index(fields=["tournament", "state"], name="match_tournament_state"),
            models.Index(fields=["participant1", "state"], name="match_participant1_state"),
            models.Index(fields=["participant2", "state"], name="match_participant2_state"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(participant1=F("participant2")),
                name="match_participants_differ",
            ),
            models.CheckConstraint(
                condition=Q(winner__isnull=True)
                | Q(winner=F("participant1"))
                | Q(winner=F("participant2")),
                name="match_winner_is_a_participant",
            ),
            models.CheckConstraint(
                condition=Q(state__in=MatchState.values), name="match_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state__in=COUNTED_MATCH_STATES) | Q(completed_at__isnull=False),
                name="match_counted_has_completed_at",
            ),
            models.CheckConstraint(
                condition=~Q(state=MatchState.FORFEIT) | Q(winner__isnull=False),
                name="match_forfeit_has_winner",
            ),
            models.CheckConstraint(
                condition=Q(state__in=COUNTED_MATCH_STATES) | Q(winner__isnull=True),
                name="match_only_results_have_winner",
            ),
        ]

    def __str__(self) -> str:
        return f"match #{self.pk} (tournament #{self.tournament_id}, round {self.round})"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        participant_ids = {self.participant1_id, self.participant2_id} - {None}
        if self.tournament_id is not None and participant_ids:
            in_tournament = set(
                Registration.objects.filter(
                    pk__in=participant_ids, tournament_id=self.tournament_id
                ).values_list("pk", flat=True)
            )
            for field in ("participant1", "participant2"):
                registration_id = getattr(self, f"{field}_id")
                if registration_id is not None and registration_id not in in_tournament:
                    errors[field] = (
                        f"Registration {registration_id} is not in tournament {self.tournament_id}."
                    )
        if self.participant1_id is not None and self.participant1_id == self.participant2_id:
            errors["participant2"] = "A match needs two different participants."
        if self.winner_id is not None and self.winner_id not in participant_ids:
            errors["winner"] = f"Registration {self.winner_id} did not play this match."
        if self.state in COUNTED_MATCH_STATES and self.completed_at is None:
            errors["completed_at"] = f"A {self.state} match needs completed_at."
        if self.state == MatchState.FORFEIT and self.winner_id is None:
            errors["winner"] = "A forfeit names its winner."
        if self.state not in COUNTED_MATCH_STATES and self.winner_id is not None:
            errors["winner"] = f"A {self.state} match has no winner."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Announces its tournament (and the one it left, if it moved)."""
        self.clean()
        update_fields = kwargs.get("update_fields")
        with transaction.atomic(using=self._state.db, savepoint=False):
            before = self.stored_values("tournament_id") or {}
            super().save(*args, **kwargs)
            if self.saves_board_fields(update_fields):
                self.announce([self.tournament_id, before.get("tournament_id")])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self._state.db, savepoint=False):
            deleted = super().delete(*args, **kwargs)
            self.announce([self.tournament_id])
        return deleted


class Dispute(BoardFeedingModel):
    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="disputes")
    opened_by = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(
        max_length=24, choices=DisputeReason.choices, default=DisputeReason.OTHER
    )
    status = models.CharField(
        max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    evidence = models.FileField(upload_to="dispute_evidence/", blank=True)
    notes = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = DisputeQuerySet.as_manager()

    # A dispute resolved (or reopened) is a result change; its notes, reason or evidence are not.
    board_fields = frozenset({"status", "match"})

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["match", "status"], name="dispute_match_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DisputeStatus.values), name="dispute_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=DisputeReason.values), name="dispute_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"dispute #{self.pk} on match #{self.match_id} ({self.status})"

    def _tournaments_of_matches(self, *match_ids: int | None) -> list[int]:
        matches = Match._base_manager.using(self._state.db).filter(pk__in=match_ids)
        return list(matches.values_list("tournament_id", flat=True))

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Announces its match's tournament when its status (or its match) changed."""
        if not self.saves_board_fields(kwargs.get("update_fields")):
            super().save(*args, **kwargs)
            return
        with transaction.atomic(using=self._state.db, savepoint=False):
            before = self.stored_values("status", "match_id")
            super().save(*args, **kwargs)
            if before is None or (before["status"], before["match_id"]) != (
                self.status,
                self.match_id,
            ):
                match_ids = {self.match_id, before["match_id"] if before else None}
                self.announce(self._tournaments_of_matches(*match_ids))

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self._state.db, savepoint=False):
            tournament_ids = self._tournaments_of_matches(self.match_id)
            deleted = super().delete(*args, **kwargs)
            self.announce(tournament_ids)
        return deleted
