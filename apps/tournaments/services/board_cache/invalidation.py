"""Invalidation: the one receiver of "results changed", and why no invalidation is ever lost.

Every write that can change a board announces it (`apps.tournaments.events`). This module is the
only receiver (connected in `TournamentsConfig.ready`):

1. Inside the writer's transaction it records the change as a `PendingInvalidation` row, so the
   record commits, or rolls back, with the result itself.
2. Once the transaction commits it deletes the boards the change touches (the tournaments'
   boards are resolved now, from the committed rows; boards named at write time are added) and,
   in the same Redis pipeline, marks the row applied (`lb:v1:applied:<id>`).

The row itself is deleted later, in batches, by the drain of a serving process: nothing more is
written to the database after the commit. Every serving process (a gunicorn or uvicorn worker,
runserver) calls `drain` every BOARD_INVALIDATION_DRAIN_SECONDS from its housekeeping thread
(`services.housekeeping`). A drain takes the rows older than BOARD_INVALIDATION_GRACE_SECONDS
(their writer had its chance), deletes those marked applied, applies the others and deletes them
too. So when Redis could not be reached at commit time (down, frozen, unreachable from the
writer) the change is applied about one interval after Redis answers again, even when the
committing process has exited (contract section 6).

A process that has seen Redis fail (any call of any of its threads, the housekeeping PING
included: `redis_gateway.failure_count`) may have missed an invalidation, and Redis may still
hold boards from before it. Until its next complete drain, which then takes every pending row
whatever its age, it does not trust the cache: its reads are computed from SQL and nothing is
stored. That is what keeps a board cached before such a commit from being served once Redis
answers again.

Applying a change twice is harmless: deleting a board twice costs one extra miss, and the
eviction counts only keys that existed. The embedded Redis (no REDIS_URL) is per process: a
command's marker is in its own, so the serving process (`make run`) applies the row to its cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.common import metrics, redis_gateway
from apps.common.redis_gateway import RedisUnavailableError
from apps.tournaments.boards import BoardRef, EvictionReason, Scope
from apps.tournaments.events import ResultChange
from apps.tournaments.models import PendingInvalidation, Tournament
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache import store

log = structlog.get_logger(__name__)

DRAIN_BATCH = 500


class _ProcessState:
    def __init__(self) -> None:
        # redis_gateway.failure_count() when the last complete drain started: the cache is
        # trusted again once every failure seen so far is followed by a complete drain.
        self.drained_failures = redis_gateway.failure_count()

    def reset(self) -> None:
        self.drained_failures = redis_gateway.failure_count()


_state = _ProcessState()


def is_cache_trusted() -> bool:
    """False from a Redis failure seen by this process until its next complete drain."""
    return redis_gateway.failure_count() == _state.drained_failures


def record_evictions(removed: list[str], reason: EvictionReason) -> list[str]:
    if removed:
        metrics.CACHE_EVICTIONS.labels(reason=reason.value).inc(len(removed))
        cache_stats.record_evictions(len(removed))
    return removed


def _resolve(tournament_ids: Iterable[int], names: Iterable[str]) -> set[str]:
    """The names of every board touched: those named, and what the tournaments feed now."""
    ids = set(tournament_ids)
    resolved = set(names)
    if ids:
        fed = Tournament.objects.filter(pk__in=ids).fed_boards()
        fed |= {BoardRef.tournament(each) for each in ids}
        resolved |= {board.name for board in fed}
    return resolved


def _apply(tournament_ids: Iterable[int], names: Iterable[str], row_ids: list[int]) -> bool:
    """Delete the boards touched and mark the rows applied, in one Redis pipeline. False when
    Redis or the database failed: the rows stay for a drain."""
    ids = sorted(set(tournament_ids))
    try:
        resolved = _resolve(ids, names)
        removed = store.delete_boards(resolved, applied_rows=row_ids)
    except (RedisUnavailableError, DatabaseError) as error:
        log.warning(
            "board_invalidation_deferred",
            tournaments=ids,
            rows=len(row_ids),
            error=type(error).__name__,
        )
        return False
    record_evictions(removed, EvictionReason.RESULT_CHANGE)
    log.info(
        "boards_invalidated",
        reason=EvictionReason.RESULT_CHANGE.value,
        tournaments=ids,
        boards=len(resolved),
        keys_removed=len(removed),
    )
    return True


def record_result_change(sender: Any, change: ResultChange, using: str, **kwargs: Any) -> None:
    """The receiver of `events.results_changed`: record the change in the writer's transaction;
    apply it once that transaction commits. Never gated by a flag."""
    row = PendingInvalidation.objects.using(using).create(
        tournament_ids=sorted(change.tournament_ids),
        board_names=sorted(board.name for board in change.boards),
    )
    names = [board.name for board in change.boards]
    apply = partial(_apply, change.tournament_ids, names, [row.pk])
    transaction.on_commit(apply, using=using, robust=True)


def _delete_rows(row_ids: list[int]) -> None:
    """Delete applied rows. On PostgreSQL without waiting for the WAL flush
    (`synchronous_commit` off for this transaction only): a row whose deletion a crash loses is
    only applied once more."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        PendingInvalidation.objects.filter(pk__in=row_ids).delete()


def drain() -> int:
    """Take the pending rows in batches: delete those marked applied, apply and delete the
    others. Normally the rows older than the grace period; after a Redis failure seen by this
    process, every pending row, and the cache is trusted again once that has succeeded. Returns
    how many rows this drain applied."""
    failures = redis_gateway.failure_count()
    is_complete = failures != _state.drained_failures
    grace = 0.0 if is_complete else settings.BOARD_INVALIDATION_GRACE_SECONDS
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    applied = 0
    while rows := list(
        PendingInvalidation.objects.filter(created_at__lte=cutoff).order_by("id")[:DRAIN_BATCH]
    ):
        ids = [row.pk for row in rows]
        try:
            done = store.applied_rows(ids)
        except RedisUnavailableError:
            return applied
        due = [row for row in rows if row.pk not in done]
        if due:
            tournament_ids = {each for row in due for each in row.tournament_ids}
            names = {name for row in due for name in row.board_names}
            if not _apply(tournament_ids, names, [row.pk for row in due]):
                return applied
            applied += len(due)
        _delete_rows(ids)
    if is_complete:
        _state.drained_failures = failures
    return applied


# --- Manual invalidation (the staff endpoint): Redis required, applied at once -------------------


def invalidate_tournament(tournament_id: int, reason: EvictionReason) -> list[str]:
    """Every board the tournament feeds; the board keys that existed. Raises
    RedisUnavailableError."""
    return record_evictions(store.delete_boards(_resolve([tournament_id], [])), reason)


def invalidate_scope(scope: Scope | None, reason: EvictionReason) -> list[str]:
    """Every board of a scope (None: every board). Raises RedisUnavailableError."""
    return record_evictions(store.delete_scope(scope), reason)


def reset_for_tests() -> None:
    _state.reset()
