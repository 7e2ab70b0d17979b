"""Staff tournament operations (contract section 4, items 7-9): a tournament's payments,
matches and disputes, with filters, limit / offset paging and a breakdown by status.

Staff only (401 / 403 otherwise), each endpoint on its own "admin" budget of requests per hour
per user; drafts are visible; not gated by LEADERBOARDS_API_ENABLED; ids only, never names.

Each endpoint is a DRF `ListAPIView` (`TournamentRowsView`, one subclass per endpoint) made of:
- a django-filter FilterSet whose filters read their values with the API's serializer fields
  (`QueryFieldFilter`), so a bad value is the contract's 400 listing the valid ones;
- a row serializer, mapping the selector's columns to the contract's keys (`source=`);
- `TournamentRowsPagination`, which refuses a bad `limit` / `offset`, counts with the
  selector's one aggregate and writes the body.
The rows and the counts come from `services.tournament_ops` (at most two queries a listing).
The `Admin...ListSerializer`s only describe the bodies for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.db.models import QuerySet
from django_filters import Filter, FilterSet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import generics
from rest_framework import serializers as drf
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.fields import StrictIntegerField, choice, id_in_range, integer
from apps.common.api.views import StaffView
from apps.common.timestamps import iso_utc
from apps.tournaments.api.schemas import responses
from apps.tournaments.errors import TournamentNotFoundError
from apps.tournaments.models import DisputeReason, DisputeStatus, MatchState, PaymentStatus
from apps.tournaments.services import tournament_ops
from apps.tournaments.services.tournament_ops import RowCounts, TournamentRows

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# Match.round is a PositiveIntegerField: no stored round exceeds this on any backend.
MAX_ROUND = 2_147_483_647
# Python will not convert integers of thousands of digits: longer offsets are refused.
MAX_OFFSET_DIGITS = 1000
# Longer text cannot be a limit or a round in range (2**63 has 19 digits): it is reported as
# not an integer rather than quoted back in the message.
MAX_INTEGER_LENGTH = 20


# --- query parameters ---------------------------------------------------------------------------


class ShortIntegerField(StrictIntegerField):
    """At most MAX_INTEGER_LENGTH characters: longer text is refused as not an integer."""

    MAX_STRING_LENGTH = MAX_INTEGER_LENGTH


class OffsetField(StrictIntegerField):
    """Any non-negative integer: an offset past the end (however far) is an empty page, and
    the paginator never sends one at or past the matching total to SQL. Only the length is
    bounded (MAX_OFFSET_DIGITS)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and len(data) > MAX_OFFSET_DIGITS:
            raise drf.ValidationError(
                f"Must be an integer at least 0 with at most {MAX_OFFSET_DIGITS} digits."
            )
        return super().to_internal_value(data)


class SerializerFormField(forms.Field):
    """A form field that reads its value with a DRF serializer field, so that django-filter
    answers with the API's own messages. Absent is None ("any"); given empty (`?status=`) is a
    value like any other, which the serializer field checks."""

    def __init__(self, *, serializer_field: drf.Field, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.serializer_field = serializer_field

    def clean(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.serializer_field.run_validation(value)
        except drf.ValidationError as error:
            # django-filter formats each message with its params (`message % params`): the text
            # goes in as a param, so that a '%' the client sent is not read as a placeholder.
            raise forms.ValidationError(
                [forms.ValidationError("%(text)s", params={"text": text}) for text in error.detail]
            ) from None


class QueryFieldFilter(Filter):
    """The rows whose field (the filter's name) equals the value `serializer_field` reads from
    the query; absent means "any". The serializer field also documents the parameter."""

    field_class = SerializerFormField

    def __init__(self, serializer_field: drf.Field, **kwargs: Any) -> None:
        super().__init__(serializer_field=serializer_field, **kwargs)
        extend_schema_field(serializer_field)(self)


class PaymentFilter(FilterSet):
    status = QueryFieldFilter(
        choice(PaymentStatus.values, help_text="Only payments with this code.")
    )


class MatchFilter(FilterSet):
    state = QueryFieldFilter(choice(MatchState.values, help_text="Only matches with this code."))
    round = QueryFieldFilter(
        integer(
            1,
            MAX_ROUND,
            field_class=ShortIntegerField,
            help_text="Only matches of this round (a positive integer).",
        )
    )


class DisputeFilter(FilterSet):
    status = QueryFieldFilter(
        choice(DisputeStatus.values, help_text="Only disputes with this code.")
    )
    reason = QueryFieldFilter(
        choice(DisputeReason.values, help_text="Only disputes with this code.")
    )


class WindowSerializer(drf.Serializer):
    """The page: `limit` matching rows from `offset` (0-based, rows by id ascending)."""

    limit = integer(1, MAX_LIMIT, field_class=ShortIntegerField, default=DEFAULT_LIMIT)
    offset = integer(0, field_class=OffsetField, default=0)


# --- rows and bodies ----------------------------------------------------------------------------


class UtcDateTimeField(drf.DateTimeField):
    """ISO 8601 in UTC with a `Z` (contract section 1), whatever time zone is active."""

    def to_representation(self, value: Any) -> str | None:
        return iso_utc(value)


# Row serializers read the selector's `values()` dicts; their sources are exactly its columns.


class AdminPaymentSerializer(drf.Serializer):
    payment_id = drf.IntegerField(source="id")
    registration_id = drf.IntegerField()
    participant_id = drf.IntegerField(
        source="registration__user_id", allow_null=True, help_text="User id (solo), else null."
    )
    team_id = drf.IntegerField(
        source="registration__team_id", allow_null=True, help_text="Team id (team), else null."
    )
    status = drf.ChoiceField(choices=PaymentStatus.values)
    method = drf.CharField(allow_blank=True)
    amount = drf.DecimalField(
        max_digits=12,
        decimal_places=2,
        coerce_to_string=True,
        help_text='A decimal string with two places, e.g. "10.00".',
    )
    submitted_at = UtcDateTimeField(allow_null=True)
    verified_at = UtcDateTimeField(allow_null=True)
    verified_by_id = drf.IntegerField(allow_null=True)
    has_payment_proof = drf.BooleanField(source="has_proof")


class AdminMatchSerializer(drf.Serializer):
    match_id = drf.IntegerField(source="id")
    round = drf.IntegerField()
    match_number = drf.IntegerField()
    state = drf.ChoiceField(choices=MatchState.values)
    participant1_registration_id = drf.IntegerField(source="participant1_id")
    participant2_registration_id = drf.IntegerField(source="participant2_id")
    score1 = drf.IntegerField()
    score2 = drf.IntegerField()
    winner_registration_id = drf.IntegerField(source="winner_id", allow_null=True)
    scheduled_at = UtcDateTimeField(allow_null=True)
    started_at = UtcDateTimeField(allow_null=True)
    completed_at = UtcDateTimeField(allow_null=True)
    dispute_count = drf.IntegerField(min_value=0)


class AdminDisputeSerializer(drf.Serializer):
    dispute_id = drf.IntegerField(source="id")
    match_id = drf.IntegerField()
    status = drf.ChoiceField(choices=DisputeStatus.values)
    reason = drf.ChoiceField(choices=DisputeReason.values)
    opened_by_registration_id = drf.IntegerField(source="opened_by_id", allow_null=True)
    resolved_by_id = drf.IntegerField(allow_null=True)
    opened_at = UtcDateTimeField()
    resolved_at = UtcDateTimeField(allow_null=True)
    has_evidence = drf.BooleanField(source="has_evidence_file")


class AdminPaginationSerializer(drf.Serializer):
    limit = drf.IntegerField(min_value=1, max_value=MAX_LIMIT)
    offset = drf.IntegerField(min_value=0)
    total = drf.IntegerField(min_value=0, help_text="Rows matching the filters.")
    has_more = drf.BooleanField(help_text="True when rows follow this page.")


class BreakdownSerializer(drf.Serializer):
    # An object with one non-negative count per code of `codes`, every code always present.
    # (A comment, not a docstring: drf-spectacular would publish it on every breakdown.)
    codes: ClassVar[tuple[str, ...]] = ()

    def get_fields(self) -> dict[str, drf.Field]:
        return {code: drf.IntegerField(min_value=0) for code in self.codes}


class AdminPaymentStatusBreakdownSerializer(BreakdownSerializer):
    codes = tuple(PaymentStatus.values)


class AdminMatchStateBreakdownSerializer(BreakdownSerializer):
    codes = tuple(MatchState.values)


class AdminDisputeStatusBreakdownSerializer(BreakdownSerializer):
    codes = tuple(DisputeStatus.values)


# The bodies, keys in the order the paginator writes them. `many=False`: a list view's response
# would otherwise be published as an array of these.


@extend_schema_serializer(many=False)
class AdminPaymentListSerializer(drf.Serializer):
    tournament_id = drf.IntegerField()
    payment_count = drf.IntegerField(min_value=0, help_text="Payments matching the filters.")
    status_breakdown = AdminPaymentStatusBreakdownSerializer(
        help_text="Every status with its count over all the tournament's payments."
    )
    pagination = AdminPaginationSerializer()
    payments = AdminPaymentSerializer(many=True)


@extend_schema_serializer(many=False)
class AdminMatchListSerializer(drf.Serializer):
    tournament_id = drf.IntegerField()
    match_count = drf.IntegerField(min_value=0, help_text="Matches matching the filters.")
    state_breakdown = AdminMatchStateBreakdownSerializer(
        help_text="Every state with its count over all the tournament's matches."
    )
    pagination = AdminPaginationSerializer()
    matches = AdminMatchSerializer(many=True)


@extend_schema_serializer(many=False)
class AdminDisputeListSerializer(drf.Serializer):
    tournament_id = drf.IntegerField()
    dispute_count = drf.IntegerField(min_value=0, help_text="Disputes matching the filters.")
    status_breakdown = AdminDisputeStatusBreakdownSerializer(
        help_text="Every status with its count over all the tournament's disputes."
    )
    pagination = AdminPaginationSerializer()
    disputes = AdminDisputeSerializer(many=True)


# --- paging -------------------------------------------------------------------------------------


class TournamentRowsPagination(LimitOffsetPagination):
    """`limit` matching rows from `offset`, and the body around them.

    Unlike DRF's LimitOffsetPagination, which clamps a bad value silently, a bad `limit` or
    `offset` is a 400 naming it (both at once). The total comes from the view's `count_rows`,
    the one aggregate that also gives the breakdown and 404s an unknown tournament, not from a
    COUNT of its own; an offset at or past that total runs no page query, so no offset (however
    large) reaches SQL. The view also names the body's keys (`count_key`, `breakdown_key`,
    `rows_key`).
    """

    def window(self, request: Request) -> WindowSerializer:
        """The request's `limit` and `offset`, to validate (absent: the defaults)."""
        return WindowSerializer(data=request.query_params)

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: TournamentRowsView | None = None
    ) -> list[dict[str, Any]]:
        assert view is not None  # the body's keys and the counts come from the view
        window = self.window(request)
        window.is_valid(raise_exception=True)
        self.request = request
        self.view = view
        self.limit = window.validated_data["limit"]
        self.offset = window.validated_data["offset"]
        self.counts: RowCounts = view.count_rows(queryset)
        self.count = self.counts.matching
        if self.offset >= self.count:
            return []
        return list(queryset[self.offset : self.offset + self.limit])

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        view = self.view
        return Response(
            {
                "tournament_id": view.tournament_id,
                view.count_key: self.count,
                view.breakdown_key: dict(self.counts.breakdown),
                "pagination": {
                    "limit": self.limit,
                    "offset": self.offset,
                    "total": self.count,
                    "has_more": self.offset + len(data) < self.count,
                },
                view.rows_key: data,
            }
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "in": "query",
                "name": "limit",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
                "description": f"Rows per page, 1-{MAX_LIMIT}, default {DEFAULT_LIMIT}.",
            },
            {
                "in": "query",
                "name": "offset",
                "schema": {"type": "integer", "minimum": 0, "default": 0},
                "description": (
                    "Matching rows to skip (ordered by id ascending), default 0; an offset past "
                    "the end gives an empty page."
                ),
            },
        ]


# --- views --------------------------------------------------------------------------------------


def _responses(success: type[drf.Serializer]) -> dict[int, Any]:
    """200 plus the error envelope for 400, 401, 403, 404, 405 and 429. These endpoints send
    no ETag, so the shared helper's 304 is left out."""
    documented = responses(success, 400, 403, 404, 429)
    documented.pop(304, None)
    return documented


class TournamentRowsView(StaffView, generics.ListAPIView):
    # Deliberately no docstring, here, on the subclasses or on `get`: drf-spectacular publishes
    # the nearest one as the operation's description, which these operations have never had.
    #
    # A subclass names its rows (`rows_kind`, a selector definition), its FilterSet, its row
    # serializer and its body's keys; its schema goes on its own copy of `get`
    # (extend_schema_view), so the three operations do not overwrite one another.
    filter_backends = [DjangoFilterBackend]
    pagination_class = TournamentRowsPagination
    rows_kind: ClassVar[TournamentRows]
    count_key: ClassVar[str]
    breakdown_key: ClassVar[str]
    rows_key: ClassVar[str]

    @property
    def tournament_id(self) -> int:
        return self.kwargs["tournament_id"]

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            # drf-spectacular asks for the model only, with no URL to read a tournament from.
            return self.rows_kind.model._default_manager.none()
        if not id_in_range(self.tournament_id):
            # Ids outside the 64-bit range cannot exist: 404 before touching the database.
            raise TournamentNotFoundError.for_id(self.tournament_id)
        return tournament_ops.rows(self.rows_kind, self.tournament_id)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The rows the FilterSet keeps. One 400 names every bad parameter, the filters' first
        (the envelope's `detail` names the first): when a filter is bad, the window's problems
        join it here, since the paginator would not be reached."""
        try:
            return super().filter_queryset(queryset)
        except drf.ValidationError as error:
            window = self.paginator.window(self.request)
            window.is_valid()
            raise drf.ValidationError({**error.detail, **window.errors}) from None

    def count_rows(self, matching: QuerySet) -> RowCounts:
        """The breakdown and the number of `matching` rows, in one query; 404 for an unknown
        tournament."""
        return tournament_ops.count_rows(self.rows_kind, self.tournament_id, matching)


@extend_schema_view(
    get=extend_schema(
        operation_id="admin_tournament_payments",
        summary="A tournament's payments (staff)",
        responses=_responses(AdminPaymentListSerializer),
    )
)
class TournamentPaymentsView(TournamentRowsView):
    endpoint_name = "admin_payments"
    rows_kind = tournament_ops.PAYMENTS
    filterset_class = PaymentFilter
    serializer_class = AdminPaymentSerializer
    count_key = "payment_count"
    breakdown_key = "status_breakdown"
    rows_key = "payments"


@extend_schema_view(
    get=extend_schema(
        operation_id="admin_tournament_matches",
        summary="A tournament's matches (staff)",
        responses=_responses(AdminMatchListSerializer),
    )
)
class TournamentMatchesView(TournamentRowsView):
    endpoint_name = "admin_matches"
    rows_kind = tournament_ops.MATCHES
    filterset_class = MatchFilter
    serializer_class = AdminMatchSerializer
    count_key = "match_count"
    breakdown_key = "state_breakdown"
    rows_key = "matches"


@extend_schema_view(
    get=extend_schema(
        operation_id="admin_tournament_disputes",
        summary="A tournament's disputes (staff)",
        responses=_responses(AdminDisputeListSerializer),
    )
)
class TournamentDisputesView(TournamentRowsView):
    endpoint_name = "admin_disputes"
    rows_kind = tournament_ops.DISPUTES
    filterset_class = DisputeFilter
    serializer_class = AdminDisputeSerializer
    count_key = "dispute_count"
    breakdown_key = "status_breakdown"
    rows_key = "disputes"
