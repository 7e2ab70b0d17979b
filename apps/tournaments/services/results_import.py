"""Import a results bundle (`manage.py import_results`, IMPORT_FORMAT.md): validate, then upsert.

Invariants:
- All or nothing: validation and every write run in one `transaction.atomic()` block; with any
  problem nothing is written and the report lists every problem with its place.
- Upsert by id: a record creates its row or overwrites the format's columns of the stored one.
  A second import of the same bundle writes nothing and reports every record unchanged.
- Writes are bulk (`bulk_create` / `bulk_update`) through the models' plain base managers, so no
  model `save()` runs: the rules `save()` would check are all checked by `validate_bundle` first,
  the database constraints still apply, and any `IntegrityError` / `DataError` that escapes
  becomes a reported problem.
- The import announces what it changed once (`announce_results_changed`), inside its
  transaction: every tournament whose results changed (old and new homes of every record, the
  tournaments of a renamed game or season), the season and all-time boards of a tournament's
  old placement, and the histories of users who left a registration. Its boards are invalidated
  once the transaction commits.
- Explicit ids do not collide with ids created later by the ORM: the sequences of the tables
  written with new ids are reset (PostgreSQL); SQLite's AUTOINCREMENT tables already track the
  largest id ever inserted.
- A dry run does everything up to the commit, then rolls back: the database's constraints are
  checked, no sequence moves and nothing is announced.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import DataError, IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.models import User
from apps.tournaments.boards import BoardRef, Placement
from apps.tournaments.events import announce_results_changed
from apps.tournaments.models import (
    Dispute,
    Game,
    Match,
    Payment,
    Registration,
    Season,
    Team,
    Tournament,
)
from apps.tournaments.services.results_import_format import parse_bundle_json
from apps.tournaments.services.results_import_records import (
    BUNDLE_KEYS,
    BundleSyntaxError,
    Problem,
    ValidBundle,
)
from apps.tournaments.services.results_import_validation import (
    chunks,
    stored_values,
    validate_bundle,
)

__all__ = [
    "BUNDLE_KEYS",
    "BundleSyntaxError",
    "ImportReport",
    "KeyCounts",
    "Problem",
    "import_results",
    "parse_bundle_json",
]

log = structlog.get_logger(__name__)

BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class KeyCounts:
    """What the import did (or, in a dry run, would do) to the records of one top-level key."""

    key: str
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class ImportReport:
    """`problems` empty: the bundle was imported (or, in a dry run, would be) as `counts` say.
    Otherwise nothing was written and `counts` is empty."""

    problems: tuple[Problem, ...] = ()
    counts: tuple[KeyCounts, ...] = ()
    touched_tournament_ids: tuple[int, ...] = ()
    is_dry_run: bool = False

    @property
    def is_ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Table:
    """Where a key's records go. `links`: a many-to-many field of the record, stored in
    `through` as (owner_column, user_id). `keep_when_absent`: columns kept when the record's
    value is None (see results_import_records)."""

    model: type[models.Model]
    links: str | None = None
    owner_column: str = ""
    keep_when_absent: tuple[str, ...] = ()

    @property
    def through(self) -> type[models.Model]:
        return self.model._meta.get_field(self.links).remote_field.through  # type: ignore[union-attr]


TABLES: dict[str, _Table] = {
    "games": _Table(Game),
    "seasons": _Table(Season),
    "users": _Table(User),
    "teams": _Table(Team, links="members", owner_column="team_id"),
    "tournaments": _Table(Tournament),
    "registrations": _Table(
        Registration,
        links="roster",
        owner_column="registration_id",
        keep_when_absent=("registered_at",),
    ),
    "matches": _Table(Match),
    "payments": _Table(Payment),
    "disputes": _Table(Dispute, keep_when_absent=("opened_at",)),
}


@dataclass(slots=True)
class _KeyPlan:
    """The writes of one key, worked out before any is made; `stored` holds the rows (and
    `stored_links` the many-to-many ids) as they were before the import."""

    key: str
    columns: dict[str, str]  # record field -> model attribute (`game` -> `game_id`)
    creates: list[models.Model] = field(default_factory=list)
    row_updates: list[models.Model] = field(default_factory=list)
    updated_columns: set[str] = field(default_factory=set)
    updated: int = 0
    links_to_add: list[tuple[int, int]] = field(default_factory=list)
    links_to_remove: list[int] = field(default_factory=list)
    changed_ids: set[int] = field(default_factory=set)
    unchanged: int = 0
    stored: dict[int, dict[str, Any]] = field(default_factory=dict)
    stored_links: dict[int, set[int]] = field(default_factory=dict)

    def counts(self) -> KeyCounts:
        return KeyCounts(self.key, len(self.creates), self.updated, self.unchanged)

    @property
    def writes_anything(self) -> bool:
        return bool(self.creates or self.row_updates or self.links_to_add or self.links_to_remove)


def _columns(key: str, record_type: type) -> dict[str, str]:
    table = TABLES[key]
    names = [each.name for each in dataclasses.fields(record_type)]
    return {
        name: table.model._meta.get_field(name).attname
        for name in names
        if name not in ("index", "id", table.links)
    }


def _plan_key(key: str, records: tuple[Any, ...], now: Any) -> _KeyPlan:
    """Compare each record with its stored row: create, update or leave it."""
    table = TABLES[key]
    columns = _columns(key, type(records[0])) if records else {}
    plan = _KeyPlan(key, columns)
    ids = [record.id for record in records]
    plan.stored = stored_values(table.model, ids, columns.values())
    stored_link_rows: dict[int, dict[int, int]] = defaultdict(dict)  # owner -> user -> row pk
    if table.links:
        for batch in chunks(sorted(plan.stored)):
            rows = table.through.objects.filter(**{f"{table.owner_column}__in": batch})
            for pk, owner, user in rows.values_list("pk", table.owner_column, "user_id"):
                stored_link_rows[owner][user] = pk
        plan.stored_links = {owner: set(rows) for owner, rows in stored_link_rows.items()}
    for record in records:
        wanted = {attname: getattr(record, name) for name, attname in columns.items()}
        stored = plan.stored.get(record.id)
        for attname in table.keep_when_absent:
            if wanted[attname] is None:
                wanted[attname] = stored[attname] if stored is not None else now
        changed = [name for name in wanted if stored is None or stored[name] != wanted[name]]
        links_changed = False
        if table.links:
            wanted_links: frozenset[int] = getattr(record, table.links)
            current = stored_link_rows.get(record.id, {})
            plan.links_to_add += [
                (record.id, user) for user in sorted(wanted_links - current.keys())
            ]
            plan.links_to_remove += [pk for user, pk in current.items() if user not in wanted_links]
            links_changed = wanted_links != current.keys()
        if stored is not None and not changed and not links_changed:
            plan.unchanged += 1
            continue
        plan.changed_ids.add(record.id)
        instance = table.model(pk=record.id, **wanted)
        if stored is None:
            if isinstance(instance, User):
                instance.set_unusable_password()
            plan.creates.append(instance)
            continue
        plan.updated += 1
        if changed:
            plan.row_updates.append(instance)
            plan.updated_columns.update(changed)
    return plan


def _write_key(plan: _KeyPlan) -> None:
    """Updates before creates, so a renamed slug frees its value for a new row."""
    table = TABLES[plan.key]
    # Plain writes: the import announces what it changed once, in `_write`.
    manager = table.model._base_manager
    if plan.row_updates:
        names = sorted(table.model._meta.get_field(name).name for name in plan.updated_columns)
        manager.bulk_update(plan.row_updates, names, batch_size=BATCH_SIZE)
    if plan.creates:
        manager.bulk_create(plan.creates, batch_size=BATCH_SIZE)
    if table.links:
        for batch in chunks(plan.links_to_remove):
            table.through.objects.filter(pk__in=batch).delete()
        links = [
            table.through(**{table.owner_column: owner, "user_id": user})
            for owner, user in plan.links_to_add
        ]
        table.through.objects.bulk_create(links, batch_size=BATCH_SIZE)


# --- What the import touched ---------------------------------------------------------------------


def _tournaments_of_matches(match_ids: set[int], bundle: ValidBundle) -> dict[int, int]:
    """Each match's tournament after the import (the file's record, else the stored row)."""
    found = {
        pk: row["tournament_id"]
        for pk, row in stored_values(Match, match_ids, ["tournament_id"]).items()
    }
    found.update(
        {
            record.id: record.tournament
            for record in bundle.records.get("matches", ())
            if record.id in match_ids
        }
    )
    return found


def _touched_by(plans: dict[str, _KeyPlan], bundle: ValidBundle) -> tuple[set[int], set[int]]:
    """The tournaments whose boards the import changes (old and new homes of every created or
    updated tournament, registration, match and dispute, and the tournaments of a game or season
    whose slug changed), and the users whose registration the import rewrote (their history
    may lose a tournament)."""
    touched: set[int] = set()
    users_left: set[int] = set()
    if "tournaments" in plans:
        touched |= plans["tournaments"].changed_ids
    for key in ("registrations", "matches"):
        plan = plans.get(key)
        for record in bundle.records.get(key, ()):
            if plan is None or record.id not in plan.changed_ids:
                continue
            touched.add(record.tournament)
            stored = plan.stored.get(record.id)
            if stored is not None:
                touched.add(stored["tournament_id"])
                if key == "registrations":
                    users_left |= {stored["user_id"]} - {None}
                    users_left |= plan.stored_links.get(record.id, set())
    if "disputes" in plans:
        plan = plans["disputes"]
        match_ids = {
            record.match for record in bundle.records["disputes"] if record.id in plan.changed_ids
        }
        match_ids |= {row["match_id"] for pk, row in plan.stored.items() if pk in plan.changed_ids}
        touched |= set(_tournaments_of_matches(match_ids, bundle).values())
    renamed: dict[str, set[int]] = {}
    for key in ("games", "seasons"):
        plan = plans.get(key)
        renamed[key] = {
            record.id
            for record in bundle.records.get(key, ())
            if plan is not None
            and record.id in plan.stored
            and plan.stored[record.id]["slug"] != record.slug
        }
    if renamed["games"] or renamed["seasons"]:
        in_renamed = Q(game_id__in=renamed["games"]) | Q(season_id__in=renamed["seasons"])
        touched.update(Tournament.objects.filter(in_renamed).values_list("pk", flat=True))
        touched.update(
            record.id
            for record in bundle.records.get("tournaments", ())
            if record.game in renamed["games"] or record.season in renamed["seasons"]
        )
    return touched, users_left


def _stored_placements(tournament_ids: set[int]) -> set[Placement]:
    """Where these tournaments sit before the import: their old season / all-time boards."""
    placements: set[Placement] = set()
    for batch in chunks(sorted(tournament_ids)):
        rows = Tournament.objects.filter(pk__in=batch)
        placements.update(
            Placement(*row)
            for row in rows.values_list("season__slug", "game__slug", "participation_type")
        )
    return placements


# --- The import ----------------------------------------------------------------------------------


def _reset_sequences(plans: dict[str, _KeyPlan]) -> None:
    """Move the id sequences of the tables that got explicit new ids past them (PostgreSQL; on
    SQLite `sequence_reset_sql` is empty: AUTOINCREMENT already tracks the largest id)."""
    written = [TABLES[key].model for key, plan in plans.items() if plan.creates]
    statements = connection.ops.sequence_reset_sql(no_style(), written)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _write(bundle: ValidBundle, *, dry_run: bool) -> ImportReport:
    """Runs inside the import's transaction, after validation found no problem."""
    now = timezone.now()
    plans = {key: _plan_key(key, bundle.records[key], now) for key in bundle.present_keys}
    touched, users_left = _touched_by(plans, bundle)
    previous_placements = _stored_placements(touched)
    for plan in plans.values():
        _write_key(plan)
    tables: list[str] = []
    for key, plan in plans.items():
        if plan.writes_anything:
            table = TABLES[key]
            tables.append(table.model._meta.db_table)
            if table.links:
                tables.append(table.through._meta.db_table)
    if tables:
        # Foreign keys are deferred to the commit; check them here so a dry run checks them
        # too and a failure surfaces inside this block.
        connection.check_constraints(table_names=tables)
    if not dry_run:
        _reset_sequences(plans)
        if touched:
            old_boards = {board for each in previous_placements for board in each.boards()}
            left = {BoardRef.history(user) for user in users_left}
            announce_results_changed(touched, old_boards | left)
    return ImportReport(
        counts=tuple(plan.counts() for plan in plans.values()),
        touched_tournament_ids=tuple(sorted(touched)),
        is_dry_run=dry_run,
    )


class _DryRunRollback(Exception):
    """Leaves the import's atomic block so that everything it wrote is rolled back."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


def _database_problem(error: Exception) -> Problem:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return Problem("database", f"the database refused the import: {detail}")


def import_results(bundle: object, *, dry_run: bool = False) -> ImportReport:
    """Validate a parsed bundle and upsert it in one transaction (see the module docstring).

    Never raises for anything the bundle contains: problems come back in the report. Runs in
    its own atomic block (a savepoint when the caller already holds a transaction).
    """
    try:
        with transaction.atomic():
            validation = validate_bundle(bundle)
            if validation.bundle is None:
                return ImportReport(problems=validation.problems, is_dry_run=dry_run)
            report = _write(validation.bundle, dry_run=dry_run)
            if dry_run:
                raise _DryRunRollback(report)
    except _DryRunRollback as rollback:
        return rollback.report
    except (IntegrityError, DataError) as error:
        return ImportReport(problems=(_database_problem(error),), is_dry_run=dry_run)
    except ValidationError as error:
        problems = tuple(Problem("database", message) for message in error.messages)
        return ImportReport(problems=problems, is_dry_run=dry_run)
    log.info(
        "results_imported",
        created=sum(counts.created for counts in report.counts),
        updated=sum(counts.updated for counts in report.counts),
        unchanged=sum(counts.unchanged for counts in report.counts),
        tournaments_touched=len(report.touched_tournament_ids),
    )
    return report
