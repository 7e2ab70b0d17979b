"""The fields of the results bundle format: one parser per value type, and `FIELDS`, the table
of every key's fields with their defaults. A parser returns the clean value or raises `_Invalid`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from apps.common.models import MAX_ID
from apps.tournaments.models import (
    DisputeReason,
    DisputeStatus,
    MatchState,
    ParticipationType,
    PaymentStatus,
    RegistrationStatus,
    TiebreakRuleset,
    TournamentFormat,
    TournamentStatus,
)

MAX_POSITIVE_INT = 2_147_483_647  # PositiveIntegerField on PostgreSQL
MAX_POSITIVE_SMALL_INT = 32_767  # PositiveSmallIntegerField on PostgreSQL
MAX_AMOUNT = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
TIME_EXAMPLE = "2025-03-01T18:00:00Z"

_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")  # django.core.validators.validate_slug
_USERNAME_RE = re.compile(r"^[\w.@+-]+\Z")  # UnicodeUsernameValidator
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?\Z")


def describe(value: object) -> str:
    """A JSON value as a reader of the file would name it: `string "3"`, `true`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {json.dumps(shown)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- Field parsers: value -> clean value, or _Invalid -------------------------------------------


class _Invalid(Exception):
    """A field's value is unusable; `errors` are (suffix after the field name, message)."""

    def __init__(self, *errors: tuple[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _fail(message: str) -> _Invalid:
    return _Invalid(("", message))


Parser = Callable[[object], Any]


def _positive_id(value: object) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise _fail(f"must be a positive integer id, got {describe(value)}")
    return value


def _whole_number(maximum: int) -> Parser:
    def parse(value: object) -> int:
        if type(value) is not int or not 0 <= value <= maximum:
            raise _fail(f"must be an integer from 0 to {maximum}, got {describe(value)}")
        return value

    return parse


def _text(max_length: int, *, blank: bool = True) -> Parser:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise _fail(f"must be a string, got {describe(value)}")
        if "\x00" in value:
            raise _fail("must not contain NUL characters")
        if not blank and not value.strip():
            raise _fail("must not be blank")
        if len(value) > max_length:
            raise _fail(f"must be at most {max_length} characters, got {len(value)}")
        return value

    return parse


def _matching(pattern: re.Pattern[str], max_length: int, what: str) -> Parser:
    as_text = _text(max_length, blank=False)

    def parse(value: object) -> str:
        text = as_text(value)
        if not pattern.match(text):
            raise _fail(f"must be {what}, got {describe(value)}")
        return text

    return parse


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(f"must be true or false, got {describe(value)}")
    return value


def _timestamp(value: object) -> dt.datetime:
    wrong = f"must be an ISO 8601 time with an offset such as {TIME_EXAMPLE}, got {describe(value)}"
    if not isinstance(value, str):
        raise _fail(wrong)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(wrong) from None
    if parsed.utcoffset() is None:
        raise _fail(f"needs an offset (Z or +hh:mm) such as {TIME_EXAMPLE}, got {describe(value)}")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise _fail(f"is out of range, got {describe(value)}") from None


def _calendar_date(value: object) -> dt.date:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise _fail(f"must be a date YYYY-MM-DD, got {describe(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"is not a calendar date, got {describe(value)}") from None


def _choice(choices: type[models.TextChoices]) -> Parser:
    valid = ", ".join(choices.values)

    def parse(value: object) -> str:
        if not isinstance(value, str) or value not in choices.values:
            raise _fail(f"must be one of {valid}; got {describe(value)}")
        return value

    return parse


def _amount(value: object) -> Decimal:
    """A decimal string or a JSON number, at most 2 decimal places, within the column."""
    wrong = f"must be a decimal amount with at most 2 decimal places, got {describe(value)}"
    if (isinstance(value, str) and _AMOUNT_RE.match(value)) or type(value) in (int, Decimal):
        amount = Decimal(value)  # type: ignore[arg-type]
    elif type(value) is float:
        amount = Decimal(repr(value))  # the shortest text that reads back as this float
    else:
        raise _fail(wrong)
    try:
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            raise _fail(wrong)
    except InvalidOperation:  # too many digits to quantize at all
        raise _fail(wrong) from None
    if abs(amount) > MAX_AMOUNT:
        raise _fail(f"must be at most {MAX_AMOUNT} in size, got {describe(value)}")
    return amount


def _id_list(value: object) -> tuple[int, ...]:
    """Kept in file order so a problem can name its position; a set once validated."""
    if not isinstance(value, list):
        raise _fail(f"must be an array of user ids, got {describe(value)}")
    errors: list[tuple[str, str]] = []
    for position, item in enumerate(value):
        try:
            _positive_id(item)
        except _Invalid as invalid:
            errors.extend((f"[{position}]", message) for _, message in invalid.errors)
    if errors:
        raise _Invalid(*errors)
    return tuple(value)


# --- The format's fields -------------------------------------------------------------------------

REQUIRED = object()  # no default: an absent field is a problem
KEEP_STORED = None  # the default of the *_at fields whose model default is "now"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    parse: Parser
    default: object = None
    is_nullable: bool = False


def _required_id(name: str) -> FieldSpec:
    return FieldSpec(name, _positive_id, REQUIRED)


def _nullable_id(name: str) -> FieldSpec:
    return FieldSpec(name, _positive_id, None, is_nullable=True)


def _nullable_time(name: str) -> FieldSpec:
    return FieldSpec(name, _timestamp, None, is_nullable=True)


def _count(name: str, default: int, maximum: int = MAX_POSITIVE_INT) -> FieldSpec:
    return FieldSpec(name, _whole_number(maximum), default)


def _enum(name: str, choices: type[models.TextChoices], default: models.TextChoices) -> FieldSpec:
    return FieldSpec(name, _choice(choices), str(default.value))


_SLUG = _matching(_SLUG_RE, 64, "a slug (letters, digits, - and _)")
_USERNAME = _matching(_USERNAME_RE, 150, "a username (letters, digits and @ . + - _)")

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "games": (
        _required_id("id"),
        FieldSpec("slug", _SLUG, REQUIRED),
        FieldSpec("name", _text(128), ""),
    ),
    "seasons": (
        _required_id("id"),
        FieldSpec("slug", _SLUG, REQUIRED),
        FieldSpec("name", _text(128), ""),
        FieldSpec("starts_on", _calendar_date, None, is_nullable=True),
        FieldSpec("ends_on", _calendar_date, None, is_nullable=True),
    ),
    "users": (
        _required_id("id"),
        FieldSpec("username", _USERNAME, None),  # None: user<id>, filled in below
        FieldSpec("display_name", _text(150), ""),
        FieldSpec("is_staff", _boolean, False),
    ),
    "teams": (
        _required_id("id"),
        FieldSpec("name", _text(128, blank=False), REQUIRED),
        FieldSpec("tag", _text(16), ""),
        FieldSpec("members", _id_list, ()),
    ),
    "tournaments": (
        _required_id("id"),
        FieldSpec("name", _text(200, blank=False), REQUIRED),
        _required_id("game"),
        _nullable_id("season"),
        _enum("participation_type", ParticipationType, ParticipationType.SOLO),
        _enum("format", TournamentFormat, TournamentFormat.ROUND_ROBIN),
        _enum("status", TournamentStatus, TournamentStatus.COMPLETED),
        _nullable_time("starts_at"),
        _nullable_time("ends_at"),
        _count("points_per_win", 3, MAX_POSITIVE_SMALL_INT),
        _count("points_per_draw", 1, MAX_POSITIVE_SMALL_INT),
        _count("points_per_loss", 0, MAX_POSITIVE_SMALL_INT),
        _enum("tiebreak_ruleset", TiebreakRuleset, TiebreakRuleset.DELTACROWN_5STEP),
    ),
    "registrations": (
        _required_id("id"),
        _required_id("tournament"),
        _nullable_id("user"),
        _nullable_id("team"),
        _enum("status", RegistrationStatus, RegistrationStatus.CONFIRMED),
        FieldSpec("registered_at", _timestamp, KEEP_STORED),
        FieldSpec("seed", _whole_number(MAX_POSITIVE_INT), None, is_nullable=True),
        FieldSpec("roster", _id_list, None),  # None: the team's members, resolved in pass 2
    ),
    "matches": (
        _required_id("id"),
        _required_id("tournament"),
        _required_id("participant1"),
        _required_id("participant2"),
        _count("round", 1),
        _count("match_number", 1),
        _count("score1", 0),
        _count("score2", 0),
        _enum("state", MatchState, MatchState.COMPLETED),
        _nullable_id("winner"),
        _nullable_time("scheduled_at"),
        _nullable_time("started_at"),
        _nullable_time("completed_at"),
    ),
    "payments": (
        _required_id("id"),
        _required_id("registration"),
        FieldSpec("amount", _amount, Decimal("0.00")),
        FieldSpec("method", _text(32), ""),
        _enum("status", PaymentStatus, PaymentStatus.PENDING),
        FieldSpec("transaction_reference", _text(128), ""),
        _nullable_time("submitted_at"),
        _nullable_time("verified_at"),
        _nullable_id("verified_by"),
    ),
    "disputes": (
        _required_id("id"),
        _required_id("match"),
        _nullable_id("opened_by"),
        _enum("reason", DisputeReason, DisputeReason.OTHER),
        _enum("status", DisputeStatus, DisputeStatus.OPEN),
        FieldSpec("opened_at", _timestamp, KEEP_STORED),
        _nullable_time("resolved_at"),
        _nullable_id("resolved_by"),
    ),
}
