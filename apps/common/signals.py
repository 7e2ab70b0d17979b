"""Flag changes: forget cached rows everywhere and leave an audit record (who, old, new).

Who made a change (`actor_id`): the `updated_by` the caller assigned on the instance for this save
or delete (the admin assigns the request user; a script may assign its user), else nobody (None).
An `updated_by` merely loaded with the row names whoever made an earlier change: a save that does
not assign it is recorded without actor and clears it, so the row never credits a stale user.
Bulk writes (`update()`, `bulk_update()`, `bulk_create()`) send no signal; `FeatureFlagQuerySet`
(apps.common.models) leaves the same records by the same rules.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from apps.common.models import (
    FeatureFlag,
    flag_snapshot,
    forget_cached_flags_after_commit,
    record_flag_change,
)


@receiver(pre_save, sender=FeatureFlag)
def remember_previous_flag(sender: type[FeatureFlag], instance: FeatureFlag, **kwargs: Any) -> None:
    previous = None
    if instance.pk is not None:
        previous = FeatureFlag.objects.filter(pk=instance.pk).first()
    if previous is not None and not instance.is_updated_by_assigned:
        instance.updated_by = None
    instance._previous_snapshot = flag_snapshot(previous)  # type: ignore[attr-defined]


@receiver(post_save, sender=FeatureFlag)
def audit_flag_change(
    sender: type[FeatureFlag], instance: FeatureFlag, created: bool, **kwargs: Any
) -> None:
    old = instance.__dict__.pop("_previous_snapshot", None)
    record_flag_change(instance.updated_by_id, instance.name, old, flag_snapshot(instance))
    instance.forget_updated_by_assignment()
    forget_cached_flags_after_commit()


@receiver(post_delete, sender=FeatureFlag)
def audit_flag_deletion(sender: type[FeatureFlag], instance: FeatureFlag, **kwargs: Any) -> None:
    actor_id = instance.updated_by_id if instance.is_updated_by_assigned else None
    record_flag_change(actor_id, instance.name, flag_snapshot(instance), None)
    forget_cached_flags_after_commit()
