"""Flag changes: forget cached rows everywhere and leave an audit record (who, old, new)."""

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
    return {"is_enabled": flag.is_enabled, "rollout_percent": flag.rollout_percent}


@receiver(pre_save, sender=FeatureFlag)
def remember_previous_flag(sender: type[FeatureFlag], instance: FeatureFlag, **kwargs: Any) -> None:
    previous = None
    if instance.pk is not None:
        previous = FeatureFlag.objects.filter(pk=instance.pk).first()
    instance._previous_snapshot = _flag_snapshot(previous)  # type: ignore[attr-defined]


@receiver(post_save, sender=FeatureFlag)
def audit_flag_change(
    sender: type[FeatureFlag], instance: FeatureFlag, created: bool, **kwargs: Any
) -> None:
    from apps.common.flags import forget_cached_rows

    old = getattr(instance, "_previous_snapshot", None)
    new = _flag_snapshot(instance)
    if old != new:
        details = {"flag": instance.name, "old": old, "new": new}
        AuditRecord.objects.create(
            actor_id=instance.updated_by_id, action=AuditAction.FLAG_CHANGED, details=details
        )
        log.info(
            AuditAction.FLAG_CHANGED.value,
            actor_id=instance.updated_by_id,
            flag=instance.name,
            old=old,
            new=new,
        )
    transaction.on_commit(forget_cached_rows)


@receiver(post_delete, sender=FeatureFlag)
def audit_flag_deletion(sender: type[FeatureFlag], instance: FeatureFlag, **kwargs: Any) -> None:
    from apps.common.flags import forget_cached_rows

    details = {"flag": instance.name, "old": _flag_snapshot(instance), "new": None}
    AuditRecord.objects.create(
        actor_id=instance.updated_by_id, action=AuditAction.FLAG_CHANGED, details=details
    )
    log.info(AuditAction.FLAG_CHANGED.value, actor_id=instance.updated_by_id, **details)
    transaction.on_commit(forget_cached_rows)
