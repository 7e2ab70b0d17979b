"""Audit records: stored (append-only, `AuditRecord`) and logged, in one call."""

from __future__ import annotations

from typing import Any

import structlog

from apps.common.models import AuditAction, AuditRecord

log = structlog.get_logger(__name__)


def record_audit(action: AuditAction, actor_id: int | None, **details: Any) -> AuditRecord:
    """Store one record of `action` by `actor_id` (None: made without a request user) and log
    it under the action's name. Runs inside the caller's transaction."""
    record = AuditRecord.objects.create(actor_id=actor_id, action=action, details=details)
    log.info(action.value, actor_id=actor_id, **details)
    return record
