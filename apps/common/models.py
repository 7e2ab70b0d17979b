"""Cross-cutting models: the platform user, feature flags and the append-only audit record."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator
from django.db import models

# Ids are 64-bit signed integers (BigAutoField): anything larger cannot name a row.
MAX_ID = 2**63 - 1


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
    """A switch staff toggle in the Django admin. Read by `apps.common.flags` (environment, then
    this row, then off); written by `apps.common.flag_changes.set_flag`, which records who."""

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


class AuditRecordQuerySet(models.QuerySet["AuditRecord"]):
    """Bulk writes that would change or remove stored records are refused like single ones."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit records cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")


class AuditRecord(models.Model):
    """Append-only: who did what and when. `actor_id` is a plain id so it outlives the user.

    Records are only ever inserted: `save()` of a stored record, `delete()`, and the queryset's
    `update()` / `delete()` (so `bulk_update` and `update_or_create` too) raise AppendOnlyError.
    Raw SQL is out of reach of the ORM; a database without UPDATE/DELETE grants would close that.
    """

    actor_id = models.PositiveBigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=64, choices=AuditAction.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit records cannot be changed")
        # Always an INSERT: Django would otherwise UPDATE the row of a new instance that carries
        # an existing id, silently rewriting that record.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")
