"""Staff tournament operations (contract section 4, items 7-9): a tournament's payments,
matches and disputes, with filters, limit / offset paging and a breakdown by status.

Staff only (401 / 403 otherwise), each endpoint on its own "admin" budget of requests per hour
per user; drafts are visible; not gated by LEADERBOARDS_API_ENABLED. One view, `ListingView`,
serves the three endpoints: it validates the query, calls the one selector
`services.tournament_ops.list_rows` and shapes the body; ids only, never names. What differs
between the endpoints is data, a `ListingEndpoint` each (`PAYMENTS`, `MATCHES`, `DISPUTES`).

The serializers below only describe the bodies for the OpenAPI schema (as in `serializers.py`);
the bodies themselves are built from the selector's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.fields import id_in_range
from apps.common.api.params import parse_choice, parse_integer, raise_if_errors
from apps.common.api.views import StaffView
from apps.tournaments.api.schemas import responses
from apps.tournaments.errors import TournamentNotFoundError
from apps.tournaments.models import DisputeReason, DisputeStatus, MatchState, PaymentStatus
from apps.tournaments.services import tournament_ops
from apps.tournaments.services.tournament_ops import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_ROUND,
    Listing,
    ListingDefinition,
    Window,
)

# --- OpenAPI shapes -----------------------------------------------------------------------------


class AdminPaginationSerializer(drf.Serializer):
    limit = drf.IntegerField(min_value=1, max_value=MAX_LIMIT)
    offset = drf.IntegerField(min_value=0)
    total = drf.IntegerField(min_value=0, help_text="Rows matching the filters.")
    has_more = drf.BooleanField(help_text="True when rows follow this page.")


class AdminPaymentSerializer(drf.Serializer):
    payment_id = drf.IntegerField()
    registration_id = drf.IntegerField()
    participant_id = drf.IntegerField(allow_null=True, help_text="User id (solo), else null.")
    team_id = drf.IntegerField(allow_null=True, help_text="Team id (team), else null.")
    status = drf.ChoiceField(choices=PaymentStatus.values)
    method = drf.CharField(allow_blank=True)
    amount = drf.DecimalField(
        max_digits=12,
        decimal_places=2,
        coerce_to_string=True,
        help_text='A decimal string with two places, e.g. "10.00".',
    )
    submitted_at = drf.DateTimeField(allow_null=True)
    verified_at = drf.DateTimeField(allow_null=True)
    verified_by_id = drf.IntegerField(allow_null=True)
    has_payment_proof = drf.BooleanField()


class AdminMatchSerializer(drf.Serializer):
    match_id = drf.IntegerField()
    round = drf.IntegerField()
    match_number = drf.IntegerField()
    state = drf.ChoiceField(choices=MatchState.values)
    participant1_registration_id = drf.IntegerField()
    participant2_registration_id = drf.IntegerField()
    score1 = drf.IntegerField()
    score2 = drf.IntegerField()
    winner_registration_id = drf.IntegerField(allow_null=True)
    scheduled_at = drf.DateTimeField(allow_null=True)
    started_at = drf.DateTimeField(allow_null=True)
    completed_at = drf.DateTimeField(allow_null=True)
    dispute_count = drf.IntegerField(min_value=0)


class AdminDisputeSerializer(drf.Serializer):
    dispute_id = drf.IntegerField()
    match_id = drf.IntegerField()
    status = drf.ChoiceField(choices=DisputeStatus.values)
    reason = drf.ChoiceField(choices=DisputeReason.values)
    opened_by_registration_id = drf.IntegerField(allow_null=True)
    resolved_by_id = drf.IntegerField(allow_null=True)
    opened_at = drf.DateTimeField()
    resolved_at = drf.DateTimeField(allow_null=True)
    has_evidence = drf.BooleanField()


def _responses(success: type[drf.Serializer]) -> dict[int, Any]:
    """200 plus the error envelope for 400, 401, 403, 404, 405 and 429. These endpoints send
    no ETag, so the shared helper's 304 is left out."""
    documented = responses(success, 400, 403, 404, 429)
    documented.pop(304, None)
    return documented


WINDOW_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        required=False,
        description=f"Rows per page, 1-{MAX_LIMIT}, default {DEFAULT_LIMIT}.",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "default": 0},
        required=False,
        description=(
            "Matching rows to skip (ordered by id ascending), default 0; an offset past the "
            "end gives an empty page."
        ),
    ),
]


# --- filters ------------------------------------------------------------------------------------
# A filter is a query parameter named after the model field it narrows; absent means "any".
# Each one parses itself (problems go into `errors`, so every bad parameter is reported at once)
# and documents itself, so the check and the schema cannot disagree.


@dataclass(frozen=True, slots=True)
class ChoiceFilter:
    """One of a fixed set of lowercase codes; a 400 for anything else lists the valid ones."""

    name: str
    codes: tuple[str, ...]
    description: str

    def parse(self, query: Mapping[str, str], errors: dict[str, list[str]]) -> str | None:
        return parse_choice(
            query.get(self.name), self.name, self.codes, default=None, errors=errors
        )

    def parameter(self) -> OpenApiParameter:
        return OpenApiParameter(
            self.name, str, enum=list(self.codes), required=False, description=self.description
        )


@dataclass(frozen=True, slots=True)
class IntegerFilter:
    """An integer within [minimum, maximum]; the bounds keep the value storable in the column."""

    name: str
    minimum: int
    maximum: int
    description: str

    def parse(self, query: Mapping[str, str], errors: dict[str, list[str]]) -> int | None:
        return parse_integer(
            query.get(self.name),
            self.name,
            default=None,
            minimum=self.minimum,
            maximum=self.maximum,
            errors=errors,
        )

    def parameter(self) -> OpenApiParameter:
        return OpenApiParameter(
            self.name,
            {"type": "integer", "minimum": self.minimum, "maximum": self.maximum},
            required=False,
            description=self.description,
        )


QueryFilter = ChoiceFilter | IntegerFilter


# --- request parsing ----------------------------------------------------------------------------

# Longer offsets are refused: Python will not convert integers of thousands of digits.
MAX_OFFSET_DIGITS = 1000


def _ensure_tournament_id(tournament_id: int) -> None:
    """Ids outside the 64-bit range cannot exist: 404 before touching the database."""
    if not id_in_range(tournament_id):
        raise TournamentNotFoundError(f"No tournament with id {tournament_id}.")


def _parse_window(query: Mapping[str, str], errors: dict[str, list[str]]) -> Window:
    limit = parse_integer(
        query.get("limit"),
        "limit",
        default=DEFAULT_LIMIT,
        minimum=1,
        maximum=MAX_LIMIT,
        errors=errors,
    )
    offset = _parse_offset(query.get("offset"), errors)
    return Window(limit=limit or DEFAULT_LIMIT, offset=offset or 0)


def _parse_offset(raw: str | None, errors: dict[str, list[str]]) -> int | None:
    """Any non-negative integer: an offset past the end (however far) is an empty page, and
    the selector never sends an offset at or past the matching total to the database. Only
    the length is bounded (Python's int/str conversion refuses very long numbers)."""
    if raw is None:
        return 0
    text = raw.strip()
    if text.isascii() and text.isdigit():
        if len(text) <= MAX_OFFSET_DIGITS:
            return int(text)
        errors.setdefault("offset", []).append(
            f"Must be an integer at least 0 with at most {MAX_OFFSET_DIGITS} digits."
        )
        return None
    return parse_integer(raw, "offset", default=0, minimum=0, errors=errors)


# --- the endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingEndpoint:
    """Everything one staff listing adds to the shared view: its names (metrics and rate-limit
    key, OpenAPI operation), its rows, its filters and the keys of its body.

    `row_serializer` documents one row; its keys must be the definition's column keys, in
    order (a test holds them together). The body's other schemas are derived from it.
    """

    endpoint_name: str
    operation_id: str
    summary: str
    definition: ListingDefinition
    filters: tuple[QueryFilter, ...]
    count_key: str
    breakdown_key: str
    rows_key: str
    row_serializer: type[drf.Serializer]

    def body(self, listing: Listing) -> dict[str, Any]:
        return {
            "tournament_id": listing.tournament_id,
            self.count_key: listing.total,
            self.breakdown_key: dict(listing.breakdown),
            "pagination": {
                "limit": listing.window.limit,
                "offset": listing.window.offset,
                "total": listing.total,
                "has_more": listing.has_more,
            },
            self.rows_key: list(listing.rows),
        }

    def body_serializer(self) -> type[drf.Serializer]:
        """The body's shape, keys in the order `body` writes them. Component names follow the
        row serializer's (AdminPayment -> AdminPaymentList, AdminPaymentStatusBreakdown), which
        are the names the published schema has always used."""
        prefix = self.row_serializer.__name__.removesuffix("Serializer")
        breakdown_field = self.definition.breakdown_field
        breakdown = _breakdown_serializer(
            f"{prefix}{breakdown_field.capitalize()}BreakdownSerializer",
            self.definition.breakdown_codes,
        )
        # DRF orders declared fields by creation, so they are created in body order here.
        fields: dict[str, drf.Field] = {"tournament_id": drf.IntegerField()}
        fields[self.count_key] = drf.IntegerField(
            min_value=0, help_text=f"{self.rows_key.capitalize()} matching the filters."
        )
        fields[self.breakdown_key] = breakdown(
            help_text=(
                f"Every {breakdown_field} with its count over all the tournament's {self.rows_key}."
            )
        )
        fields["pagination"] = AdminPaginationSerializer()
        fields[self.rows_key] = self.row_serializer(many=True)
        return type(f"{prefix}ListSerializer", (drf.Serializer,), fields)

    def schema(self) -> Callable[[Any], Any]:
        return extend_schema(
            operation_id=self.operation_id,
            summary=self.summary,
            parameters=[*(each.parameter() for each in self.filters), *WINDOW_PARAMETERS],
            responses=_responses(self.body_serializer()),
        )


def _breakdown_serializer(name: str, codes: Iterable[str]) -> type[drf.Serializer]:
    """An object with one non-negative count per code, every code always present."""
    fields = {code: drf.IntegerField(min_value=0) for code in codes}
    return type(name, (drf.Serializer,), fields)


PAYMENTS = ListingEndpoint(
    endpoint_name="admin_payments",
    operation_id="admin_tournament_payments",
    summary="A tournament's payments (staff)",
    definition=tournament_ops.PAYMENTS,
    filters=(ChoiceFilter("status", tuple(PaymentStatus.values), "Only payments with this code."),),
    count_key="payment_count",
    breakdown_key="status_breakdown",
    rows_key="payments",
    row_serializer=AdminPaymentSerializer,
)

MATCHES = ListingEndpoint(
    endpoint_name="admin_matches",
    operation_id="admin_tournament_matches",
    summary="A tournament's matches (staff)",
    definition=tournament_ops.MATCHES,
    filters=(
        ChoiceFilter("state", tuple(MatchState.values), "Only matches with this code."),
        IntegerFilter(
            "round",
            minimum=1,
            maximum=MAX_ROUND,
            description="Only matches of this round (a positive integer).",
        ),
    ),
    count_key="match_count",
    breakdown_key="state_breakdown",
    rows_key="matches",
    row_serializer=AdminMatchSerializer,
)

DISPUTES = ListingEndpoint(
    endpoint_name="admin_disputes",
    operation_id="admin_tournament_disputes",
    summary="A tournament's disputes (staff)",
    definition=tournament_ops.DISPUTES,
    filters=(
        ChoiceFilter("status", tuple(DisputeStatus.values), "Only disputes with this code."),
        ChoiceFilter("reason", tuple(DisputeReason.values), "Only disputes with this code."),
    ),
    count_key="dispute_count",
    breakdown_key="status_breakdown",
    rows_key="disputes",
    row_serializer=AdminDisputeSerializer,
)


# --- views --------------------------------------------------------------------------------------


class ListingView(StaffView):
    # Deliberately no docstring, here or on `get`: drf-spectacular publishes the nearest one as
    # the operation's description, and the published schema of these endpoints must not change.
    #
    # A subclass names its `endpoint`; its metrics name and OpenAPI operation follow from it.
    # The schema goes on a per-subclass copy of `get` (extend_schema_view), so the three
    # operations do not overwrite one another.
    endpoint: ClassVar[ListingEndpoint]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.endpoint_name = cls.endpoint.endpoint_name
        extend_schema_view(get=cls.endpoint.schema())(cls)

    def get(self, request: Request, tournament_id: int) -> Response:
        endpoint = self.endpoint
        _ensure_tournament_id(tournament_id)
        query = request.query_params
        errors: dict[str, list[str]] = {}
        # Filters before the window, as before: a 400's `detail` names the first field that failed.
        filters = {each.name: each.parse(query, errors) for each in endpoint.filters}
        window = _parse_window(query, errors)
        raise_if_errors(errors)
        listing = tournament_ops.list_rows(
            endpoint.definition, tournament_id, filters=filters, window=window
        )
        return Response(endpoint.body(listing))


class TournamentPaymentsView(ListingView):
    endpoint = PAYMENTS


class TournamentMatchesView(ListingView):
    endpoint = MATCHES


class TournamentDisputesView(ListingView):
    endpoint = DISPUTES
