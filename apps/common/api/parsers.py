"""The API's one request parser: JSON, bounded in size and nesting depth.

DRF's JSONParser reads the whole body and hands it to `json.load`, whose recursion ends in a
RecursionError (a 500) on a body nested about a thousand levels deep, and whose errors quote the
decoder's internals. This parser reads at most `API_MAX_BODY_BYTES` + 1 bytes (one more is a
413), checks the nesting depth before decoding (more than `API_MAX_JSON_DEPTH` is a 400) and
words every refusal plainly. No library bounds JSON depth for DRF, hence the scanner below: it
removes the string literals with one regular expression (brackets inside strings do not nest)
and counts the brackets that remain.

It runs when a view first reads `request.data`, after authentication, permissions and the rate
limit, so a refused staff call reaches the view's own error handling (and its audit record).
"""

from __future__ import annotations

import json
import re
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import BaseParser

from apps.common.errors import InvalidInputError, PayloadTooLargeError

_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_OPENING = frozenset(b"[{")


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar). Brackets in
    string literals do not count; an unbalanced text is measured as far as it goes."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING_LITERAL.sub(b'""', body)):
        if bracket[0] in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _body_error(message: str) -> InvalidInputError:
    return InvalidInputError({"body": [message]})


class BoundedJsonParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        limit: int = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLargeError(limit)
        if nesting_depth(body) > settings.API_MAX_JSON_DEPTH:
            raise _body_error(
                f"The JSON body is nested deeper than {settings.API_MAX_JSON_DEPTH} levels."
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _body_error(
                f"The request body is not UTF-8 text (byte {error.start + 1} is not)."
            ) from None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            raise _body_error(
                f"The request body is not valid JSON: {error.msg.lower()} at line "
                f"{error.lineno}, column {error.colno}."
            ) from None
        except ValueError:  # NaN, Infinity, -Infinity: accepted by Python, not JSON
            raise _body_error(
                "The request body is not valid JSON: NaN and Infinity are not JSON numbers."
            ) from None
