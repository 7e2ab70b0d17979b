"""Selectors behind the staff tournament-operations endpoints (payments, matches, disputes).

One generic selector, `list_rows`, serves all three; what differs between them is data, a
`ListingDefinition` each (`PAYMENTS`, `MATCHES`, `DISPUTES` below).

Each listing costs at most two SQL queries whatever the page size:
1. one aggregate over the tournament row that answers, together, whether the tournament exists,
   the breakdown of every status (or state) over all its rows, zeros included, and how many rows
   match the filters;
2. the page itself, rows ordered by id ascending, everything it needs joined or annotated in
   SQL (no per-row query). It is skipped when the offset is at or past the matching total.

Rows come out in the contract's keys and carry ids only: no name, username, email, transaction
reference, proof or evidence path, or note is selected from the database at all; a proof or
evidence file is reduced to a boolean in SQL. Draft tournaments are listed like any other
(these are staff endpoints; the API layer enforces who may call them).

The two queries are separate statements: under concurrent writes the counts and the page may
differ by the rows written in between, which an operations listing tolerates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Expression,
    ExpressionWrapper,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from apps.common.timestamps import iso_utc
from apps.tournaments.errors import TournamentNotFoundError
from apps.tournaments.models import (
    Dispute,
    DisputeStatus,
    Match,
    MatchState,
    Payment,
    PaymentStatus,
    Tournament,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# Match.round is a PositiveIntegerField: no stored round exceeds this on any backend.
MAX_ROUND = 2_147_483_647


@dataclass(frozen=True, slots=True)
class Window:
    """Which slice of the matching rows to return: `limit` rows from `offset` (0-based)."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a tournament's payments, matches or disputes.

    `total` counts the rows matching the filters; `breakdown` counts every status (or state)
    code over all the tournament's rows, whatever the filters, in the code's declaration order.
    """

    tournament_id: int
    total: int
    breakdown: Mapping[str, int]
    rows: Sequence[Mapping[str, Any]]
    window: Window

    @property
    def has_more(self) -> bool:
        return self.window.offset + len(self.rows) < self.total


@dataclass(frozen=True, slots=True)
class Column:
    """One key of an output row, read from the `values()` name `source`; `convert` turns a
    stored value into its JSON form where the two differ (datetimes, decimals, SQL booleans)."""

    key: str
    source: str
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class ListingDefinition:
    """What `list_rows` needs to know about one kind of a tournament's rows.

    `tournament_lookup` goes from the listed model to the tournament's id; `relation` goes the
    other way, from Tournament to the listed rows, and must be a single chain of reverse foreign
    keys, so that each listed row is joined exactly once and `Count` over it is exact.
    `filter_fields` are the only fields a caller may filter on. Invariant (ids only): `columns`
    read ids, codes, numbers, dates and booleans, never a name, reference, note or file path;
    a file becomes a boolean through `annotations`.
    """

    model: type[Model]
    tournament_lookup: str
    relation: str
    breakdown_field: str
    breakdown_codes: tuple[str, ...]
    filter_fields: tuple[str, ...]
    annotations: Mapping[str, Expression]
    columns: tuple[Column, ...]


def _amount(value: Decimal) -> str:
    """A decimal string with exactly two places ("10.00"): exact, unlike a JSON number."""
    return f"{value:.2f}"


def _is_set(file_field: str) -> ExpressionWrapper:
    """True when the file field holds a path; the path itself never leaves the database."""
    return ExpressionWrapper(~Q(**{file_field: ""}), output_field=BooleanField())


def _dispute_count() -> Coalesce:
    """Disputes of the outer match: a correlated subquery, so the page needs no GROUP BY and
    the count is evaluated only for the rows of the page."""
    per_match = (
        Dispute.objects.filter(match_id=OuterRef("pk"))
        .order_by()
        .values("match_id")
        .annotate(disputes=Count("id"))
        .values("disputes")
    )
    return Coalesce(Subquery(per_match, output_field=IntegerField()), Value(0))


PAYMENTS = ListingDefinition(
    model=Payment,
    tournament_lookup="registration__tournament_id",
    relation="registrations__payments",
    breakdown_field="status",
    breakdown_codes=tuple(PaymentStatus.values),
    filter_fields=("status",),
    annotations={"has_proof": _is_set("proof_file")},
    columns=(
        Column("payment_id", "id"),
        Column("registration_id", "registration_id"),
        Column("participant_id", "registration__user_id"),
        Column("team_id", "registration__team_id"),
        Column("status", "status"),
        Column("method", "method"),
        Column("amount", "amount", _amount),
        Column("submitted_at", "submitted_at", iso_utc),
        Column("verified_at", "verified_at", iso_utc),
        Column("verified_by_id", "verified_by_id"),
        Column("has_payment_proof", "has_proof", bool),
    ),
)

MATCHES = ListingDefinition(
    model=Match,
    tournament_lookup="tournament_id",
    relation="matches",
    breakdown_field="state",
    breakdown_codes=tuple(MatchState.values),
    filter_fields=("state", "round"),
    annotations={"dispute_count": _dispute_count()},
    columns=(
        Column("match_id", "id"),
        Column("round", "round"),
        Column("match_number", "match_number"),
        Column("state", "state"),
        Column("participant1_registration_id", "participant1_id"),
        Column("participant2_registration_id", "participant2_id"),
        Column("score1", "score1"),
        Column("score2", "score2"),
        Column("winner_registration_id", "winner_id"),
        Column("scheduled_at", "scheduled_at", iso_utc),
        Column("started_at", "started_at", iso_utc),
        Column("completed_at", "completed_at", iso_utc),
        Column("dispute_count", "dispute_count"),
    ),
)

# Disputes filter on status and on reason (DisputeReason codes); the breakdown is by status.
DISPUTES = ListingDefinition(
    model=Dispute,
    tournament_lookup="match__tournament_id",
    relation="matches__disputes",
    breakdown_field="status",
    breakdown_codes=tuple(DisputeStatus.values),
    filter_fields=("status", "reason"),
    annotations={"has_evidence_file": _is_set("evidence")},
    columns=(
        Column("dispute_id", "id"),
        Column("match_id", "match_id"),
        Column("status", "status"),
        Column("reason", "reason"),
        Column("opened_by_registration_id", "opened_by_id"),
        Column("resolved_by_id", "resolved_by_id"),
        Column("opened_at", "opened_at", iso_utc),
        Column("resolved_at", "resolved_at", iso_utc),
        Column("has_evidence", "has_evidence_file", bool),
    ),
)


def list_rows(
    definition: ListingDefinition,
    tournament_id: int,
    *,
    filters: Mapping[str, str | int | None],
    window: Window,
) -> Listing:
    """One page of the tournament's rows of `definition`, narrowed by `filters` ({field:
    value}; None means "any"). The breakdown ignores the filters; `total` does not.

    Raises TournamentNotFoundError for an unknown tournament, and ValueError (before any query)
    for a field outside `definition.filter_fields`: that is a wiring mistake, never client input.
    """
    unknown = sorted(set(filters) - set(definition.filter_fields))
    if unknown:
        raise ValueError(f"{definition.model.__name__} rows cannot be filtered on {unknown}.")
    active = {field: value for field, value in filters.items() if value is not None}
    breakdown, total = _tournament_counts(tournament_id, definition, active)
    queryset = (
        definition.model._default_manager.filter(
            **{definition.tournament_lookup: tournament_id}, **active
        )
        .annotate(**definition.annotations)
        .values(*(column.source for column in definition.columns))
    )
    rows = [_shape(row, definition.columns) for row in _page(queryset, total, window)]
    return Listing(tournament_id, total, breakdown, rows, window)


def _shape(row: Mapping[str, Any], columns: Sequence[Column]) -> dict[str, Any]:
    return {
        column.key: column.convert(row[column.source]) if column.convert else row[column.source]
        for column in columns
    }


def _tournament_counts(
    tournament_id: int, definition: ListingDefinition, filters: Mapping[str, object]
) -> tuple[dict[str, int], int]:
    """(breakdown over all rows, number of rows matching `filters`) in one query.

    Raises TournamentNotFoundError for an unknown tournament.
    """
    relation = definition.relation
    codes = definition.breakdown_codes
    annotations: dict[str, Count] = {
        f"breakdown_{index}": Count(
            relation, filter=Q(**{f"{relation}__{definition.breakdown_field}": code})
        )
        for index, code in enumerate(codes)
    }
    matching = Q(**{f"{relation}__{field}": value for field, value in filters.items()})
    annotations["matching_total"] = Count(relation, filter=matching) if filters else Count(relation)
    counts = (
        Tournament.objects.filter(pk=tournament_id)
        .values("pk")
        .annotate(**annotations)
        .order_by()
        .first()
    )
    if counts is None:
        raise TournamentNotFoundError(f"No tournament with id {tournament_id}.")
    breakdown = {code: counts[f"breakdown_{index}"] for index, code in enumerate(codes)}
    return breakdown, counts["matching_total"]


def _page(queryset: QuerySet, total: int, window: Window) -> list[dict[str, Any]]:
    """The window's rows by id ascending, the one order every listing uses (the `offset`
    parameter documents it); no query when the window starts past the end, so an offset beyond
    the database's 64-bit OFFSET never reaches SQL (`total` is a row count)."""
    if window.offset >= total:
        return []
    return list(queryset.order_by("id")[window.offset : window.offset + window.limit])
