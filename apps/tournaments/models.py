"""The minimal tournament model the leaderboards read (contract section 2).

Invariants that span rows (a registration matches its tournament's participation type; a match's
participants and winner belong to its tournament) cannot be database CHECK constraints; they are
enforced in `clean()` and again in `save()`, so the admin, the ORM and the importer all get them.
Invariants within one row are database constraints.

Result changes invalidate cached boards: `save()` / `delete()` through the receivers in
`signals.py`, `update()` / `bulk_create()` / `bulk_update()` through the managers of the models
that feed boards (`querysets.py`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.tournaments.querysets import (
    DisputeQuerySet,
    RegistrationQuerySet,
    TournamentQuerySet,
    TournamentRowQuerySet,
)


class ParticipationType(models.TextChoices):
    SOLO = "solo"
    TEAM = "team"


class TournamentFormat(models.TextChoices):
    SINGLE_ELIMINATION = "single_elimination"
    DOUBLE_ELIMINATION = "double_elimination"
    ROUND_ROBIN = "round_robin"
    SWISS = "swiss"
    LEAGUE = "league"


class TournamentStatus(models.TextChoices):
    DRAFT = "draft"
    REGISTRATION_OPEN = "registration_open"
    LIVE = "live"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# Tournaments whose results feed season and all-time boards.
BOARD_VISIBLE_STATUSES = (TournamentStatus.LIVE, TournamentStatus.COMPLETED)


class TiebreakRuleset(models.TextChoices):
    DELTACROWN_5STEP = "deltacrown-5step"
    HEAD_TO_HEAD = "head-to-head"


class RegistrationStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


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


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REFUNDED = "refunded"


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


class Game(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Season(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Tournament(models.Model):
    name = models.CharField(max_length=200)
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="tournaments")
    season = models.ForeignKey(
        Season, null=True, blank=True, on_delete=models.PROTECT, related_name="tournaments"
    )
    participation_type = models.CharField(
        max_length=8, choices=ParticipationType.choices, default=ParticipationType.SOLO
    )
    format = models.CharField(
        max_length=24, choices=TournamentFormat.choices, default=TournamentFormat.ROUND_ROBIN
    )
    status = models.CharField(
        max_length=24, choices=TournamentStatus.choices, default=TournamentStatus.DRAFT
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    points_per_win = models.PositiveSmallIntegerField(default=3)
    points_per_draw = models.PositiveSmallIntegerField(default=1)
    points_per_loss = models.PositiveSmallIntegerField(default=0)
    tiebreak_ruleset = models.CharField(
        max_length=32, choices=TiebreakRuleset.choices, default=TiebreakRuleset.DELTACROWN_5STEP
    )

    objects = TournamentQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["season", "status"], name="tournament_season_status"),
            models.Index(fields=["status", "participation_type"], name="tournament_status_ptype"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(participation_type__in=ParticipationType.values),
                name="tournament_participation_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=TournamentStatus.values), name="tournament_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(format__in=TournamentFormat.values), name="tournament_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(tiebreak_ruleset__in=TiebreakRuleset.values),
                name="tournament_tiebreak_ruleset_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class Team(models.Model):
    name = models.CharField(max_length=128)
    tag = models.CharField(max_length=16, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class Registration(models.Model):
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
        self.clean()
        super().save(*args, **kwargs)


class Match(models.Model):
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
        self.clean()
        super().save(*args, **kwargs)


class Payment(models.Model):
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="payments"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    method = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    transaction_reference = models.CharField(max_length=128, blank=True)
    proof_file = models.FileField(upload_to="payment_proofs/", blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["registration", "status"], name="payment_reg_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"payment #{self.pk} ({self.status})"


class Dispute(models.Model):
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
