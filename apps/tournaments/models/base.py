"""What every model that feeds boards shares: knowing what a save changes, and announcing it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db import models

from apps.tournaments.boards import BoardRef
from apps.tournaments.events import announce_results_changed


class BoardFeedingModel(models.Model):
    """A model whose rows can change what a board shows.

    `board_fields`: the fields whose change can (a save with `update_fields` outside them, and a
    bulk `update()` assigning none of them, announce nothing). Subclasses announce in `save()` and
    `delete()`, inside the write's transaction; their querysets do the same for bulk writes.
    """

    board_fields: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        abstract = True

    def stored_values(self, *fields: str) -> dict[str, Any] | None:
        """`fields` as the database holds them before this save (one query); None for a row
        being added."""
        if self._state.adding:
            return None
        stored = type(self)._base_manager.using(self._state.db).filter(pk=self.pk)
        return stored.values(*fields).first()

    def saves_board_fields(self, update_fields: Iterable[str] | None) -> bool:
        return update_fields is None or bool(self.board_fields & set(update_fields))

    def announce(
        self, tournament_ids: Iterable[int | None], boards: Iterable[BoardRef] = ()
    ) -> None:
        announce_results_changed(tournament_ids, boards, using=self._state.db or "default")
