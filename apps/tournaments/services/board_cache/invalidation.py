"""Invalidation: which boards a tournament feeds, deleted now or once the transaction commits."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from django.db import DatabaseError, transaction

from apps.common.redis_gateway import RedisUnavailableError
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache.keys import BoardRef, EvictionReason, Scope
from apps.tournaments.services.board_cache.stores import board_store
from apps.tournaments.utils import metrics

log = structlog.get_logger(__name__)

Placement = tuple[str | None, str | None, str | None]  # (season slug, game slug, participant type)


def boards_fed_by_placement(placement: Placement) -> set[BoardRef]:
    """Season and all-time boards (all games and the tournament's game) for one tournament."""
    season, game, participant_type = placement
    boards: set[BoardRef] = set()
    for game_filter in (None, game):
        boards.add(BoardRef(Scope.ALL_TIME, game=game_filter, participant_type=participant_type))
        if season:
            boards.add(
                BoardRef(
                    Scope.SEASON, season=season, game=game_filter, participant_type=participant_type
                )
            )
    return boards


def boards_fed_by_tournaments(tournament_ids: Iterable[int]) -> set[BoardRef]:
    """Every board that shows a result of these tournaments (2 queries, whatever the count)."""
    from apps.tournaments.models import Registration, Tournament

    ids = sorted({tournament_id for tournament_id in tournament_ids if tournament_id is not None})
    if not ids:
        return set()
    boards = {BoardRef(Scope.TOURNAMENT, tournament_id=tournament_id) for tournament_id in ids}
    placements = Tournament.objects.filter(pk__in=ids).values_list(
        "season__slug", "game__slug", "participation_type"
    )
    for placement in placements:
        boards |= boards_fed_by_placement(placement)
    user_ids = Registration.objects.filter(tournament_id__in=ids).values_list(
        "user_id", "roster__id"
    )
    for user_id, roster_user_id in user_ids:
        for each in (user_id, roster_user_id):
            if each is not None:
                boards.add(BoardRef(Scope.HISTORY, user_id=each))
    return boards


def invalidate_boards(boards: Iterable[BoardRef], reason: EvictionReason) -> list[str]:
    """Delete these boards now; return the keys that existed. Raises RedisUnavailableError."""
    return record_evictions(board_store().invalidate(boards), reason)


def invalidate_scope(scope: Scope | None, reason: EvictionReason) -> list[str]:
    """Delete every board of a scope (None = every board). Raises RedisUnavailableError."""
    return record_evictions(board_store().invalidate_scope(scope), reason)


def record_evictions(removed: list[str], reason: EvictionReason) -> list[str]:
    if removed:
        metrics.CACHE_EVICTIONS.labels(reason=reason.value).inc(len(removed))
        cache_stats.record_evictions(len(removed))
    return removed


@dataclass(slots=True)
class _PendingInvalidation:
    tournament_ids: set[int] = field(default_factory=set)
    placements: set[Placement] = field(default_factory=set)
    boards: set[BoardRef] = field(default_factory=set)

    def flush(self) -> None:
        """Runs after the commit. Never raises: the commit has already happened."""
        try:
            boards = set(self.boards)
            boards |= boards_fed_by_tournaments(self.tournament_ids)
            for placement in self.placements:
                boards |= boards_fed_by_placement(placement)
        except DatabaseError as error:
            log.error("board_invalidation_failed", stage="resolve", error=type(error).__name__)
            return
        invalidate_with_retries(frozenset(boards), tuple(sorted(self.tournament_ids)))


# Delays between attempts when Redis cannot be reached at commit time: about four minutes in
# all, inside the default 300 s TTL. Until an attempt succeeds other workers may still serve
# the boards cached before the commit (this one logs each retry); reads during the outage itself
# come from SQL because the breaker is open.
INVALIDATION_RETRY_DELAYS_SECONDS = (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


def invalidate_with_retries(
    boards: frozenset[BoardRef], tournament_ids: tuple[int, ...], attempt: int = 0
) -> None:
    try:
        removed = invalidate_boards(boards, EvictionReason.RESULT_CHANGE)
    except RedisUnavailableError as error:
        if attempt >= len(INVALIDATION_RETRY_DELAYS_SECONDS):
            log.error(
                "board_invalidation_failed",
                stage="redis",
                boards=len(boards),
                attempts=attempt + 1,
                error=type(error).__name__,
            )
            return
        delay = INVALIDATION_RETRY_DELAYS_SECONDS[attempt]
        log.warning(
            "board_invalidation_retry", boards=len(boards), attempt=attempt + 1, in_seconds=delay
        )
        timer = threading.Timer(
            delay, invalidate_with_retries, args=(boards, tournament_ids, attempt + 1)
        )
        timer.daemon = True
        timer.start()
        return
    log.info(
        "boards_invalidated",
        reason=EvictionReason.RESULT_CHANGE.value,
        tournaments=list(tournament_ids),
        boards=len(boards),
        keys_removed=len(removed),
        attempt=attempt + 1,
    )


_pending = threading.local()


def _current_batch() -> _PendingInvalidation | None:
    """The batch already registered with this transaction, if its callback is still pending.

    A rolled-back savepoint drops the callbacks registered inside it; checking that ours is
    still queued (Django keeps them in `connection.run_on_commit`) stops a later write from
    joining a batch that will never run.
    """
    batch: _PendingInvalidation | None = getattr(_pending, "batch", None)
    if batch is None:
        return None
    connection = transaction.get_connection()
    queued = any(entry[1] == batch.flush for entry in connection.run_on_commit)
    return batch if queued else None


def schedule_tournament_invalidation(
    tournament_ids: Iterable[int],
    extra_placements: Iterable[Placement] = (),
    extra_boards: Iterable[BoardRef] = (),
) -> None:
    """Invalidate what these tournaments feed once the current transaction commits.

    Outside a transaction it runs at once. Inside, all calls of one transaction share a single
    batch (one flush, however many rows were written). Never gated by a flag.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        batch = _PendingInvalidation()
        batch.tournament_ids.update(tournament_ids)
        batch.placements.update(extra_placements)
        batch.boards.update(extra_boards)
        batch.flush()
        return
    batch = _current_batch()
    if batch is None:
        batch = _PendingInvalidation()
        _pending.batch = batch
        transaction.on_commit(batch.flush, robust=True)
    batch.tournament_ids.update(tournament_ids)
    batch.placements.update(extra_placements)
    batch.boards.update(extra_boards)
