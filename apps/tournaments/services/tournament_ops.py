"""Selectors behind the staff tournament-operations endpoints (payments, matches, disputes).

What differs between the three kinds of row is data, a `TournamentRows` each (`PAYMENTS`,
`MATCHES`, `DISPUTES` below); two selectors serve them all:

- `rows(kind, tournament_id)`: the tournament's rows, a lazy queryset of dicts ordered by id.
  The caller narrows it (django-filter) and slices one page from it; the page is one SQL query
  whatever its size, everything it needs joined or annotated in SQL (no per-row query).
- `count_rows(kind, tournament_id, matching)`: one aggregate over the tournament row that
  answers, together, whether the tournament exists, the breakdown of every status (or state)
  over all its rows, zeros included, and how many of its rows `matching` holds.

A listing therefore costs at most two queries; the caller skips the page query when the offset
is at or past the matching count, which also keeps an offset beyond SQL's 64-bit range away from
the database.

Rows carry ids only: no name, username, email, transaction reference, proof or evidence path, or
note is selected from the database at all; a proof or evidence file is reduced to a boolean in
SQL. Draft tournaments are listed like any other (these are staff endpoints; the API layer
enforces who may call them).

The two queries are separate statements: under concurrent writes the counts and the page may
differ by the rows written in between, which an operations listing tolerates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class TournamentRows:
    """Where one kind of a tournament's rows lives, and which of their columns may be read.

    `tournament_lookup` goes from the listed model to the tournament's id; `relation` goes the
    other way, from Tournament to the listed rows, and must be a single chain of reverse foreign
    keys, so that each listed row is joined exactly once and `Count` over it is exact.
    Invariant (ids only): `columns` (`values()` names, model fields or `annotations`) are ids,
    codes, numbers, dates and booleans, never a name, reference, note or file path; a file
    becomes a boolean through `annotations`.
    """

    model: type[Model]
    tournament_lookup: str
    relation: str
    breakdown_field: str
    breakdown_codes: tuple[str, ...]
    annotations: Mapping[str, Expression]
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RowCounts:
    """`breakdown` counts every code of the kind's breakdown field over all the tournament's
    rows, in the codes' declaration order; `matching` counts the rows of the narrowed queryset."""

    breakdown: Mapping[str, int]
    matching: int


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


PAYMENTS = TournamentRows(
    model=Payment,
    tournament_lookup="registration__tournament_id",
    relation="registrations__payments",
    breakdown_field="status",
    breakdown_codes=tuple(PaymentStatus.values),
    annotations={"has_proof": _is_set("proof_file")},
    columns=(
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
    ),
)

MATCHES = TournamentRows(
    model=Match,
    tournament_lookup="tournament_id",
    relation="matches",
    breakdown_field="state",
    breakdown_codes=tuple(MatchState.values),
    annotations={"dispute_count": _dispute_count()},
    columns=(
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
    ),
)

DISPUTES = TournamentRows(
    model=Dispute,
    tournament_lookup="match__tournament_id",
    relation="matches__disputes",
    breakdown_field="status",
    breakdown_codes=tuple(DisputeStatus.values),
    annotations={"has_evidence_file": _is_set("evidence")},
    columns=(
        "id",
        "match_id",
        "status",
        "reason",
        "opened_by_id",
        "resolved_by_id",
        "opened_at",
        "resolved_at",
        "has_evidence_file",
    ),
)


def rows(kind: TournamentRows, tournament_id: int) -> QuerySet:
    """The tournament's rows of `kind` as `values()` dicts of `kind.columns`, by id ascending
    (the one order every listing pages in). Lazy: no query until evaluated."""
    return (
        kind.model._default_manager.filter(**{kind.tournament_lookup: tournament_id})
        .annotate(**kind.annotations)
        .values(*kind.columns)
        .order_by("id")
    )


def count_rows(kind: TournamentRows, tournament_id: int, matching: QuerySet) -> RowCounts:
    """The breakdown over all the tournament's rows of `kind` and the number of them that
    `matching` (a narrowing of `rows(kind, tournament_id)`) holds, in one query.

    Raises TournamentNotFoundError for an unknown tournament.
    """
    relation = kind.relation
    annotations: dict[str, Count] = {
        f"breakdown_{index}": Count(
            relation, filter=Q(**{f"{relation}__{kind.breakdown_field}": code})
        )
        for index, code in enumerate(kind.breakdown_codes)
    }
    # `matching` is read as an IN subquery, so the count applies whatever narrowing its caller
    # made (the filters live in one place, the FilterSet), and only to this tournament's rows.
    annotations["matching"] = Count(
        relation, filter=Q(**{f"{relation}__in": matching.values("pk")})
    )
    counts = (
        Tournament.objects.filter(pk=tournament_id)
        .values("pk")
        .annotate(**annotations)
        .order_by()
        .first()
    )
    if counts is None:
        raise TournamentNotFoundError.for_id(tournament_id)
    breakdown = {
        code: counts[f"breakdown_{index}"] for index, code in enumerate(kind.breakdown_codes)
    }
    return RowCounts(breakdown=breakdown, matching=counts["matching"])
