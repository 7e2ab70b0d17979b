"""Games, seasons, tournaments and teams: what a result belongs to."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q

from apps.tournaments.boards import BoardRef, Placement, all_time_boards, season_boards
from apps.tournaments.models.base import BoardFeedingModel
from apps.tournaments.querysets import TournamentQuerySet


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
    """The names of `ranking.RULESETS` (a test keeps the two lists equal)."""

    DELTACROWN_5STEP = "deltacrown-5step"
    HEAD_TO_HEAD = "head-to-head"
    SWISS_BUCHHOLZ = "swiss-buchholz"
    CS_SWISS = "cs-swiss"


class BoardNamingModel(BoardFeedingModel):
    """A row whose slug names boards (a game, a season). A cached board proves that what it
    names exists: once the slug is renamed or the row deleted, the boards under the old slug are
    announced (`boards_named`)."""

    slug = models.SlugField(max_length=64, unique=True)

    board_fields = frozenset({"slug"})

    class Meta:
        abstract = True
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def boards_named(self, slug: str) -> set[BoardRef]:
        raise NotImplementedError

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic(using=self._state.db, savepoint=False):
            stored = self.stored_values("slug")
            super().save(*args, **kwargs)
            if stored is not None and stored["slug"] != self.slug:
                self.announce([], self.boards_named(stored["slug"]))

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self._state.db, savepoint=False):
            boards = self.boards_named(self.slug)
            deleted = super().delete(*args, **kwargs)
            self.announce([], boards)
        return deleted


class Game(BoardNamingModel):
    name = models.CharField(max_length=128)

    def boards_named(self, slug: str) -> set[BoardRef]:
        seasons = Season.objects.values_list("slug", flat=True)
        types = ParticipationType.values
        return season_boards(seasons, [slug], types) | all_time_boards([slug], types)


class Season(BoardNamingModel):
    name = models.CharField(max_length=128, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)

    # `ends_on` decides whether the season's boards are final (`is_final`).
    board_fields = frozenset({"slug", "ends_on"})

    def boards_named(self, slug: str) -> set[BoardRef]:
        games = [None, *Game.objects.values_list("slug", flat=True)]
        return season_boards([slug], games, ParticipationType.values)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Announces its boards when its end moves (a rename or deletion: the base class)."""
        with transaction.atomic(using=self._state.db, savepoint=False):
            stored = self.stored_values("slug", "ends_on")
            super().save(*args, **kwargs)
            if stored is not None and stored["ends_on"] != self.ends_on:
                self.announce([], self.boards_named(self.slug))


class Tournament(BoardFeedingModel):
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

    # Every field but the name and the format shows on a board or decides one (a history orders
    # by starts_at and shows ends_at).
    board_fields = frozenset(
        {"game", "season", "participation_type", "status", "starts_at", "ends_at",
         "points_per_win", "points_per_draw", "points_per_loss", "tiebreak_ruleset"}
    )  # fmt: skip

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

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Announces this tournament, and the season and all-time boards of where it was when
        it moves (another season, game or type)."""
        update_fields = kwargs.get("update_fields")
        with transaction.atomic(using=self._state.db, savepoint=False):
            before = self.stored_values("season__slug", "game__slug", "participation_type")
            super().save(*args, **kwargs)
            if self.saves_board_fields(update_fields):
                old = set()
                if before is not None:
                    old = Placement(
                        before["season__slug"], before["game__slug"], before["participation_type"]
                    ).boards()
                self.announce([self.pk], old)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Names every board it fed while its registrations still exist (they go with it)."""
        with transaction.atomic(using=self._state.db, savepoint=False):
            boards = Tournament.objects.filter(pk=self.pk).fed_boards()
            deleted = super().delete(*args, **kwargs)
            self.announce([], boards)
        return deleted


class Team(models.Model):
    name = models.CharField(max_length=128)
    tag = models.CharField(max_length=16, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"
