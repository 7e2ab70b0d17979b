"""Board documents (what the cache holds) and the pages cut from them (what clients get).

A `BoardDocument` is a board's header (the body's keys above the page), every row of the board in
rank order (already in the contract's keys) and, for a tournament board, the tournament's status
(for the draft check). It is the source of every page of that board, and is cached as JSON.
Pages are rendered straight to bytes so that a cached page is served without re-serialising.
Rows stay typed dicts from the computation to the bytes: one `json.dumps` per page, no objects
built per row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict
from urllib.parse import urlencode

from apps.tournaments.errors import PageNotFoundError, TournamentNotFoundError

DRAFT = "draft"


class BoardRow(TypedDict):
    """A row of a tournament, season or all-time board (contract sections 3 and 4)."""

    rank: int
    participant_id: int | None
    team_id: int | None
    registration_id: int | None
    points: int
    wins: int
    draws: int
    losses: int
    matches_played: int
    score_for: int
    score_against: int
    earliest_win_at: str | None
    last_updated_at: str | None
    decided_by: str | None
    tournaments_played: NotRequired[int]  # season and all-time boards


class HistoryRow(TypedDict):
    """A row of a participant's history (contract section 4, endpoint 2)."""

    tournament_id: int
    team_id: int | None
    registration_id: int
    rank: int
    field_size: int
    points: int
    wins: int
    draws: int
    losses: int
    matches_played: int
    tournament_status: str
    tournament_ended_at: str | None


class BoardHeader(TypedDict, total=False):
    """The body's keys above the page; which ones depends on the board."""

    scope: str  # season and all-time boards
    season: str  # season boards
    tournament_id: int | None  # tournament boards (None on season and all-time boards)
    participant_id: int  # histories
    participant_type: str
    ruleset: str
    computed_at: str | None
    computation_enabled: bool


@dataclass(frozen=True, slots=True)
class BoardDocument:
    header: BoardHeader
    rows: Sequence[BoardRow] | Sequence[HistoryRow]
    tournament_status: str | None = None

    def encode(self) -> bytes:
        payload = {"header": self.header, "rows": self.rows, "status": self.tournament_status}
        return json.dumps(payload, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> BoardDocument:
        payload = json.loads(raw)
        return cls(payload["header"], payload["rows"], payload["status"])

    @classmethod
    def empty(cls, header: BoardHeader, tournament_status: str | None = None) -> BoardDocument:
        """A board with computation off: no rows, `computation_enabled` false."""
        return cls({**header, "computation_enabled": False}, [], tournament_status)


@dataclass(frozen=True, slots=True)
class PageSpec:
    """Which page of a board a client asked for, and how to present it.

    `base_url` is the absolute URL of the endpoint; `query` the other query parameters in the
    order the links carry them (without `page`). `header_extra` and `row_extra` add keys to the
    body and to each row. `statuses` keeps only history rows of those tournament statuses. A
    non-staff viewer never sees a draft tournament. `page_label` is the page as the client wrote
    it, for the message of a page past the last (not part of the page's identity).
    """

    page: int = 1
    page_label: str = ""
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


def _visible_rows(document: BoardDocument, spec: PageSpec) -> Sequence[Any]:
    rows = document.rows
    if spec.statuses is None and spec.viewer_is_staff:
        return rows
    return [
        row
        for row in rows
        if (spec.viewer_is_staff or row.get("tournament_status") != DRAFT)
        and (spec.statuses is None or row.get("tournament_status") in spec.statuses)
    ]


def render_page(document: BoardDocument, spec: PageSpec) -> bytes:
    """The response body of one page. A draft tournament's board does not exist for a
    non-staff viewer (the same 404 as a missing id); page 1 of an empty board is an empty page;
    any page past the last is PageNotFoundError."""
    tournament_id = document.header.get("tournament_id")
    if document.tournament_status == DRAFT and not spec.viewer_is_staff:
        raise TournamentNotFoundError.for_id(int(tournament_id or 0))
    rows = _visible_rows(document, spec)
    count = len(rows)
    last_page = max(1, -(-count // spec.page_size))
    if spec.page > last_page:
        page = spec.page_label or spec.page
        raise PageNotFoundError(f"Page {page} is past the last page ({last_page}).")
    start = (spec.page - 1) * spec.page_size
    page_rows: list[Any] = list(rows[start : start + spec.page_size])
    if spec.row_extra:
        extra = dict(spec.row_extra)
        page_rows = [{**row, **extra} for row in page_rows]
    body = {
        **document.header,
        **dict(spec.header_extra),
        "count": count,
        "next": spec.link(spec.page + 1) if spec.page < last_page else None,
        "previous": spec.link(spec.page - 1) if spec.page > 1 else None,
        "results": page_rows,
    }
    return json.dumps(body, separators=(",", ":")).encode()
