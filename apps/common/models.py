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


_UPDATED_BY_ATTRIBUTES = frozenset({"updated_by", "updated_by_id"})


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

    # Who makes a change (audit `actor_id`): the `updated_by` a caller assigned on this instance
    # (in the constructor or afterwards) for this save or delete, None when it was not assigned.
    # A value merely loaded with the row names whoever made an earlier change, so it must not be
    # credited with this one; plain assignment is what the admin and scripts already do, so the
    # assignment itself is tracked rather than asking every caller to use a special method.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.__dict__["_is_updated_by_assigned"] = bool(_UPDATED_BY_ATTRIBUTES & kwargs.keys())

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _UPDATED_BY_ATTRIBUTES:
            self.__dict__["_is_updated_by_assigned"] = True
        super().__setattr__(name, value)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("fields", args[1] if len(args) > 1 else None)
        super().refresh_from_db(*args, **kwargs)
        if fields is None or _UPDATED_BY_ATTRIBUTES & set(fields):
            self.forget_updated_by_assignment()

    @property
    def is_updated_by_assigned(self) -> bool:
        """Whether `updated_by` was set by the caller since the row was loaded or last saved."""
        return bool(self.__dict__.get("_is_updated_by_assigned", False))

    def forget_updated_by_assignment(self) -> None:
        self.__dict__["_is_updated_by_assigned"] = False


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
