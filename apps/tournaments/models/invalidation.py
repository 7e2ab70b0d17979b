"""Result changes whose boards may still be cached (contract section 6: no invalidation lost)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class PendingInvalidation(models.Model):
    """One announced result change (`apps.tournaments.events.ResultChange`), written in the
    transaction that made it and deleted once the boards it touches are invalidated.

    A row outlives the process that wrote it: when Redis could not be reached at commit time, a
    serving process invalidates its boards later (`services.board_cache.invalidation`).
    `board_names` are the boards named at write time (`BoardRef.name`); the boards of
    `tournament_ids` are resolved when the row is applied.
    """

    tournament_ids = models.JSONField(default=list)
    board_names = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"pending invalidation #{self.pk} ({len(self.tournament_ids)} tournaments)"
