"""Selectors behind the staff tournament-operations endpoints (payments, matches, disputes).

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from apps.tournaments.models import (
    Dispute,
    DisputeStatus,
    Match,
    MatchState,
    Payment,
    PaymentStatus,
    Tournament,
)
from apps.tournaments.services.documents import iso_utc
from apps.tournaments.services.errors import TournamentNotFoundError

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


def _tournament_counts(
    tournament_id: int,
    relation: str,
    breakdown_field: str,
    codes: Iterable[str],
    filters: Mapping[str, object],
) -> tuple[dict[str, int], int]:
    """(breakdown over all rows, number of rows matching `filters`) in one query.

    `relation` is the path from Tournament to the listed rows (e.g. "registrations__payments");
    it is a single chain of reverse foreign keys, so each listed row is joined exactly once and
    `Count` over it is exact. Raises TournamentNotFoundError for an unknown tournament.
    """
    code_list = list(codes)
    annotations: dict[str, Count] = {
        f"breakdown_{index}": Count(relation, filter=Q(**{f"{relation}__{breakdown_field}": code}))
        for index, code in enumerate(code_list)
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
    breakdown = {code: counts[f"breakdown_{index}"] for index, code in enumerate(code_list)}
    return breakdown, counts["matching_total"]


def _page(queryset: QuerySet, total: int, window: Window) -> list[dict[str, Any]]:
    """The window's rows by id ascending; no query when the window starts past the end, so
    an offset beyond the database's 64-bit OFFSET never reaches SQL (`total` is a row count)."""
    if window.offset >= total:
        return []
    return list(queryset.order_by("id")[window.offset : window.offset + window.limit])


def _amount(value: Decimal) -> str:
    """A decimal string with exactly two places ("10.00"): exact, unlike a JSON number."""
    return f"{value:.2f}"


# --- payments -----------------------------------------------------------------------------------


def list_payments(tournament_id: int, *, status: str | None, window: Window) -> Listing:
    """Payments of the tournament's registrations, optionally of one PaymentStatus code."""
    filters = {"status": status} if status is not None else {}
    breakdown, total = _tournament_counts(
        tournament_id, "registrations__payments", "status", PaymentStatus.values, filters
    )
    queryset = (
        Payment.objects.filter(registration__tournament_id=tournament_id, **filters)
        .annotate(
            has_proof=ExpressionWrapper(~Q(proof_file=""), output_field=BooleanField()),
        )
        .values(
            "id",
            "registration_id",
            "registration__user_id",
            "registration__team_id",
            "status",
            "method",
            "amount",
            "submitted_at",
            "verified_at",
            "verified_by_id",
            "has_proof",
        )
    )
    rows = [
        {
            "payment_id": row["id"],
            "registration_id": row["registration_id"],
            "participant_id": row["registration__user_id"],
            "team_id": row["registration__team_id"],
            "status": row["status"],
            "method": row["method"],
            "amount": _amount(row["amount"]),
            "submitted_at": iso_utc(row["submitted_at"]),
            "verified_at": iso_utc(row["verified_at"]),
            "verified_by_id": row["verified_by_id"],
            "has_payment_proof": bool(row["has_proof"]),
        }
        for row in _page(queryset, total, window)
    ]
    return Listing(tournament_id, total, breakdown, rows, window)


# --- matches ------------------------------------------------------------------------------------


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


def list_matches(
    tournament_id: int, *, state: str | None, round_number: int | None, window: Window
) -> Listing:
    """Matches of the tournament, optionally of one MatchState code and / or one round."""
    filters: dict[str, object] = {}
    if state is not None:
        filters["state"] = state
    if round_number is not None:
        filters["round"] = round_number
    breakdown, total = _tournament_counts(
        tournament_id, "matches", "state", MatchState.values, filters
    )
    queryset = (
        Match.objects.filter(tournament_id=tournament_id, **filters)
        .annotate(dispute_count=_dispute_count())
        .values(
            "id",
            "round",
            "match_number",
            "state",
            "participant1_id",
            "participant2_id",
            "score1",
            "score2",
            "winner_id",
            "scheduled_at",
            "started_at",
            "completed_at",
            "dispute_count",
        )
    )
    rows = [
        {
            "match_id": row["id"],
            "round": row["round"],
            "match_number": row["match_number"],
            "state": row["state"],
            "participant1_registration_id": row["participant1_id"],
            "participant2_registration_id": row["participant2_id"],
            "score1": row["score1"],
            "score2": row["score2"],
            "winner_registration_id": row["winner_id"],
            "scheduled_at": iso_utc(row["scheduled_at"]),
            "started_at": iso_utc(row["started_at"]),
            "completed_at": iso_utc(row["completed_at"]),
            "dispute_count": row["dispute_count"],
        }
        for row in _page(queryset, total, window)
    ]
    return Listing(tournament_id, total, breakdown, rows, window)


# --- disputes -----------------------------------------------------------------------------------


def list_disputes(
    tournament_id: int, *, status: str | None, reason: str | None, window: Window
) -> Listing:
    """Disputes on the tournament's matches, optionally of one DisputeStatus and / or one
    DisputeReason code. The breakdown is by status."""
    filters: dict[str, object] = {}
    if status is not None:
        filters["status"] = status
    if reason is not None:
        filters["reason"] = reason
    breakdown, total = _tournament_counts(
        tournament_id, "matches__disputes", "status", DisputeStatus.values, filters
    )
    queryset = (
        Dispute.objects.filter(match__tournament_id=tournament_id, **filters)
        .annotate(
            has_evidence_file=ExpressionWrapper(~Q(evidence=""), output_field=BooleanField()),
        )
        .values(
            "id",
            "match_id",
            "status",
            "reason",
            "opened_by_id",
            "resolved_by_id",
            "opened_at",
            "resolved_at",
            "has_evidence_file",
        )
    )
    rows = [
        {
            "dispute_id": row["id"],
            "match_id": row["match_id"],
            "status": row["status"],
            "reason": row["reason"],
            "opened_by_registration_id": row["opened_by_id"],
            "resolved_by_id": row["resolved_by_id"],
            "opened_at": iso_utc(row["opened_at"]),
            "resolved_at": iso_utc(row["resolved_at"]),
            "has_evidence": bool(row["has_evidence_file"]),
        }
        for row in _page(queryset, total, window)
    ]
    return Listing(tournament_id, total, breakdown, rows, window)
