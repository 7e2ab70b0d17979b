"""Invalidation: the one receiver of "results changed", and why no invalidation is ever lost.

Every write that can change a board announces it (`apps.tournaments.events`). This module is the
only receiver (connected in `TournamentsConfig.ready`):

1. Inside the writer's transaction it records the change as a `PendingInvalidation` row, so the
   record commits, or rolls back, with the result itself.
2. Once the transaction commits it deletes the boards the change touches (the tournaments'
   boards are resolved now, from the committed rows; boards named at write time are added) and
   deletes the row.

When Redis cannot be reached at that moment (down, frozen, unreachable from this process), the row
stays in the database, where it survives the process. Every serving process (a gunicorn or
uvicorn worker, runserver) calls `drain` every BOARD_INVALIDATION_DRAIN_SECONDS from its
housekeeping thread (`services.housekeeping`), which applies the rows older than
BOARD_INVALIDATION_GRACE_SECONDS: their writer had its chance. So a change committed while Redis
was away reaches every board about one interval after Redis answers again, even after the
committing process has exited (contract section 6).

A process that has seen Redis fail (any call of any of its threads, the housekeeping PING
included: `redis_gateway.failure_count`) may have missed an invalidation, and Redis may still
hold boards from before it. Until its next complete drain, which then applies every pending row
whatever its age, it does not trust the cache: its reads are computed from SQL and nothing is
stored. That is what keeps a board cached before such a commit from being served once Redis
answers again.

Double application is harmless: deleting a board twice costs one extra miss, and the eviction
counts only keys that existed. With the embedded Redis (no REDIS_URL) each process has a cache
of its own: a process that serves no requests (an import, a shell) invalidates its own cache but
leaves the row for the serving process to apply to its cache.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.common import metrics, redis_gateway
from apps.common.redis_gateway import RedisUnavailableError, is_embedded
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
        self.is_serving = False  # a gunicorn / uvicorn worker, runserver: it runs `drain`

    def reset(self) -> None:
        self.drained_failures = redis_gateway.failure_count()


_state = _ProcessState()


def is_cache_trusted() -> bool:
    """False from a Redis failure seen by this process until its next complete drain."""
    return redis_gateway.failure_count() == _state.drained_failures


def _consumes_rows() -> bool:
    """Whether applying a row here completes it for everyone (then the row is deleted): with a
    shared Redis, yes; with the embedded one, only in the serving process."""
    return _state.is_serving or not is_embedded()


def record_evictions(removed: list[str], reason: EvictionReason) -> list[str]:
    if removed:
        metrics.CACHE_EVICTIONS.labels(reason=reason.value).inc(len(removed))
        cache_stats.record_evictions(len(removed))
    return removed


def _resolve(tournament_ids: frozenset[int], names: set[str]) -> set[str]:
    """The names of every board touched: those named, and what the tournaments feed now."""
    if not tournament_ids:
        return set(names)
    fed = Tournament.objects.filter(pk__in=tournament_ids).fed_boards()
    fed |= {BoardRef.tournament(each) for each in tournament_ids}
    return names | {board.name for board in fed}


def _apply(tournament_ids: frozenset[int], names: set[str], row_ids: list[int]) -> bool:
    """Delete the boards touched, then the rows (when this process completes them). False when
    Redis or the database failed: the rows stay for a later attempt."""
    try:
        resolved = _resolve(tournament_ids, names)
        removed = store.delete_boards(resolved)
    except (RedisUnavailableError, DatabaseError) as error:
        log.warning(
            "board_invalidation_deferred",
            tournaments=sorted(tournament_ids),
            rows=len(row_ids),
            error=type(error).__name__,
        )
        return False
    record_evictions(removed, EvictionReason.RESULT_CHANGE)
    if _consumes_rows():
        try:
            PendingInvalidation.objects.filter(pk__in=row_ids).delete()
        except DatabaseError as error:  # applied again later: harmless
            log.warning("pending_invalidation_not_deleted", error=type(error).__name__)
    log.info(
        "boards_invalidated",
        reason=EvictionReason.RESULT_CHANGE.value,
        tournaments=sorted(tournament_ids),
        boards=len(resolved),
        keys_removed=len(removed),
    )
    return True


def _apply_committed(change: ResultChange, row_id: int) -> None:
    """After the commit: apply this change now. On failure the row stays for a drain."""
    _apply(change.tournament_ids, {board.name for board in change.boards}, [row_id])


def record_result_change(sender: Any, change: ResultChange, using: str, **kwargs: Any) -> None:
    """The receiver of `events.results_changed`: record the change in the writer's transaction;
    apply it once that transaction commits. Never gated by a flag."""
    row = PendingInvalidation.objects.using(using).create(
        tournament_ids=sorted(change.tournament_ids),
        board_names=sorted(board.name for board in change.boards),
    )
    transaction.on_commit(partial(_apply_committed, change, row.pk), using=using, robust=True)


def drain() -> int:
    """Apply pending rows in batches; return how many were applied.

    Normally the rows older than the grace period; after a Redis failure seen by this process,
    every pending row, and the cache is trusted again once that has succeeded.
    """
    failures = redis_gateway.failure_count()
    is_complete = failures != _state.drained_failures
    grace = 0.0 if is_complete else settings.BOARD_INVALIDATION_GRACE_SECONDS
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    applied = 0
    while rows := list(
        PendingInvalidation.objects.filter(created_at__lte=cutoff).order_by("id")[:DRAIN_BATCH]
    ):
        tournament_ids = frozenset(each for row in rows for each in row.tournament_ids)
        names = {name for row in rows for name in row.board_names}
        if not _apply(tournament_ids, names, [row.pk for row in rows]):
            return applied
        applied += len(rows)
        if not _consumes_rows():
            break
    if is_complete:
        _state.drained_failures = failures
    return applied


def mark_serving() -> None:
    """This process serves requests (its drainer applies pending rows to the cache it reads)."""
    _state.is_serving = True


# --- Manual invalidation (the staff endpoint): Redis required, applied at once -------------------


def invalidate_tournament(tournament_id: int, reason: EvictionReason) -> list[str]:
    """Every board the tournament feeds; the board keys that existed. Raises
    RedisUnavailableError."""
    boards = Tournament.objects.filter(pk=tournament_id).fed_boards()
    boards.add(BoardRef.tournament(tournament_id))
    return record_evictions(store.delete_boards(board.name for board in boards), reason)


def invalidate_scope(scope: Scope | None, reason: EvictionReason) -> list[str]:
    """Every board of a scope (None: every board). Raises RedisUnavailableError."""
    return record_evictions(store.delete_scope(scope), reason)


def reset_for_tests() -> None:
    _state.reset()
