"""Pass 1 of reading a results bundle: JSON text, shape, value types, and one-record rules.

Everything here is decided by the file alone (no database): top-level keys, fields, types,
ranges and lengths the columns accept, choices, and the rules one record can answer (exactly
one of user / team, a forfeit names its winner, a completed match has `completed_at`). A
completed match without a winner gets the one its scores decide. A record with a problem keeps
the values that did parse, so pass 2 can still check its references and other records can
still refer to its id. The field table and the value parsers are in `results_import_fields`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from apps.tournaments.models import COUNTED_MATCH_STATES, MatchState
from apps.tournaments.services.results_import_fields import (
    FIELDS,
    KEEP_STORED,
    MAX_AMOUNT,
    MAX_ID,
    MAX_POSITIVE_INT,
    MAX_POSITIVE_SMALL_INT,
    REQUIRED,
    TIME_EXAMPLE,
    FieldSpec,
    Parser,
    _Invalid,
    describe,
)
from apps.tournaments.services.results_import_records import (
    BUNDLE_KEYS,
    BundleSyntaxError,
    Problem,
)

__all__ = [
    "FIELDS",
    "KEEP_STORED",
    "MAX_AMOUNT",
    "MAX_ID",
    "MAX_POSITIVE_INT",
    "MAX_POSITIVE_SMALL_INT",
    "REQUIRED",
    "TIME_EXAMPLE",
    "Draft",
    "FieldSpec",
    "Parser",
    "ProblemList",
    "describe",
    "parse_bundle_json",
    "read_bundle",
]


def parse_bundle_json(text: str) -> object:
    """Parse JSON text strictly: no NaN / Infinity, no key twice in one object (a repeated
    key would silently drop records). Raises BundleSyntaxError."""

    def reject_constant(name: str) -> object:
        raise BundleSyntaxError(f"malformed JSON: {name} is not a JSON value")

    def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, value in pairs:
            if key in result:
                raise BundleSyntaxError(f'malformed JSON: key "{key}" appears twice in one object')
            result[key] = value
        return result

    if not text.strip():
        raise BundleSyntaxError("malformed JSON: the input is empty")
    try:
        return json.loads(text, object_pairs_hook=unique_keys, parse_constant=reject_constant)
    except BundleSyntaxError:
        raise
    except json.JSONDecodeError as error:
        raise BundleSyntaxError(
            f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    except (ValueError, RecursionError) as error:  # integers past 4300 digits, absurd nesting
        raise BundleSyntaxError(f"malformed JSON: {error}") from error


# --- Problems and drafts -------------------------------------------------------------------------


class ProblemList:
    """Collects problems; `sorted()` orders them by key, then record, then discovery."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, int, int, Problem]] = []

    def add(self, message: str, key: str, index: int | None = None, name: str = "") -> None:
        place = key if index is None else f"{key}[{index}]"
        if name:
            place = f"{place}.{name}"
        rank = BUNDLE_KEYS.index(key) if key in BUNDLE_KEYS else -1
        position = -1 if index is None else index
        self._entries.append((rank, position, len(self._entries), Problem(place, message)))

    def __bool__(self) -> bool:
        return bool(self._entries)

    def sorted(self) -> tuple[Problem, ...]:
        return tuple(entry[3] for entry in sorted(self._entries))


@dataclass(slots=True)
class Draft:
    """One record after pass 1: the values that parsed, defaults applied. A field that failed
    (or a required one that is missing) is absent from `values`; `is_complete` turns False on
    any problem of this record, in either pass."""

    key: str
    index: int
    values: dict[str, Any] = field(default_factory=dict)
    is_complete: bool = True

    def knows(self, *names: str) -> bool:
        return all(name in self.values for name in names)

    def fail(self, problems: ProblemList, message: str, name: str = "") -> None:
        problems.add(message, self.key, self.index, name)
        self.is_complete = False


def _read_record(key: str, index: int, raw: object, problems: ProblemList) -> Draft:
    draft = Draft(key, index)
    if not isinstance(raw, dict):
        draft.fail(problems, f"must be an object, got {describe(raw)}")
        return draft
    specs = FIELDS[key]
    names = [spec.name for spec in specs]
    for name in raw:
        if name not in names:
            draft.fail(problems, f"unknown field; the fields are {', '.join(names)}", name)
    for spec in specs:
        if spec.name not in raw:
            if spec.default is REQUIRED:
                draft.fail(problems, "is required", spec.name)
            else:
                draft.values[spec.name] = spec.default
            continue
        value = raw[spec.name]
        if value is None and spec.is_nullable:
            draft.values[spec.name] = None
            continue
        try:
            draft.values[spec.name] = spec.parse(value)
        except _Invalid as invalid:
            for suffix, message in invalid.errors:
                draft.fail(problems, message, spec.name + suffix)
    return draft


def _check_match(draft: Draft, problems: ProblemList) -> None:
    values = draft.values
    if draft.knows("participant1", "participant2") and (
        values["participant1"] == values["participant2"]
    ):
        draft.fail(
            problems,
            f"must differ from participant1 (both are registration {values['participant1']})",
            "participant2",
        )
    if not draft.knows("state"):
        return
    state = values["state"]
    if state in COUNTED_MATCH_STATES and values.get("completed_at", "unknown") is None:
        draft.fail(problems, f"is required for a {state} match", "completed_at")
    if not draft.knows("winner"):
        return
    winner = values["winner"]
    if state == MatchState.FORFEIT and winner is None:
        draft.fail(problems, "is required: a forfeit names its winner", "winner")
    elif state not in COUNTED_MATCH_STATES and winner is not None:
        draft.fail(problems, f"must be absent or null: a {state} match has no winner", "winner")
    elif state == MatchState.COMPLETED and winner is None:
        # The higher score wins; equal scores are a draw (no winner).
        if not draft.knows("participant1", "participant2", "score1", "score2"):
            return
        if values["score1"] > values["score2"]:
            values["winner"] = values["participant1"]
        elif values["score2"] > values["score1"]:
            values["winner"] = values["participant2"]


def _check_one_record(draft: Draft, problems: ProblemList) -> None:
    """The rules a record answers alone."""
    values = draft.values
    if draft.key == "users" and draft.knows("id", "username") and values["username"] is None:
        values["username"] = f"user{values['id']}"
    elif draft.key == "registrations" and draft.knows("user", "team"):
        if (values["user"] is None) == (values["team"] is None):
            has = "neither" if values["user"] is None else "both"
            draft.fail(problems, f"needs exactly one of user or team; it has {has}")
    elif draft.key == "matches":
        _check_match(draft, problems)


def read_bundle(bundle: object, problems: ProblemList) -> dict[str, list[Draft]]:
    """Pass 1 over a parsed bundle: drafts per present key, in file order."""
    if not isinstance(bundle, dict):
        problems.add(
            f"must be a JSON object with keys among {', '.join(BUNDLE_KEYS)}; "
            f"got {describe(bundle)}",
            "bundle",
        )
        return {}
    for key in bundle:
        if key not in BUNDLE_KEYS:
            problems.add(f"unknown key; the keys are {', '.join(BUNDLE_KEYS)}", str(key))
    drafts: dict[str, list[Draft]] = {}
    for key in BUNDLE_KEYS:
        if key not in bundle:
            continue
        drafts[key] = []
        raw_records = bundle[key]
        if not isinstance(raw_records, list):
            problems.add(f"must be an array of objects, got {describe(raw_records)}", key)
            continue
        for index, raw in enumerate(raw_records):
            draft = _read_record(key, index, raw, problems)
            _check_one_record(draft, problems)
            drafts[key].append(draft)
    return drafts
