"""Cross-cutting models: the platform user, feature flags and the append-only audit record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator
from django.db import models, transaction
from django.utils import timezone

log = structlog.get_logger(__name__)


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


class FeatureFlagQuerySet(models.QuerySet["FeatureFlag"]):
    """Bulk writes leave the trail a `save()` leaves (see `apps.common.signals`).

    `update()` (so `bulk_update()`, which runs one `update()` per batch) and `bulk_create()`
    write, inside the write's own transaction, one `feature_flag_changed` record per flag whose
    state changed, with its state before and after, and drop the cached flag rows once the
    transaction commits. As with `save()`, a write credits a user only when it assigns
    `updated_by` (else the record has no actor and `update()` clears the column), and `update()`
    stamps `updated_at`. `delete()` needs nothing here: the post_delete receiver makes Django
    delete row by row, and each deletion is recorded by the signal.

    Cost: besides the write, a read of the matched rows before it (locked with
    SELECT ... FOR UPDATE where the database has it, so the recorded old state is the one
    replaced) and one after it, plus one insert per changed flag.
    """

    def update(self, **kwargs: Any) -> int:
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        assigns_updated_by = bool(_UPDATED_BY_ATTRIBUTES & kwargs.keys())
        kwargs.setdefault("updated_at", timezone.now())
        if not assigns_updated_by:
            kwargs["updated_by"] = None
        flags = self.model._base_manager.using(self.db)
        with transaction.atomic(using=self.db):
            matched = flags.filter(pk__in=self.order_by().values("pk")).select_for_update()
            before = {flag.pk: flag for flag in matched}
            rows = super().update(**kwargs)
            after = flags.filter(pk__in=before)
            for flag in after:  # in name order
                actor_id = flag.updated_by_id if assigns_updated_by else None
                old, new = flag_snapshot(before[flag.pk]), flag_snapshot(flag)
                record_flag_change(actor_id, flag.name, old, new)
            if rows:
                forget_cached_flags_after_commit(self.db)
        return rows

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(
        self,
        objs: Iterable[FeatureFlag],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Sequence[str] | None = None,
        unique_fields: Sequence[str] | None = None,
    ) -> list[FeatureFlag]:
        """Every new flag is recorded (no old state). With `ignore_conflicts` or
        `update_conflicts`, stored flags are matched by name and read before and after the
        write, so only a real change is recorded, credited to `updated_by` when the upsert
        writes that column."""
        objs = list(objs)
        names = [flag.name for flag in objs]
        may_meet_stored_rows = ignore_conflicts or update_conflicts
        stored_rows = self.model._base_manager.using(self.db).filter(name__in=names)
        with transaction.atomic(using=self.db):
            stored: dict[str, FeatureFlag] = {}
            if may_meet_stored_rows:
                stored = {flag.name: flag for flag in stored_rows.select_for_update()}
            created = super().bulk_create(
                objs,
                batch_size=batch_size,
                ignore_conflicts=ignore_conflicts,
                update_conflicts=update_conflicts,
                update_fields=update_fields,
                unique_fields=unique_fields,
            )
            if may_meet_stored_rows:
                written = {flag.name: flag for flag in stored_rows}
            else:
                written = {flag.name: flag for flag in objs}
            upsert_assigns_updated_by = bool(_UPDATED_BY_ATTRIBUTES & set(update_fields or ()))
            for name in names:
                flag = written[name]
                is_new = name not in stored
                actor_id = flag.updated_by_id if is_new or upsert_assigns_updated_by else None
                old, new = flag_snapshot(stored.get(name)), flag_snapshot(flag)
                record_flag_change(actor_id, name, old, new)
            if objs:
                forget_cached_flags_after_commit(self.db)
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]


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

    objects = FeatureFlagQuerySet.as_manager()

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


# --- What every flag change leaves behind, whichever path made it --------------------------------


def flag_snapshot(flag: FeatureFlag | None) -> dict[str, Any] | None:
    """The state an audit record shows: what decides who has the flag. None: no such flag."""
    if flag is None:
        return None
    return {"is_enabled": bool(flag.is_enabled), "rollout_percent": int(flag.rollout_percent)}


def record_flag_change(
    actor_id: int | None, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    """One audit record (and log event) when the snapshot changed from `old` to `new`; else
    nothing. Runs inside the caller's transaction."""
    if old == new:
        return
    details = {"flag": name, "old": old, "new": new}
    AuditRecord.objects.create(actor_id=actor_id, action=AuditAction.FLAG_CHANGED, details=details)
    log.info(AuditAction.FLAG_CHANGED.value, actor_id=actor_id, **details)


def forget_cached_flags_after_commit(using: str | None = None) -> None:
    """Every process reads the database rows again soon after the commit (`apps.common.flags`)."""
    from apps.common.flags import forget_cached_rows  # flags imports this module

    transaction.on_commit(forget_cached_rows, using=using)
