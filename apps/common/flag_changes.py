"""Writing a feature flag: the one function every path uses (the Django admin, the commands).

`set_flag` and `delete_flag` change the row, record who did it and what changed (an audit record
with the flag's state before and after; none when nothing changed), and drop the cached rows once
the transaction commits, so every worker reads the new state within the propagation bound of
`apps.common.flags` (contract section 5: 5 seconds).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.common.audit import record_audit
from apps.common.flags import forget_cached_rows
from apps.common.models import AuditAction, FeatureFlag

_UNCHANGED: Any = object()


def flag_snapshot(flag: FeatureFlag | None) -> dict[str, Any] | None:
    """What decides who has the flag, as an audit record shows it. None: no such flag."""
    if flag is None:
        return None
    return {"is_enabled": bool(flag.is_enabled), "rollout_percent": int(flag.rollout_percent)}


def _record_change(actor_id: int | None, name: str, old: Any, new: Any) -> None:
    if old != new:
        record_audit(AuditAction.FLAG_CHANGED, actor_id, flag=name, old=old, new=new)


def set_flag(
    name: str,
    *,
    actor_id: int | None,
    is_enabled: bool = _UNCHANGED,
    rollout_percent: int = _UNCHANGED,
    description: str = _UNCHANGED,
) -> FeatureFlag:
    """Create or change the flag `name`; fields left out keep their value (a new flag: the
    model's defaults). `actor_id` is the user making the change (None for a script)."""
    with transaction.atomic():
        flag = FeatureFlag.objects.select_for_update().filter(name=name).first()
        old = flag_snapshot(flag)
        if flag is None:
            flag = FeatureFlag(name=name)
        for field, value in (
            ("is_enabled", is_enabled),
            ("rollout_percent", rollout_percent),
            ("description", description),
        ):
            if value is not _UNCHANGED:
                setattr(flag, field, value)
        flag.updated_by_id = actor_id
        flag.full_clean()
        flag.save()
        _record_change(actor_id, name, old, flag_snapshot(flag))
        transaction.on_commit(forget_cached_rows)
    return flag


def delete_flag(name: str, *, actor_id: int | None) -> bool:
    """Remove the flag `name` (it then reads as off); False when there was none."""
    with transaction.atomic():
        flag = FeatureFlag.objects.select_for_update().filter(name=name).first()
        if flag is None:
            return False
        old = flag_snapshot(flag)
        flag.delete()
        _record_change(actor_id, name, old, None)
        transaction.on_commit(forget_cached_rows)
    return True
