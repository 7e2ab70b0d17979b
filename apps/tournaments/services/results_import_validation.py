"""Pass 2 of reading a results bundle: references and the rules that span records.

References are resolved after every record is read, against the file first and then the stored
rows, so key order in the file does not matter and a file may add one late match to a stored
tournament. Cross-record rules are checked against the state the database would hold after the
import, stored rows the file does not mention included:

- every reference names a record of the file or a stored row;
- a registration names a user in a solo tournament and a team in a team tournament;
- a match's participants are registrations of its tournament; its winner is one of them;
- slugs and usernames stay unique;
- a tournament that changes type still fits its stored registrations, and a registration that
  moves to another tournament is not a participant of a stored match of the old one.

These are exactly the rules of the format and of the data model's constraints (IMPORT_FORMAT.md);
anything else (times outside the tournament's dates, results of a draft) is accepted.

`validate_bundle` only reads (a fixed number of queries, chunked for long id lists) and runs
inside the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q

from apps.common.models import User
from apps.tournaments.models import (
    Game,
    Match,
    ParticipationType,
    Registration,
    Season,
    Team,
    Tournament,
)
from apps.tournaments.services.results_import_format import Draft, ProblemList, read_bundle
from apps.tournaments.services.results_import_records import (
    RECORD_TYPES,
    ValidationResult,
    ValidBundle,
)

QUERY_CHUNK_SIZE = 500  # ids per IN (...) list, well inside SQLite's variable limit

MODELS: dict[str, type[models.Model]] = {
    "games": Game,
    "seasons": Season,
    "users": User,
    "teams": Team,
    "tournaments": Tournament,
    "registrations": Registration,
    "matches": Match,
}
NOUNS = {
    "games": "game",
    "seasons": "season",
    "users": "user",
    "teams": "team",
    "tournaments": "tournament",
    "registrations": "registration",
    "matches": "match",
}

# Reference fields: what each points at. `registrations[].roster` and `matches[].winner` are
# references too, checked by their own rules below.
REFERENCES: dict[str, dict[str, str]] = {
    "teams": {"members": "users"},
    "tournaments": {"game": "games", "season": "seasons"},
    "registrations": {"tournament": "tournaments", "user": "users", "team": "teams"},
    "matches": {
        "tournament": "tournaments",
        "participant1": "registrations",
        "participant2": "registrations",
        "winner": "registrations",
    },
    "payments": {"registration": "registrations", "verified_by": "users"},
    "disputes": {"match": "matches", "opened_by": "registrations", "resolved_by": "users"},
}
# Stored columns a rule needs, beyond existence.
STORED_COLUMNS: dict[str, tuple[str, ...]] = {
    "tournaments": ("participation_type",),
    "registrations": ("tournament_id",),
}

T = TypeVar("T")


def chunks(items: Iterable[T], size: int = QUERY_CHUNK_SIZE) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def stored_values(
    model: type[models.Model], ids: Iterable[int], columns: Iterable[str] = ()
) -> dict[int, dict[str, Any]]:
    """`{pk: {column: value}}` for the stored rows among `ids`."""
    found: dict[int, dict[str, Any]] = {}
    for batch in chunks(sorted(set(ids))):
        for row in model._default_manager.filter(pk__in=batch).values("pk", *columns):
            found[row.pop("pk")] = row
    return found


def _referenced_ids(draft: Draft, name: str) -> tuple[int, ...]:
    """The ids a reference field names, lists in file order."""
    value = draft.values.get(name)
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


class World:
    """The rows the import would leave, for the ids the bundle mentions: the file's records
    over the stored rows. A lookup answers None when that is unknown (the record is broken)."""

    def __init__(self, drafts: dict[str, list[Draft]], problems: ProblemList) -> None:
        self.in_file: dict[str, dict[int, Draft]] = defaultdict(dict)
        for key, records in drafts.items():
            for draft in records:
                if not draft.knows("id"):
                    continue
                first = self.in_file[key].setdefault(draft.values["id"], draft)
                if first is not draft:
                    draft.fail(problems, f"is also the id of {key}[{first.index}]", "id")
        wanted: dict[str, set[int]] = defaultdict(set)
        for key, records in drafts.items():
            for draft in records:
                for name, target in REFERENCES.get(key, {}).items():
                    wanted[target].update(_referenced_ids(draft, name))
                if key == "registrations":
                    wanted["users"].update(_referenced_ids(draft, "roster"))
        for key in ("tournaments", "registrations"):  # stored dependents of changed rows
            wanted[key].update(self.in_file[key])
        self.stored: dict[str, dict[int, dict[str, Any]]] = {}
        for key, ids in wanted.items():
            if key not in STORED_COLUMNS:
                ids = ids - self.in_file[key].keys()
            self.stored[key] = stored_values(MODELS[key], ids, STORED_COLUMNS.get(key, ()))
        self.stored_members: dict[int, set[int]] = defaultdict(set)
        stored_teams = [
            pk for pk in self.stored.get("teams", {}) if pk not in self.in_file["teams"]
        ]
        for batch in chunks(stored_teams):
            rows = Team.members.through.objects.filter(team_id__in=batch)
            for team_id, user_id in rows.values_list("team_id", "user_id"):
                self.stored_members[team_id].add(user_id)

    def exists(self, key: str, pk: int) -> bool:
        return pk in self.in_file[key] or pk in self.stored.get(key, {})

    def final(self, key: str, pk: int, name: str) -> Any:
        """The value of field `name` after the import (stored column `name` or `name_id`)."""
        draft = self.in_file[key].get(pk)
        if draft is not None:
            return draft.values.get(name)
        row = self.stored.get(key, {}).get(pk)
        if row is None:
            return None
        return row[name] if name in row else row[f"{name}_id"]

    def team_members(self, team_id: int) -> tuple[int, ...] | None:
        draft = self.in_file["teams"].get(team_id)
        if draft is None:
            return tuple(sorted(self.stored_members.get(team_id, ())))
        return draft.values.get("members")


def _check_references(draft: Draft, world: World, problems: ProblemList) -> None:
    for name, target in REFERENCES.get(draft.key, {}).items():
        if name == "winner":
            continue
        for position, pk in enumerate(_referenced_ids(draft, name)):
            if not world.exists(target, pk):
                place = name if name != "members" else f"{name}[{position}]"
                draft.fail(problems, f"{NOUNS[target]} {pk} does not exist", place)
    if draft.key == "registrations":
        for position, pk in enumerate(_referenced_ids(draft, "roster")):
            if not world.exists("users", pk):
                draft.fail(problems, f"user {pk} does not exist", f"roster[{position}]")


def _check_registration(draft: Draft, world: World, problems: ProblemList) -> None:
    values = draft.values
    has_one = draft.knows("user", "team") and (values["user"] is None) != (values["team"] is None)
    if has_one and draft.knows("tournament") and world.exists("tournaments", values["tournament"]):
        tournament = values["tournament"]
        kind = world.final("tournaments", tournament, "participation_type")
        if kind == ParticipationType.SOLO and values["team"] is not None:
            draft.fail(
                problems, f"tournament {tournament} is solo: it takes users, not teams", "team"
            )
        if kind == ParticipationType.TEAM and values["user"] is not None:
            draft.fail(
                problems, f"tournament {tournament} is a team tournament: it takes teams", "user"
            )
    if draft.knows("roster", "team") and values["roster"] is None:
        team = values["team"]
        values["roster"] = () if team is None else world.team_members(team)


def _check_match(draft: Draft, world: World, problems: ProblemList) -> None:
    values = draft.values
    if not draft.knows("tournament"):
        return
    tournament = values["tournament"]
    for name in ("participant1", "participant2"):
        pk = values.get(name)
        if pk is None or not world.exists("registrations", pk):
            continue
        if not world.exists("tournaments", tournament):
            break
        home = world.final("registrations", pk, "tournament")
        # A registration of the file naming an unknown tournament is reported there only.
        if pk in world.in_file["registrations"] and not world.exists("tournaments", home):
            continue
        if home is not None and home != tournament:
            draft.fail(
                problems,
                f"registration {pk} is not in tournament {tournament} (it is in {home})",
                name,
            )
    winner = values.get("winner")
    if winner is None or not draft.knows("participant1", "participant2"):
        return
    if winner in (values["participant1"], values["participant2"]):
        return
    if not world.exists("registrations", winner):
        message = f"registration {winner} does not exist"
    elif world.final("registrations", winner, "tournament") != tournament:
        message = f"registration {winner} is not in tournament {tournament}"
    else:
        message = (
            f"registration {winner} did not play this match (its participants are "
            f"{values['participant1']} and {values['participant2']})"
        )
    draft.fail(problems, message, "winner")


def _check_unique(drafts: list[Draft], world: World, name: str, problems: ProblemList) -> None:
    """`name` (a slug or username) is unique over the file and the stored rows it leaves."""
    if not drafts:
        return
    key = drafts[0].key
    owners: dict[str, Draft] = {}
    for draft in drafts:
        if draft.values.get(name) is None:  # broken, or a username waiting for a broken id
            continue
        first = owners.setdefault(draft.values[name], draft)
        if first is not draft:
            draft.fail(
                problems, f'"{draft.values[name]}" is also the {name} of {key}[{first.index}]', name
            )
    for batch in chunks(sorted(owners)):
        rows = MODELS[key]._default_manager.filter(**{f"{name}__in": batch})
        for pk, value in rows.values_list("pk", name):
            if pk not in world.in_file[key]:
                owners[value].fail(
                    problems, f'"{value}" is the {name} of stored {NOUNS[key]} {pk}', name
                )


def _check_stored_dependents(world: World, problems: ProblemList) -> None:
    """Stored rows the file does not mention must still fit the rows it changes."""
    retyped = {
        pk: draft
        for pk, draft in world.in_file["tournaments"].items()
        if draft.knows("participation_type")
        and pk in world.stored["tournaments"]
        and world.stored["tournaments"][pk]["participation_type"]
        != draft.values["participation_type"]
    }
    for batch in chunks(sorted(retyped)):
        rows = Registration.objects.filter(tournament_id__in=batch).order_by("pk")
        for pk, tournament, user in rows.values_list("pk", "tournament_id", "user_id"):
            draft = retyped[tournament]
            kind = draft.values["participation_type"]
            names = "a user" if user is not None else "a team"
            if pk not in world.in_file["registrations"] and (
                (kind == ParticipationType.TEAM) == (user is not None)
            ):
                draft.fail(
                    problems,
                    f"stored registration {pk} of this tournament names {names}, "
                    f"which a {kind} tournament does not take",
                    "participation_type",
                )
    moved = {
        pk: draft
        for pk, draft in world.in_file["registrations"].items()
        if draft.knows("tournament")
        and pk in world.stored["registrations"]
        and world.stored["registrations"][pk]["tournament_id"] != draft.values["tournament"]
    }
    for batch in chunks(sorted(moved)):
        rows = Match.objects.filter(Q(participant1_id__in=batch) | Q(participant2_id__in=batch))
        columns = ("pk", "tournament_id", "participant1_id", "participant2_id")
        for pk, tournament, *participants in rows.order_by("pk").values_list(*columns):
            if pk in world.in_file["matches"]:
                continue
            for registration in participants:
                draft = moved.get(registration)
                if draft is not None and draft.values["tournament"] != tournament:
                    draft.fail(
                        problems,
                        f"stored match {pk} of tournament {tournament} has this registration "
                        "as a participant",
                        "tournament",
                    )


def _build_record(draft: Draft) -> Any:
    values = {
        name: frozenset(value) if isinstance(value, tuple) else value
        for name, value in draft.values.items()
    }
    return RECORD_TYPES[draft.key](index=draft.index, **values)


def validate_bundle(bundle: object) -> ValidationResult:
    """Every problem of a parsed bundle, each with its place; the typed records when none."""
    problems = ProblemList()
    drafts = read_bundle(bundle, problems)
    if drafts:
        world = World(drafts, problems)
        for records in drafts.values():
            for draft in records:
                _check_references(draft, world, problems)
        for draft in drafts.get("registrations", []):
            _check_registration(draft, world, problems)
        for draft in drafts.get("matches", []):
            _check_match(draft, world, problems)
        _check_unique(drafts.get("games", []), world, "slug", problems)
        _check_unique(drafts.get("seasons", []), world, "slug", problems)
        _check_unique(drafts.get("users", []), world, "username", problems)
        _check_stored_dependents(world, problems)
    if problems:
        return ValidationResult(bundle=None, problems=problems.sorted())
    records = {
        key: tuple(_build_record(draft) for draft in records) for key, records in drafts.items()
    }
    return ValidationResult(bundle=ValidBundle(records, tuple(drafts)), problems=())
