"""Cross-cutting models: the platform user, feature flags and the append-only audit record."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator
from django.db import models


class User(AbstractUser):
    """A player's or staff member's profile. `display_name` is returned only by name resolution."""

    display_name = models.CharField(max_length=150, blank=True)

    class Meta:
        db_table = "common_user"


class FlagName(StrEnum):
    COMPUTE = "LEADERBOARDS_COMPUTE_ENABLED"
    CACHE = "LEADERBOARDS_CACHE_ENABLED"
    API = "LEADERBOARDS_API_ENABLED"


class FeatureFlag(models.Model):
    """A switch staff toggle in the Django admin; see `apps.common.flags` for how it is read."""

    name = models.CharField(max_length=100, unique=True)
    is_enabled = models.BooleanField(default=False)
    rollout_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)]
    )
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rollout_percent__lte=100),
                name="featureflag_rollout_percent_at_most_100",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({'on' if self.is_enabled else 'off'}, {self.rollout_percent}%)"


class AuditAction(models.TextChoices):
    CACHE_INVALIDATED = "leaderboard_cache_invalidated"
    FLAG_CHANGED = "feature_flag_changed"


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or remove an audit record."""


class AuditRecord(models.Model):
    """Append-only: who did what and when. `actor_id` is a plain id so it outlives the user."""

    actor_id = models.PositiveBigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("audit records cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")
