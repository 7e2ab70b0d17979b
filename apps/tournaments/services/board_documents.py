"""Board documents (what the cache holds) and the pages cut from them (what clients get).

A `BoardDocument` is a board's header (the body's keys above the page), every row of the board in
rank order (already in the contract's keys) and, for a tournament board, the tournament's status
(for the draft check). It is the source of every page of that board, and is cached as JSON.
Pages are rendered straight to bytes so that a cached page is served without re-serialising.
Rows stay typed dicts from the computation to the bytes: one `json.dumps` per page, no objects
built per row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict
from urllib.parse import urlencode

from apps.common.timestamps import iso_utc
from apps.tournaments.errors import (
    PageNotFoundError,
    ParticipantNotFoundError,
    TournamentNotFoundError,
)

DRAFT = "draft"
TEAM = "team"


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
    is_final: bool  # tournament and scoped boards


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
    """Which rows of a board a client asked for, and how to present them.

    The rows: a page (`page`, `page_size`); or a window of `size` rows around one competitor
    (`around`: a competitor id, or with `around_me` the caller's user id, resolved to their row
    by the service); or the rows of `ids`. `as_of`: the board as it stood at that instant (the
    service reads that document); `compare_to`: rows add their rank at that instant.

    `base_url` is the absolute URL of the endpoint; `query` the other query parameters in the
    order the links carry them (without `page`). `header_extra` and `row_extra` add keys to the
    body and to each row. `statuses` keeps only history rows of those tournament statuses. A
    non-staff viewer never sees a draft tournament. `page_label` is the page as the client wrote
    it, for the message of a page past the last (not part of the page's identity).
    """

    page: int = 1
    page_label: str = ""
    page_size: int = 50
    around: int | None = None
    around_me: bool = False
    size: int = 11
    ids: tuple[int, ...] | None = None
    as_of: dt.datetime | None = None
    compare_to: dt.datetime | None = None
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
                self.around,
                self.around_me,
                self.size if self.around is not None else None,
                self.ids,
                iso_utc(self.as_of),
                iso_utc(self.compare_to),
            ],
            separators=(",", ":"),
            default=str,
        )
        return "p:" + hashlib.sha256(identity.encode()).hexdigest()[:24]

    @property
    def is_paged(self) -> bool:
        return self.around is None and self.ids is None

    def link(self, page: int) -> str:
        return f"{self.base_url}?{urlencode([*self.query, ('page', str(page))])}"


def competitor_id(row: Any, participant_type: str | None) -> int | None:
    """The id a player knows a row by: its team on a team board, its participant otherwise."""
    return row.get("team_id") if participant_type == TEAM else row.get("participant_id")


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


def refuse_hidden(document: BoardDocument, spec: PageSpec) -> None:
    """A draft tournament's board does not exist for a non-staff viewer: the same 404 as a
    missing id."""
    if document.tournament_status == DRAFT and not spec.viewer_is_staff:
        raise TournamentNotFoundError.for_id(int(document.header.get("tournament_id") or 0))


def _window(rows: Sequence[Any], index: int, size: int) -> list[Any]:
    """`size` consecutive rows holding rows[index], (size - 1) // 2 of them above it where the
    board allows; shifted at the top and the bottom so it still holds `size` rows."""
    start = max(0, min(index - (size - 1) // 2, len(rows) - size))
    return list(rows[start : start + size])


def render_page(
    document: BoardDocument,
    spec: PageSpec,
    *,
    previous: BoardDocument | None = None,
    me: int | None = None,
) -> bytes:
    """The response body of the rows `spec` asks for. A draft tournament's board is a 404 for a
    non-staff viewer; page 1 of an empty board is an empty page; a page past the last is
    PageNotFoundError; a window around a competitor without a row is ParticipantNotFoundError.
    `previous` is the board as of `spec.compare_to`; `me` the caller's competitor id on this
    board (for `around_me`), None when they have none."""
    refuse_hidden(document, spec)
    rows = _visible_rows(document, spec)
    participant_type = document.header.get("participant_type")
    count = len(rows)
    extra: dict[str, Any] = dict(spec.header_extra)
    links: dict[str, Any] = {"next": None, "previous": None}
    if spec.ids is not None:
        wanted = set(spec.ids)
        chosen = [row for row in rows if competitor_id(row, participant_type) in wanted]
        found = {competitor_id(row, participant_type) for row in chosen}
        extra["missing_ids"] = sorted(wanted - found)
    elif spec.around is not None:
        target = me if spec.around_me else spec.around
        index = next(
            (
                position
                for position, row in enumerate(rows)
                if target is not None and competitor_id(row, participant_type) == target
            ),
            None,
        )
        if index is None and not document.header.get("computation_enabled", True):
            chosen = []  # computation off: every board is empty, a window too
        elif index is None:
            raise ParticipantNotFoundError(
                "You have no row on this board."
                if spec.around_me
                else f"No competitor with id {spec.around} on this board."
            )
        else:
            chosen = _window(rows, index, spec.size)
        extra["around"] = target
    else:
        last_page = max(1, -(-count // spec.page_size))
        if spec.page > last_page:
            page = spec.page_label or spec.page
            raise PageNotFoundError(f"Page {page} is past the last page ({last_page}).")
        start = (spec.page - 1) * spec.page_size
        chosen = list(rows[start : start + spec.page_size])
        links["next"] = spec.link(spec.page + 1) if spec.page < last_page else None
        links["previous"] = spec.link(spec.page - 1) if spec.page > 1 else None
    if spec.as_of is not None:
        extra["as_of"] = iso_utc(spec.as_of)
    if spec.compare_to is not None:
        extra["compare_to"] = iso_utc(spec.compare_to)
        chosen = _with_movement(chosen, previous, participant_type)
    if spec.row_extra:
        added = dict(spec.row_extra)
        chosen = [{**row, **added} for row in chosen]
    body = {**document.header, **extra, "count": count, **links, "results": chosen}
    return json.dumps(body, separators=(",", ":")).encode()


def _with_movement(
    rows: list[Any], previous: BoardDocument | None, participant_type: str | None
) -> list[Any]:
    """Each row with `previous_rank` (its rank on the earlier board, None without a row there)
    and `rank_change` (previous_rank - rank: positive when it moved up)."""
    earlier = {
        competitor_id(row, participant_type): row["rank"]
        for row in (previous.rows if previous is not None else ())
    }
    moved = []
    for row in rows:
        before = earlier.get(competitor_id(row, participant_type))
        change = before - row["rank"] if before is not None else None
        moved.append({**row, "previous_rank": before, "rank_change": change})
    return moved
