"""Flag changes: forget cached rows everywhere and leave an audit record (who, old, new).

Who made a change (`actor_id`): the `updated_by` the caller assigned on the instance for this save
or delete (the admin assigns the request user; a script may assign its user), else nobody (None).
An `updated_by` merely loaded with the row names whoever made an earlier change: a save that does
not assign it is recorded without actor and clears it, so the row never credits a stale user.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from apps.common.models import AuditAction, AuditRecord, FeatureFlag

log = structlog.get_logger(__name__)


def _flag_snapshot(flag: FeatureFlag | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    return {"is_enabled": bool(flag.is_enabled), "rollout_percent": int(flag.rollout_percent)}


def _record_flag_change(
    actor_id: int | None, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    details = {"flag": name, "old": old, "new": new}
    AuditRecord.objects.create(actor_id=actor_id, action=AuditAction.FLAG_CHANGED, details=details)
    log.info(AuditAction.FLAG_CHANGED.value, actor_id=actor_id, **details)


@receiver(pre_save, sender=FeatureFlag)
def remember_previous_flag(sender: type[FeatureFlag], instance: FeatureFlag, **kwargs: Any) -> None:
    previous = None
    if instance.pk is not None:
        previous = FeatureFlag.objects.filter(pk=instance.pk).first()
    if previous is not None and not instance.is_updated_by_assigned:
        instance.updated_by = None
    instance._previous_snapshot = _flag_snapshot(previous)  # type: ignore[attr-defined]


@receiver(post_save, sender=FeatureFlag)
def audit_flag_change(
    sender: type[FeatureFlag], instance: FeatureFlag, created: bool, **kwargs: Any
) -> None:
    from apps.common.flags import forget_cached_rows

    old = instance.__dict__.pop("_previous_snapshot", None)
    new = _flag_snapshot(instance)
    if old != new:
        _record_flag_change(instance.updated_by_id, instance.name, old, new)
    instance.forget_updated_by_assignment()
    transaction.on_commit(forget_cached_rows)


@receiver(post_delete, sender=FeatureFlag)
def audit_flag_deletion(sender: type[FeatureFlag], instance: FeatureFlag, **kwargs: Any) -> None:
    from apps.common.flags import forget_cached_rows

    actor_id = instance.updated_by_id if instance.is_updated_by_assigned else None
    _record_flag_change(actor_id, instance.name, _flag_snapshot(instance), None)
    transaction.on_commit(forget_cached_rows)
