"""Bulk writes announce the results they change, as single saves and deletes do.

`QuerySet.update()`, `bulk_create()`, `bulk_update()` (one `update()` per batch of rows) and
`delete()` call no model method, so the querysets of the models that feed boards announce for
them (`apps.tournaments.events`), inside the write's transaction, once per call.

Invariants:
- `update()` reads the rows' tournaments (and, for registrations, their users) before it writes,
  in one query, and only when it assigns a field that can change a board (the model's
  `board_fields`):
  updating a dispute's notes or a match's schedule costs nothing more than the UPDATE.
- An assigned foreign key may be an expression (`F()`, the `Case` that `bulk_update()` builds):
  the same query evaluates it per row, so a row moved to another tournament announces both.
- Nothing is announced when no row matched or the write raised.
- `delete()` reads what the rows feed before deleting them; rows deleted by a cascade from a
  parent are covered by the parent's announcement (a tournament names every board it feeds).
- Not covered here: rows written straight into the roster table (`Registration.roster.through`):
  `roster.add()` / `set()` / `clear()` announce through the m2m receiver in
  `models/registration.py`; the
  importer announces the rosters it writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import F, OuterRef, Subquery, Value

from apps.tournaments.boards import BoardRef, Placement, boards_fed
from apps.tournaments.events import ResultChange, announce_results_changed

ModelT = TypeVar("ModelT", bound=models.Model)

_NOT_ASSIGNED = object()


def _ids(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(value for value in values if value is not None)


def _assigned(assignments: dict[str, Any], field_name: str) -> Any:
    """What `update()` assigns to a foreign key (given by name or attname), else _NOT_ASSIGNED."""
    for key in (field_name, f"{field_name}_id"):
        if key in assignments:
            return assignments[key]
    return _NOT_ASSIGNED


def _as_expression(value: Any) -> Any:
    """An assigned foreign key as something a query can select (expressions stay as they are)."""
    if hasattr(value, "resolve_expression"):
        return value
    plain_id = value.pk if isinstance(value, models.Model) else value
    return Value(plain_id, output_field=models.BigIntegerField())


def _tournament_ids(rows: Iterable[dict[str, Any]]) -> frozenset[int]:
    return _ids(
        row.get(column) for row in rows for column in ("tournament_id", "assigned_tournament")
    )


class BoardFeedingQuerySet(models.QuerySet[ModelT]):
    """Announces what `update()`, `bulk_create()` and `delete()` change.

    A subclass says what its rows feed: `_change_of_rows(assignments)` reads, in one query, what
    the rows feed now and what `assignments` will make them feed; `_change_of_new(objs)` what
    newly created rows feed. An `update()` that assigns none of the model's `board_fields`
    announces nothing.
    """

    def _change_of_rows(self, assignments: dict[str, Any]) -> ResultChange:
        raise NotImplementedError

    def _change_of_new(self, objs: Sequence[ModelT]) -> ResultChange:
        raise NotImplementedError

    def _change_of_deleted(self) -> ResultChange:
        return self._change_of_rows({})

    def _announce(self, change: ResultChange) -> None:
        announce_results_changed(change.tournament_ids, change.boards, using=self.db)

    def update(self, **kwargs: Any) -> int:
        if not self.model.board_fields & {key.removesuffix("_id") for key in kwargs}:  # type: ignore[attr-defined]
            return super().update(**kwargs)
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        with transaction.atomic(using=self.db, savepoint=False):
            change = self.order_by()._change_of_rows(kwargs)
            rows = super().update(**kwargs)
            if rows:
                self._announce(change)
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
        with transaction.atomic(using=self.db, savepoint=False):
            change = ResultChange()
            stored_pks = [obj.pk for obj in objs if obj.pk is not None]
            if update_conflicts and stored_pks:
                # An upsert overwrites the stored rows: what they fed before changes as well.
                change = self.filter(pk__in=stored_pks).order_by()._change_of_rows({})
            created = super().bulk_create(
                objs,
                batch_size=batch_size,
                ignore_conflicts=ignore_conflicts,
                update_conflicts=update_conflicts,
                update_fields=update_fields,
                unique_fields=unique_fields,
            )
            self._announce(change | self._change_of_new(created))
        return created

    bulk_create.alters_data = True  # type: ignore[attr-defined]

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self.db, savepoint=False):
            change = self.order_by()._change_of_deleted()
            deleted = super().delete()
            if deleted[0]:
                self._announce(change)
        return deleted

    delete.alters_data = True  # type: ignore[attr-defined]


class TournamentRowQuerySet(BoardFeedingQuerySet[ModelT]):
    """Rows with a `tournament` foreign key (matches): they feed their tournament's boards."""

    def _values_before(
        self, columns: Sequence[str], assignments: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """`columns` of the rows about to be written, with `assigned_tournament` when the update
        assigns one (one query; an assigned expression is evaluated per row)."""
        rows = self
        names = list(columns)
        tournament = _assigned(assignments, "tournament")
        if tournament is not _NOT_ASSIGNED:
            rows = rows.annotate(assigned_tournament=_as_expression(tournament))
            names.append("assigned_tournament")
        return list(rows.values(*names).distinct())

    def _change_of_rows(self, assignments: dict[str, Any]) -> ResultChange:
        rows = self._values_before(["tournament_id"], assignments)
        return ResultChange(tournament_ids=_tournament_ids(rows))

    def _change_of_new(self, objs: Sequence[ModelT]) -> ResultChange:
        return ResultChange(tournament_ids=_ids(obj.tournament_id for obj in objs))  # type: ignore[attr-defined]


class RegistrationQuerySet(TournamentRowQuerySet[ModelT]):
    """As for matches, plus the history of each user registered before the write (solo or on
    the roster): once the registration is given to someone else or deleted, nothing links them
    to the tournament any more."""

    def _change_of_rows(self, assignments: dict[str, Any]) -> ResultChange:
        rows = self._values_before(["tournament_id", "user_id", "roster__id"], assignments)
        users = _ids(row[column] for row in rows for column in ("user_id", "roster__id"))
        return ResultChange(
            tournament_ids=_tournament_ids(rows),
            boards=frozenset(BoardRef.history(user) for user in users),
        )


class DisputeQuerySet(BoardFeedingQuerySet[ModelT]):
    """A dispute's status (a dispute resolved) feeds the boards of its match's tournament; its
    other fields feed nothing."""

    def _match_model(self) -> type[models.Model]:
        return self.model._meta.get_field("match").related_model  # type: ignore[return-value]

    def _change_of_rows(self, assignments: dict[str, Any]) -> ResultChange:
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
        return ResultChange(tournament_ids=_tournament_ids(rows.values(*names).distinct()))

    def _change_of_new(self, objs: Sequence[ModelT]) -> ResultChange:
        match_ids = _ids(obj.match_id for obj in objs)  # type: ignore[attr-defined]
        if not match_ids:
            return ResultChange()
        tournament_ids = (
            self._match_model()
            ._base_manager.filter(pk__in=match_ids)
            .values_list("tournament_id", flat=True)
            .distinct()
        )
        return ResultChange(tournament_ids=_ids(tournament_ids))


class TournamentQuerySet(BoardFeedingQuerySet[ModelT]):
    """A tournament feeds its own board, those of its placement and its users' histories: the
    boards of where it was before a write change too."""

    def _placed_rows(self) -> list[tuple[int, Placement]]:
        rows = self.order_by().values_list("pk", "season__slug", "game__slug", "participation_type")
        return [(pk, Placement(*place)) for pk, *place in rows]

    def fed_boards(self) -> set[BoardRef]:
        """Every board showing results of these tournaments (2 queries, whatever the count)."""
        rows = self._placed_rows()
        users = self.order_by().values_list("registrations__user_id", "registrations__roster__id")
        return boards_fed(
            (pk for pk, _ in rows),
            (placement for _, placement in rows),
            (user for pair in users for user in pair),
        )

    def _change_of_rows(self, assignments: dict[str, Any]) -> ResultChange:
        """The tournaments, and the boards of where they are placed before the write (what the
        tournaments feed after it is resolved after the commit)."""
        rows = self._placed_rows()
        boards = {board for _, placement in rows for board in placement.boards()}
        return ResultChange(frozenset(pk for pk, _ in rows), frozenset(boards))

    def _change_of_deleted(self) -> ResultChange:
        # Nothing will be left to resolve after the commit: name every board now.
        return ResultChange(boards=frozenset(self.fed_boards()))

    def _change_of_new(self, objs: Sequence[ModelT]) -> ResultChange:
        return ResultChange(tournament_ids=_ids(obj.pk for obj in objs))
