"""Query and path parameter parsing that turns bad input into 400 / 404, never a 500."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from apps.common.errors import InvalidInputError

# Ids are 64-bit signed integers in the database; anything larger cannot exist.
MAX_ID = 2**63 - 1
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


def id_in_range(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_integer(
    raw: str | None,
    field: str,
    *,
    default: int | None,
    minimum: int,
    maximum: int | None = None,
    errors: dict[str, list[str]],
) -> int | None:
    """An integer query parameter within [minimum, maximum]; problems go into `errors`."""
    if raw is None:
        return default
    text = raw.strip()
    bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        errors.setdefault(field, []).append(f"Must be an integer {bounds}.")
        return None
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        errors.setdefault(field, []).append(f"Must be an integer {bounds}; got {value}.")
        return None
    return value


def parse_choice(
    raw: str | None,
    field: str,
    choices: Iterable[str],
    *,
    default: str | None,
    errors: dict[str, list[str]],
) -> str | None:
    if raw is None:
        return default
    valid = list(choices)
    if raw not in valid:
        errors.setdefault(field, []).append(
            f"{raw!r} is not a valid choice; valid values: {', '.join(valid)}."
        )
        return None
    return raw


def raise_if_errors(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInputError(errors)


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int
    page_size: int
    page_size_given: bool


def _is_huge_number(raw: str | None) -> bool:
    """Digits only (without leading zeros), more of them than any id or page can have."""
    if raw is None:
        return False
    text = raw.strip()
    return text.isascii() and text.isdigit() and len(text) > len(str(MAX_ID))


def parse_page_params(query: Mapping[str, str], errors: dict[str, list[str]]) -> PageParams:
    raw_page = query.get("page")
    if raw_page is not None and raw_page.strip().isascii() and raw_page.strip().isdigit():
        raw_page = raw_page.strip().lstrip("0") or "0"  # leading zeros do not make it longer
    if _is_huge_number(raw_page):
        # A positive integer however long is a page; past the last one it is a 404, like any
        # other page past the last (the parser refuses more than 20 characters).
        page: int | None = MAX_ID + 1
    else:
        page = parse_integer(raw_page, "page", default=1, minimum=1, errors=errors)
    page_size = parse_integer(
        query.get("page_size"),
        "page_size",
        default=DEFAULT_PAGE_SIZE,
        minimum=1,
        maximum=MAX_PAGE_SIZE,
        errors=errors,
    )
    return PageParams(page or 1, page_size or DEFAULT_PAGE_SIZE, "page_size" in query)
