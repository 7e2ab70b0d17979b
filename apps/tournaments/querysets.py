"""Bulk writes invalidate the boards they change, as single saves do through the signals.

`QuerySet.update()`, `bulk_create()` and `bulk_update()` (which Django runs as one `update()` per
batch of rows) send no model signal, so the receivers in `apps.tournaments.signals` never see
them. The querysets here schedule the invalidation those receivers schedule, through the same
function (`schedule_tournament_invalidation`: after the commit, one batch per transaction), for
every tournament a written row fed before the write and feeds after it.

Invariants:
- `update()` runs one extra query, before it writes (afterwards the filter may no longer match):
  the rows' current tournaments (with their season, game and type for a `Tournament`, and the
  users a `Registration` holds) and the tournament being assigned; an assigned expression (`F()`,
  the `Case` that `bulk_update()` builds) is evaluated per row by that same query.
- Nothing is scheduled when `update()` matched no row or the write raised.
- `bulk_create()` reads the new rows' tournaments from the instances (a `Dispute` costs one query
  for the tournaments of its matches); with `update_conflicts` the rows it may overwrite are read
  first, as for `update()`.
- `delete()` needs nothing here: these models have delete receivers, so Django deletes row by row
  and sends pre_delete / post_delete for each (it never fast-deletes a model with receivers).
- Not covered: rows written straight into the auto-created roster table
  (`Registration.roster.through`), which has Django's plain manager (`roster.add()` / `set()`
  send `m2m_changed`, which the signals handle; the importer schedules its own invalidation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.db.models import F, OuterRef, Subquery, Value

from apps.tournaments.services.board_cache import (
    BoardRef,
    Placement,
    Scope,
    schedule_tournament_invalidation,
)

ModelT = TypeVar("ModelT", bound=models.Model)

_NOT_ASSIGNED = object()


@dataclass(frozen=True, slots=True)
class StaleBoards:
    """What a bulk write made stale, in the terms of `schedule_tournament_invalidation`."""

    tournament_ids: frozenset[int] = frozenset()
    placements: frozenset[Placement] = frozenset()
    boards: frozenset[BoardRef] = frozenset()

    def __or__(self, other: StaleBoards) -> StaleBoards:
        return StaleBoards(
            self.tournament_ids | other.tournament_ids,
            self.placements | other.placements,
            self.boards | other.boards,
        )

    def schedule(self) -> None:
        if self.tournament_ids or self.placements or self.boards:
            schedule_tournament_invalidation(
                sorted(self.tournament_ids),
                extra_placements=self.placements,
                extra_boards=self.boards,
            )


def _ids(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(value for value in values if value is not None)


def _assigned(assignments: dict[str, Any], field_name: str) -> Any:
    """What `update()` assigns to a foreign key (given by name or attname), else _NOT_ASSIGNED."""
    for key in (field_name, f"{field_name}_id"):
        if key in assignments:
            return assignments[key]
    return _NOT_ASSIGNED


def _tournament_ids(rows: Iterable[dict[str, Any]]) -> frozenset[int]:
    return _ids(
        row.get(column) for row in rows for column in ("tournament_id", "assigned_tournament")
    )


def _as_expression(value: Any) -> Any:
    """An assigned foreign key as something a query can select (expressions stay as they are)."""
    if hasattr(value, "resolve_expression"):
        return value
    plain_id = value.pk if isinstance(value, models.Model) else value
    return Value(plain_id, output_field=models.BigIntegerField())


class BoardFeedingQuerySet(models.QuerySet[ModelT]):
    """`update()` and `bulk_create()` (so `bulk_update()` too) schedule board invalidation.

    A subclass says what its rows feed: `_stale_before_update(assignments)` reads, in one
    query, what the rows feed now and what the assignments will make them feed;
    `_stale_after_create(objs)` what newly created instances feed.
    """

    def _stale_before_update(self, assignments: dict[str, Any]) -> StaleBoards:
        raise NotImplementedError

    def _stale_after_create(self, objs: Sequence[ModelT]) -> StaleBoards:
        raise NotImplementedError

    def update(self, **kwargs: Any) -> int:
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        stale = self.order_by()._stale_before_update(kwargs)
        rows = super().update(**kwargs)
        if rows:
            stale.schedule()
        return rows

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(
        self,
        objs: Iterable[ModelT],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Sequence[str] | None = None,
        unique_fields: Sequence[str] | None = None,
    ) -> list[ModelT]:
        objs = list(objs)
        stale = StaleBoards()
        stored_pks = [obj.pk for obj in objs if obj.pk is not None]
        if update_conflicts and stored_pks:
            # An upsert overwrites the stored rows: what they fed before goes stale as well.
            stale = self.filter(pk__in=stored_pks).order_by()._stale_before_update({})
        created = super().bulk_create(
            objs,
            batch_size=batch_size,
            ignore_conflicts=ignore_conflicts,
            update_conflicts=update_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )
        (stale | self._stale_after_create(created)).schedule()
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]


class TournamentRowQuerySet(BoardFeedingQuerySet[ModelT]):
    """Rows with a `tournament` foreign key (matches): they feed their tournament's boards."""

    def _values_before_update(
        self, columns: Sequence[str], assignments: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """`columns` of the rows about to be updated, with `assigned_tournament` when the update
        assigns one (one query; an assigned expression is evaluated per row)."""
        rows = self
        names = list(columns)
        tournament = _assigned(assignments, "tournament")
        if tournament is not _NOT_ASSIGNED:
            rows = rows.annotate(assigned_tournament=_as_expression(tournament))
            names.append("assigned_tournament")
        return list(rows.values(*names).distinct())

    def _stale_before_update(self, assignments: dict[str, Any]) -> StaleBoards:
        rows = self._values_before_update(["tournament_id"], assignments)
        return StaleBoards(tournament_ids=_tournament_ids(rows))

    def _stale_after_create(self, objs: Sequence[ModelT]) -> StaleBoards:
        return StaleBoards(tournament_ids=_ids(obj.tournament_id for obj in objs))  # type: ignore[attr-defined]


class RegistrationQuerySet(TournamentRowQuerySet[ModelT]):
    """As for matches, plus the history of each user registered before the write: a registration
    given to another user no longer ties the first one to the tournament, so the flush after the
    commit would not find them (as `invalidate_histories_of_removed_registration` says)."""

    def _stale_before_update(self, assignments: dict[str, Any]) -> StaleBoards:
        rows = self._values_before_update(["tournament_id", "user_id"], assignments)
        users = _ids(row["user_id"] for row in rows)
        return StaleBoards(
            tournament_ids=_tournament_ids(rows),
            boards=frozenset(BoardRef(Scope.HISTORY, user_id=user) for user in users),
        )


class DisputeQuerySet(BoardFeedingQuerySet[ModelT]):
    """Disputes feed the boards of their match's tournament (the signals watch their saves)."""

    def _match_model(self) -> type[models.Model]:
        return self.model._meta.get_field("match").related_model  # type: ignore[return-value]

    def _stale_before_update(self, assignments: dict[str, Any]) -> StaleBoards:
        rows = self.annotate(tournament_id=F("match__tournament_id"))
        names = ["tournament_id"]
        match = _assigned(assignments, "match")
        if match is not _NOT_ASSIGNED:
            tournament_of_match = self._match_model()._base_manager.filter(
                pk=OuterRef("assigned_match")
            )
            rows = rows.annotate(assigned_match=_as_expression(match)).annotate(
                assigned_tournament=Subquery(tournament_of_match.values("tournament_id")[:1])
            )
            names.append("assigned_tournament")
        return StaleBoards(tournament_ids=_tournament_ids(rows.values(*names).distinct()))

    def _stale_after_create(self, objs: Sequence[ModelT]) -> StaleBoards:
        match_ids = _ids(obj.match_id for obj in objs)  # type: ignore[attr-defined]
        if not match_ids:
            return StaleBoards()
        tournament_ids = (
            self._match_model()
            ._base_manager.filter(pk__in=match_ids)
            .values_list("tournament_id", flat=True)
            .distinct()
        )
        return StaleBoards(tournament_ids=_ids(tournament_ids))


class TournamentQuerySet(BoardFeedingQuerySet[ModelT]):
    """A tournament feeds its own board and those of its season, game and type: the boards of
    where it was before the write go stale too (as `remember_tournament_placement` does)."""

    def _stale_before_update(self, assignments: dict[str, Any]) -> StaleBoards:
        rows = self.values_list("pk", "season__slug", "game__slug", "participation_type")
        tournament_ids: set[int] = set()
        placements: set[Placement] = set()
        for pk, *placement in rows:
            tournament_ids.add(pk)
            placements.add(tuple(placement))  # type: ignore[arg-type]
        return StaleBoards(frozenset(tournament_ids), frozenset(placements))

    def _stale_after_create(self, objs: Sequence[ModelT]) -> StaleBoards:
        return StaleBoards(tournament_ids=_ids(obj.pk for obj in objs))
