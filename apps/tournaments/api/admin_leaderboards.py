"""Staff debug endpoints: inspect a board live, see the cache's health, invalidate boards."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.errors import ValidationFailedError, exception_handler
from apps.common.api.params import MAX_ID, id_in_range
from apps.common.api.views import StaffView
from apps.common.redis_gateway import RedisUnavailableError
from apps.tournaments.api import serializers
from apps.tournaments.services import inspection
from apps.tournaments.services.errors import LeaderboardError, TournamentNotFoundError

INVALIDATION_SCOPES = ("tournament", "season", "all_time", "all")


class InspectView(StaffView):
    endpoint_name = "admin_inspect"

    @extend_schema(
        operation_id="admin_leaderboard_inspect",
        responses=serializers.responses(serializers.InspectSerializer, 403, 404, 429),
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        if not id_in_range(tournament_id):
            raise TournamentNotFoundError(f"No tournament with id {tournament_id}.")
        return Response(inspection.inspect_tournament(tournament_id))


class CacheStatusView(StaffView):
    endpoint_name = "admin_cache_status"

    @extend_schema(
        operation_id="admin_cache_status",
        responses=serializers.responses(serializers.CacheStatusSerializer, 403, 429),
    )
    def get(self, request: Request) -> Response:
        return Response(inspection.cache_status())


def _parse_invalidation(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailedError(
            {"non_field_errors": ['Send a JSON object: {"tournament_id": N} or {"scope": ...}.']}
        )
    unknown = sorted(set(body) - {"tournament_id", "scope"})
    if unknown:
        raise ValidationFailedError({field: ["Unknown field."] for field in unknown})
    has_tournament = "tournament_id" in body  # present, even as null: exactly one key
    has_scope = "scope" in body
    if has_tournament == has_scope:
        raise ValidationFailedError(
            {"non_field_errors": ["Give exactly one of tournament_id or scope."]}
        )
    if has_tournament:
        value = body["tournament_id"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise ValidationFailedError(
                {"tournament_id": [f"Must be an integer between 1 and {MAX_ID}."]}
            )
        if not id_in_range(value):
            raise TournamentNotFoundError(f"No tournament with id {value}.")
        return {"tournament_id": value}
    scope = body["scope"]
    if scope not in INVALIDATION_SCOPES:
        raise ValidationFailedError(
            {"scope": [f"Not a valid scope; valid values: {', '.join(INVALIDATION_SCOPES)}."]}
        )
    return {"scope": scope}


class InvalidateByTournamentSerializer(drf_serializers.Serializer):
    tournament_id = drf_serializers.IntegerField(min_value=1, max_value=MAX_ID)


class InvalidateByScopeSerializer(drf_serializers.Serializer):
    scope = drf_serializers.ChoiceField(choices=list(INVALIDATION_SCOPES))


# Exactly one of the two shapes (a body with both matches both, which oneOf rejects).
INVALIDATION_REQUEST = PolymorphicProxySerializer(
    component_name="InvalidationRequest",
    serializers=[InvalidateByTournamentSerializer, InvalidateByScopeSerializer],
    resource_type_field_name=None,
)


class CacheInvalidateView(StaffView):
    endpoint_name = "admin_cache_invalidate"
    rate_scope = "invalidate"

    @extend_schema(
        operation_id="admin_cache_invalidate",
        request=INVALIDATION_REQUEST,
        examples=[
            OpenApiExample("By tournament", value={"tournament_id": 7}, request_only=True),
            OpenApiExample("By scope", value={"scope": "season"}, request_only=True),
        ],
        responses=serializers.responses(
            serializers.InvalidationSerializer, 400, 403, 404, 429, 503
        ),
    )
    def post(self, request: Request) -> Response:
        target: dict[str, Any] | None = None
        try:
            target = _parse_invalidation(request.data)
            return Response(inspection.invalidate(actor_id=request.user.pk, **target))
        except (APIException, LeaderboardError, RedisUnavailableError) as error:
            # Every call leaves an audit record, the refused ones too (400, 404, 503): the
            # project's exception handler gives the answer, which is recorded and returned.
            response = exception_handler(error, {"request": request, "view": self})
            assert response is not None  # it answers every one of these
            inspection.record_refused_invalidation(
                actor_id=request.user.pk,
                status_code=response.status_code,
                error_code=response.data["error_code"],
                target=target,
            )
            return response
