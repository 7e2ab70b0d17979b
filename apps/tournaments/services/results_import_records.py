"""The values a results bundle describes, as frozen dataclasses (no Django import).

A bundle (docs/admin/import_results.md) becomes one record per JSON object, keyed by the
top-level key it came from. A record states the whole row for the fields of the format: an
absent field takes the format's default, as with `loaddata`. Two exceptions keep a re-import
idempotent: `registrations[].registered_at` and `disputes[].opened_at`, when absent, keep the
stored value (a new row gets the import's time). Columns outside the format (passwords, emails,
proof files, evidence, notes) are never written.

Places name a record the way a reader finds it in the file: `matches[3].winner`, indexes from 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Top-level keys in dependency order: the order records are checked, reported and written in.
BUNDLE_KEYS: tuple[str, ...] = (
    "games",
    "seasons",
    "users",
    "teams",
    "tournaments",
    "registrations",
    "matches",
    "payments",
    "disputes",
)


class BundleSyntaxError(ValueError):
    """The text is not a JSON document the importer can read; the message says where."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a bundle cannot be imported. `place` is `key[index].field`, or a prefix of it
    (`matches[3]`, `scores` for an unknown key, `bundle`, `database`)."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


@dataclass(frozen=True, slots=True)
class GameRecord:
    index: int
    id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class SeasonRecord:
    index: int
    id: int
    slug: str
    name: str
    starts_on: dt.date | None
    ends_on: dt.date | None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """`username` is resolved (`user<id>` when the file gives none)."""

    index: int
    id: int
    username: str
    display_name: str
    is_staff: bool


@dataclass(frozen=True, slots=True)
class TeamRecord:
    index: int
    id: int
    name: str
    tag: str
    members: frozenset[int]


@dataclass(frozen=True, slots=True)
class TournamentRecord:
    index: int
    id: int
    name: str
    game: int
    season: int | None
    participation_type: str
    format: str
    status: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    points_per_win: int
    points_per_draw: int
    points_per_loss: int
    tiebreak_ruleset: str


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """Exactly one of `user` / `team`, matching its tournament's participation type.
    `registered_at` None: keep the stored value. `roster` is resolved (the team's members, as
    the import leaves them, when the file gives none; empty for a solo registration)."""

    index: int
    id: int
    tournament: int
    user: int | None
    team: int | None
    status: str
    registered_at: dt.datetime | None
    seed: int | None
    roster: frozenset[int]


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """Participants differ and belong to `tournament`. `winner` is final: the one given, or for
    a completed match without one, derived from the scores (None: a draw)."""

    index: int
    id: int
    tournament: int
    participant1: int
    participant2: int
    round: int
    match_number: int
    score1: int
    score2: int
    state: str
    winner: int | None
    scheduled_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    index: int
    id: int
    registration: int
    amount: Decimal
    method: str
    status: str
    transaction_reference: str
    submitted_at: dt.datetime | None
    verified_at: dt.datetime | None
    verified_by: int | None


@dataclass(frozen=True, slots=True)
class DisputeRecord:
    """`opened_at` None: keep the stored value."""

    index: int
    id: int
    match: int
    opened_by: int | None
    reason: str
    status: str
    opened_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolved_by: int | None


RECORD_TYPES: dict[str, type] = {
    "games": GameRecord,
    "seasons": SeasonRecord,
    "users": UserRecord,
    "teams": TeamRecord,
    "tournaments": TournamentRecord,
    "registrations": RegistrationRecord,
    "matches": MatchRecord,
    "payments": PaymentRecord,
    "disputes": DisputeRecord,
}


@dataclass(frozen=True, slots=True)
class ValidBundle:
    """A bundle with no problem. `records[key]` in file order; `present_keys` are the keys the
    file has (also empty lists), in dependency order."""

    records: dict[str, tuple[Any, ...]]
    present_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """`bundle` is set exactly when `problems` is empty."""

    bundle: ValidBundle | None
    problems: tuple[Problem, ...]

    @property
    def is_valid(self) -> bool:
        return not self.problems
