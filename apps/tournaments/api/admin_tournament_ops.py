"""Staff tournament operations (contract section 4, items 7-9): a tournament's payments,
matches and disputes, with filters, limit / offset paging and a breakdown by status.

Staff only (401 / 403 otherwise), each endpoint on its own "admin" budget of requests per hour
per user; drafts are visible; not gated by LEADERBOARDS_API_ENABLED. Views validate the query,
call one selector of `services.tournament_ops` and shape the body; ids only, never names.

The serializers below only describe the bodies for the OpenAPI schema (as in `serializers.py`);
the bodies themselves are built from the selectors' rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.params import id_in_range, parse_choice, parse_integer, raise_if_errors
from apps.common.api.views import StaffView
from apps.tournaments.api.serializers import responses
from apps.tournaments.models import DisputeReason, DisputeStatus, MatchState, PaymentStatus
from apps.tournaments.services import tournament_ops
from apps.tournaments.services.errors import TournamentNotFoundError
from apps.tournaments.services.tournament_ops import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_ROUND,
    Listing,
    Window,
)

# --- OpenAPI shapes -----------------------------------------------------------------------------


def _breakdown_serializer(name: str, codes: Iterable[str]) -> type[drf.Serializer]:
    """An object with one non-negative count per code, every code always present."""
    fields = {code: drf.IntegerField(min_value=0) for code in codes}
    return type(name, (drf.Serializer,), fields)


PaymentStatusBreakdownSerializer = _breakdown_serializer(
    "AdminPaymentStatusBreakdownSerializer", PaymentStatus.values
)
MatchStateBreakdownSerializer = _breakdown_serializer(
    "AdminMatchStateBreakdownSerializer", MatchState.values
)
DisputeStatusBreakdownSerializer = _breakdown_serializer(
    "AdminDisputeStatusBreakdownSerializer", DisputeStatus.values
)


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


class AdminPaymentListSerializer(drf.Serializer):
    tournament_id = drf.IntegerField()
    payment_count = drf.IntegerField(min_value=0, help_text="Payments matching the filters.")
    status_breakdown = PaymentStatusBreakdownSerializer(
        help_text="Every status with its count over all the tournament's payments."
    )
    pagination = AdminPaginationSerializer()
    payments = AdminPaymentSerializer(many=True)


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


class AdminMatchListSerializer(drf.Serializer):
    tournament_id = drf.IntegerField()
    match_count = drf.IntegerField(min_value=0, help_text="Matches matching the filters.")
    state_breakdown = MatchStateBreakdownSerializer(
        help_text="Every state with its count over all the tournament's matches."
    )
    pagination = AdminPaginationSerializer()
    matches = AdminMatchSerializer(many=True)


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


class AdminDisputeListSerializer(drf.Serializer):
    tournament_id = drf.IntegerField()
    dispute_count = drf.IntegerField(min_value=0, help_text="Disputes matching the filters.")
    status_breakdown = DisputeStatusBreakdownSerializer(
        help_text="Every status with its count over all the tournament's disputes."
    )
    pagination = AdminPaginationSerializer()
    disputes = AdminDisputeSerializer(many=True)


def _responses(success: type[drf.Serializer]) -> dict[int, Any]:
    """200 plus the error envelope for 400, 401, 403, 404, 405 and 429. These endpoints send
    no ETag, so the shared helper's 304 is left out."""
    documented = responses(success, 400, 403, 404, 429)
    documented.pop(304, None)
    return documented


def _choice_parameter(name: str, codes: Iterable[str], what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, enum=list(codes), required=False, description=f"Only {what} with this code."
    )


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


# --- request parsing and body shaping -----------------------------------------------------------

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


def _body(listing: Listing, *, count_key: str, breakdown_key: str, rows_key: str) -> dict:
    return {
        "tournament_id": listing.tournament_id,
        count_key: listing.total,
        breakdown_key: dict(listing.breakdown),
        "pagination": {
            "limit": listing.window.limit,
            "offset": listing.window.offset,
            "total": listing.total,
            "has_more": listing.has_more,
        },
        rows_key: list(listing.rows),
    }


# --- views --------------------------------------------------------------------------------------


class TournamentPaymentsView(StaffView):
    endpoint_name = "admin_payments"

    @extend_schema(
        operation_id="admin_tournament_payments",
        summary="A tournament's payments (staff)",
        parameters=[
            _choice_parameter("status", PaymentStatus.values, "payments"),
            *WINDOW_PARAMETERS,
        ],
        responses=_responses(AdminPaymentListSerializer),
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        _ensure_tournament_id(tournament_id)
        errors: dict[str, list[str]] = {}
        status = parse_choice(
            request.query_params.get("status"),
            "status",
            PaymentStatus.values,
            default=None,
            errors=errors,
        )
        window = _parse_window(request.query_params, errors)
        raise_if_errors(errors)
        listing = tournament_ops.list_payments(tournament_id, status=status, window=window)
        return Response(
            _body(
                listing,
                count_key="payment_count",
                breakdown_key="status_breakdown",
                rows_key="payments",
            )
        )


class TournamentMatchesView(StaffView):
    endpoint_name = "admin_matches"

    @extend_schema(
        operation_id="admin_tournament_matches",
        summary="A tournament's matches (staff)",
        parameters=[
            _choice_parameter("state", MatchState.values, "matches"),
            OpenApiParameter(
                "round",
                {"type": "integer", "minimum": 1, "maximum": MAX_ROUND},
                required=False,
                description="Only matches of this round (a positive integer).",
            ),
            *WINDOW_PARAMETERS,
        ],
        responses=_responses(AdminMatchListSerializer),
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        _ensure_tournament_id(tournament_id)
        params = request.query_params
        errors: dict[str, list[str]] = {}
        state = parse_choice(
            params.get("state"), "state", MatchState.values, default=None, errors=errors
        )
        round_number = parse_integer(
            params.get("round"), "round", default=None, minimum=1, maximum=MAX_ROUND, errors=errors
        )
        window = _parse_window(params, errors)
        raise_if_errors(errors)
        listing = tournament_ops.list_matches(
            tournament_id, state=state, round_number=round_number, window=window
        )
        return Response(
            _body(
                listing,
                count_key="match_count",
                breakdown_key="state_breakdown",
                rows_key="matches",
            )
        )


class TournamentDisputesView(StaffView):
    endpoint_name = "admin_disputes"

    @extend_schema(
        operation_id="admin_tournament_disputes",
        summary="A tournament's disputes (staff)",
        parameters=[
            _choice_parameter("status", DisputeStatus.values, "disputes"),
            _choice_parameter("reason", DisputeReason.values, "disputes"),
            *WINDOW_PARAMETERS,
        ],
        responses=_responses(AdminDisputeListSerializer),
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        _ensure_tournament_id(tournament_id)
        params = request.query_params
        errors: dict[str, list[str]] = {}
        status = parse_choice(
            params.get("status"), "status", DisputeStatus.values, default=None, errors=errors
        )
        reason = parse_choice(
            params.get("reason"), "reason", DisputeReason.values, default=None, errors=errors
        )
        window = _parse_window(params, errors)
        raise_if_errors(errors)
        listing = tournament_ops.list_disputes(
            tournament_id, status=status, reason=reason, window=window
        )
        return Response(
            _body(
                listing,
                count_key="dispute_count",
                breakdown_key="status_breakdown",
                rows_key="disputes",
            )
        )
