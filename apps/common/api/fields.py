"""Serializer fields for query parameters and bodies, with the contract's 400 messages.

DRF's IntegerField accepts "1.0" and " 7"; an integer parameter of this API is written as
digits. Choice fields name the valid values in their message (contract section 4).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from apps.common.errors import quoted
from apps.common.models import MAX_ID

SLUG_PATTERN = r"[-a-zA-Z0-9_]+"
_INTEGER = re.compile(r"-?[0-9]+")


def id_in_range(value: int) -> bool:
    return 1 <= value <= MAX_ID


class StrictIntegerField(serializers.IntegerField):
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

    def get_value(self, dictionary: Any) -> Any:
        if self.field_name in dictionary and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

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
