""" "Results changed": the one announcement every write that can change a board makes.

A write path (a model's `save()` / `delete()`, a queryset's bulk write, the importer, the admin
through those) calls `announce_results_changed` once, inside its transaction, with the
tournaments whose results changed and any board it must name itself (where a tournament was
before it moved, a user who left a registration). The one receiver of `results_changed`
(`apps.tournaments.services.board_cache.invalidation`) records the change in the same transaction
and invalidates what it touches once the transaction commits.

`announcements_batched()` folds every announcement made inside it into one, sent when the block
ends: the importer and the demo data write thousands of rows in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS
from django.dispatch import Signal

from apps.tournaments.boards import BoardRef

# Sent with `change` (a ResultChange) and `using` (the database alias written to).
results_changed = Signal()


@dataclass(frozen=True, slots=True)
class ResultChange:
    """Tournaments whose results changed, and boards named directly."""

    tournament_ids: frozenset[int] = frozenset()
    boards: frozenset[BoardRef] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.tournament_ids or self.boards)

    def __or__(self, other: ResultChange) -> ResultChange:
        return ResultChange(self.tournament_ids | other.tournament_ids, self.boards | other.boards)


_batches = threading.local()


def announce_results_changed(
    tournament_ids: Iterable[int | None] = (),
    boards: Iterable[BoardRef] = (),
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Announce a change; call it inside the transaction that writes it."""
    change = ResultChange(
        frozenset(each for each in tournament_ids if each is not None), frozenset(boards)
    )
    if not change:
        return
    batch: dict[str, ResultChange] | None = getattr(_batches, "open", None)
    if batch is not None:
        batch[using] = batch.get(using, ResultChange()) | change
        return
    results_changed.send(sender=ResultChange, change=change, using=using)


@contextmanager
def announcements_batched() -> Iterator[None]:
    """Within the block, announcements are gathered; one per database is sent when the block
    ends without an exception (still inside the caller's transaction). Blocks nest: the
    outermost one sends."""
    if getattr(_batches, "open", None) is not None:
        yield
        return
    _batches.open = {}
    try:
        yield
        gathered: dict[str, ResultChange] = _batches.open
    finally:
        _batches.open = None
    for using, change in gathered.items():
        results_changed.send(sender=ResultChange, change=change, using=using)
