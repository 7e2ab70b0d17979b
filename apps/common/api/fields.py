"""Serializer fields for query parameters and bodies, with the contract's 400 messages.

DRF's IntegerField accepts "1.0" and " 7"; an integer parameter of this API is written as
digits. Choice fields name the valid values in their message (contract section 4).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from apps.common.errors import quoted, shortened
from apps.common.models import MAX_ID
from apps.common.timestamps import iso_utc

SLUG_PATTERN = r"[-a-zA-Z0-9_]+"
_INTEGER = re.compile(r"-?[0-9]+")


def id_in_range(value: int) -> bool:
    return 1 <= value <= MAX_ID


class EmptyIsAValue:
    """A query parameter given empty (`?ids=`) is a bad value, not an absent one (DRF reads an
    empty optional parameter as absent)."""

    field_name: str

    def get_value(self, dictionary: Any) -> Any:
        if self.field_name in dictionary and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)  # type: ignore[misc]


class StrictIntegerField(EmptyIsAValue, serializers.IntegerField):
    """Digits only (an optional leading minus), within the field's bounds. In a JSON body
    (`accepts_strings=False`) a JSON integer only: not "7", not true. A query parameter given
    empty (`?page=`) is a bad value, not an absent one."""

    def __init__(self, *, accepts_strings: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.accepts_strings = accepts_strings
        # The bounds are checked below, so the message can name the value sent; DRF's own
        # validators would say it again without it.
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, MinValueValidator | MaxValueValidator)
        ]

    def to_internal_value(self, data: Any) -> int:
        accepted = (int, str) if self.accepts_strings else (int,)
        if isinstance(data, bool) or not isinstance(data, accepted):
            self.fail("invalid")
        text = str(data)
        if len(text) > self.MAX_STRING_LENGTH:
            self.fail("max_string_length")
        if not _INTEGER.fullmatch(text):
            self.fail("invalid")
        value = int(text)
        too_small = self.min_value is not None and value < self.min_value
        too_large = self.max_value is not None and value > self.max_value
        if too_small or too_large:
            self.fail("out_of_range", value=value)
        return value


class PageNumberField(StrictIntegerField):
    """A positive page number of any length: one beyond 64 bits is past any last page (a 404
    later, not a 400), read as MAX_ID + 1 without converting thousands of digits."""

    def to_internal_value(self, data: Any) -> int:
        text = str(data).lstrip("0") if isinstance(data, str) and data.isdigit() else None
        if text is not None and len(text) > len(str(MAX_ID)):
            return MAX_ID + 1
        return super().to_internal_value(data)


_DIGITS = re.compile(r"[0-9]+")
# A calendar date, "T" or a space, a time to the second or finer, and an optional offset (checked
# apart, to say so): what `datetime.fromisoformat` reads, minus week dates and the like.
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_SPACE_OFFSET = re.compile(r"(:[0-9]{2}(?:\.[0-9]{1,6})?) ([0-9]{2}:?[0-9]{2})$")


class IdListField(EmptyIsAValue, serializers.Field):
    """Comma-separated ids (`ids=42,7,42`): 1 to `max_count` distinct integers from 1 to MAX_ID,
    repeats ignored. The value is a tuple of the distinct ids, ascending. Ten thousand ids are
    refused after one split, without converting them."""

    default_error_messages = {
        "invalid": "Must be ids (positive integers) separated by commas, e.g. 3,17,42.",
        "blank": "Give at least one id.",
        "out_of_range": f"Every id must be an integer between 1 and {MAX_ID}; got {{value}}.",
        "too_many": "Give at most {max_count} distinct ids; got {count}.",
    }

    def __init__(self, *, max_count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_count = max_count

    def to_internal_value(self, data: Any) -> tuple[int, ...]:
        if not isinstance(data, str):
            self.fail("invalid")
        if data == "":
            self.fail("blank")
        parts = data.split(",")
        distinct = set(parts)
        if len(distinct) > self.max_count:  # an upper bound of the distinct ids: "07" == "7"
            values = {part.lstrip("0") for part in distinct}
            if len(values) > self.max_count:
                self.fail("too_many", max_count=self.max_count, count=len(values))
        for part in distinct:
            if not _DIGITS.fullmatch(part):
                self.fail("invalid")
            if len(part.lstrip("0")) > len(str(MAX_ID)):
                self.fail("out_of_range", value=shortened(part))
        ids = {int(part) for part in distinct}
        for value in sorted(ids):
            if not id_in_range(value):
                self.fail("out_of_range", value=value)
        if len(ids) > self.max_count:
            self.fail("too_many", max_count=self.max_count, count=len(ids))
        return tuple(sorted(ids))

    def to_representation(self, value: Any) -> str:
        return ",".join(str(each) for each in value)


class InstantField(EmptyIsAValue, serializers.Field):
    """An ISO 8601 instant with its offset (`2026-06-01T18:00:00Z`, `...+02:00`), as an aware
    datetime in UTC. Without an offset it names no instant (whose clock?): refused."""

    default_error_messages = {
        "invalid": "Must be an ISO 8601 date and time with an offset, e.g. 2026-06-01T18:00:00Z; "
        "got {value}.",
        "naive": "Must carry an offset (Z or +hh:mm), e.g. 2026-06-01T18:00:00Z; got {value}.",
        "out_of_range": "Must be an instant between the years 1 and 9999 in UTC; got {value}.",
    }

    def to_internal_value(self, data: Any) -> dt.datetime:
        text = data if isinstance(data, str) else ""
        value = quoted(text)
        # An unencoded "+" in a query string arrives as a space: "...:00 02:00" means "+02:00".
        text = _SPACE_OFFSET.sub(r"\1+\2", text)
        if not _INSTANT.fullmatch(text):
            self.fail("invalid", value=value)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail("invalid", value=value)
        if parsed.tzinfo is None:
            self.fail("naive", value=value)
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            self.fail("out_of_range", value=value)

    def to_representation(self, value: Any) -> str:
        return iso_utc(value) or ""


def integer(minimum: int, maximum: int | None = None, **kwargs: Any) -> StrictIntegerField:
    bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    messages = {
        "invalid": f"Must be an integer {bounds}.",
        "out_of_range": f"Must be an integer {bounds}; got {{value}}.",
        "max_string_length": f"Must be an integer {bounds}.",
    }
    field_class = kwargs.pop("field_class", StrictIntegerField)
    return field_class(min_value=minimum, max_value=maximum, error_messages=messages, **kwargs)


class QuotingChoiceField(serializers.ChoiceField):
    """A ChoiceField whose refusal quotes the value sent in plain words (not a Python repr)."""

    def to_internal_value(self, data: Any) -> Any:
        if str(data) not in self.choice_strings_to_values and not (data == "" and self.allow_blank):
            self.fail("invalid_choice", input=quoted(data))
        return super().to_internal_value(data)


def choice(values: Iterable[str], **kwargs: Any) -> serializers.ChoiceField:
    """A choice among `values`; a 400 quotes the value sent and names them all."""
    valid = list(values)
    listed = ", ".join(valid)
    messages = {
        "invalid_choice": f"{{input}} is not a valid choice; valid values: {listed}.",
        "required": f"This parameter is required; valid values: {listed}.",
        **kwargs.pop("error_messages", {}),
    }
    return QuotingChoiceField(choices=valid, error_messages=messages, **kwargs)
