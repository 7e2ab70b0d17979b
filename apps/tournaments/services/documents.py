"""Board documents (what the cache holds) and the pages cut from them (what clients get).

A document is a JSON object: `header` (the response keys above the page), `rows` (every row of
the board in rank order, already in the contract's keys) and `tournament_status` (tournament
boards, for the draft check). Pages are rendered straight to bytes so a cached page is served
without re-serialising anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from apps.tournaments.services.errors import PageNotFoundError, TournamentNotFoundError

DRAFT = "draft"


def iso_utc(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` offset, or None."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def encode_document(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def decode_document(raw: bytes) -> dict[str, Any]:
    return json.loads(raw)


@dataclass(frozen=True, slots=True)
class PageSpec:
    """Which page of a board a client asked for, and how to present it.

    `base_url` is the absolute URL of the endpoint; `query` the other query parameters in the
    order the links should carry them (without `page`). `header_extra` and `row_extra` add keys
    to the body and to each row. `statuses` keeps only history rows of those tournament
    statuses. A non-staff viewer never sees a draft tournament.
    """

    page: int = 1
    page_size: int = 50
    base_url: str = ""
    query: tuple[tuple[str, str], ...] = ()
    viewer_is_staff: bool = False
    header_extra: tuple[tuple[str, Any], ...] = ()
    row_extra: tuple[tuple[str, Any], ...] = ()
    statuses: frozenset[str] | None = field(default=None)

    @property
    def cache_field(self) -> str:
        """The hash field holding this page's bytes: everything that shapes the body."""
        identity = json.dumps(
            [
                self.page,
                self.page_size,
                self.base_url,
                self.query,
                self.viewer_is_staff,
                self.header_extra,
                self.row_extra,
                sorted(self.statuses) if self.statuses is not None else None,
            ],
            separators=(",", ":"),
            default=str,
        )
        return "p:" + hashlib.sha256(identity.encode()).hexdigest()[:24]

    def link(self, page: int) -> str:
        return f"{self.base_url}?{urlencode([*self.query, ('page', str(page))])}"


def ensure_visible(document: Mapping[str, Any], spec: PageSpec) -> None:
    """A draft tournament's board does not exist for a non-staff viewer."""
    if document.get("tournament_status") == DRAFT and not spec.viewer_is_staff:
        raise TournamentNotFoundError("No tournament with this id.")


def visible_rows(document: Mapping[str, Any], spec: PageSpec) -> Sequence[Mapping[str, Any]]:
    rows: Sequence[Mapping[str, Any]] = document["rows"]
    if spec.statuses is None and spec.viewer_is_staff:
        return rows
    return [
        row
        for row in rows
        if (spec.viewer_is_staff or row.get("tournament_status") != DRAFT)
        and (spec.statuses is None or row.get("tournament_status") in spec.statuses)
    ]


def render_page(document: Mapping[str, Any], spec: PageSpec) -> bytes:
    """The response body for one page. Page 1 of an empty board is an empty page; any page
    past the last is PageNotFoundError."""
    ensure_visible(document, spec)
    rows = visible_rows(document, spec)
    count = len(rows)
    last_page = max(1, -(-count // spec.page_size))
    if spec.page > last_page:
        raise PageNotFoundError(f"Page {spec.page} is past the last page ({last_page}).")
    start = (spec.page - 1) * spec.page_size
    page_rows: list[Mapping[str, Any]] = list(rows[start : start + spec.page_size])
    if spec.row_extra:
        extra = dict(spec.row_extra)
        page_rows = [{**row, **extra} for row in page_rows]
    body = {
        **document["header"],
        **dict(spec.header_extra),
        "count": count,
        "next": spec.link(spec.page + 1) if spec.page < last_page else None,
        "previous": spec.link(spec.page - 1) if spec.page > 1 else None,
        "results": page_rows,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def empty_document(header: Mapping[str, Any], tournament_status: str | None = None) -> dict:
    """What a board looks like with computation off: no rows, `computation_enabled` false."""
    return {
        "header": {**header, "computation_enabled": False},
        "rows": [],
        "tournament_status": tournament_status,
    }
