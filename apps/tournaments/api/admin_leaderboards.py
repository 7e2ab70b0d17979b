"""Staff debug endpoints: inspect a board live, see the cache's health, invalidate boards."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import DatabaseError
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.fields import MAX_ID, choice, id_in_range, integer
from apps.common.api.views import StaffView
from apps.tournaments.api import schemas
from apps.tournaments.boards import PUBLIC_SCOPES
from apps.tournaments.errors import TournamentNotFoundError
from apps.tournaments.services import inspection

log = structlog.get_logger(__name__)

INVALIDATION_SCOPES = (*(scope.value for scope in PUBLIC_SCOPES), "all")
INVALIDATION_KEYS = ("tournament_id", "scope")


class InspectView(StaffView):
    endpoint_name = "admin_inspect"

    @extend_schema(
        operation_id="admin_leaderboard_inspect",
        responses=schemas.responses(schemas.InspectSerializer, 403, 404, 429),
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        if not id_in_range(tournament_id):
            raise TournamentNotFoundError.for_id(tournament_id)
        return Response(inspection.inspect_tournament(tournament_id))


class CacheStatusView(StaffView):
    endpoint_name = "admin_cache_status"

    @extend_schema(
        operation_id="admin_cache_status",
        responses=schemas.responses(schemas.CacheStatusSerializer, 403, 429),
    )
    def get(self, request: Request) -> Response:
        return Response(inspection.cache_status())


class InvalidateByTournamentSerializer(serializers.Serializer):
    tournament_id = integer(1, MAX_ID, accepts_strings=False)


class InvalidateByScopeSerializer(serializers.Serializer):
    scope = choice(INVALIDATION_SCOPES)


# Exactly one of the two shapes (a body with both matches both, which oneOf rejects).
INVALIDATION_REQUEST = PolymorphicProxySerializer(
    component_name="InvalidationRequest",
    serializers=[InvalidateByTournamentSerializer, InvalidateByScopeSerializer],
    resource_type_field_name=None,
)


def parse_invalidation(body: Any) -> dict[str, Any]:
    """`{"tournament_id": N}` or `{"scope": ...}`: exactly one key (present even as null),
    nothing else."""
    if not isinstance(body, dict):
        raise serializers.ValidationError(
            {"non_field_errors": ['Send a JSON object: {"tournament_id": N} or {"scope": ...}.']}
        )
    unknown = sorted(set(body) - set(INVALIDATION_KEYS))
    if unknown:
        raise serializers.ValidationError({field: ["Unknown field."] for field in unknown})
    if ("tournament_id" in body) == ("scope" in body):
        raise serializers.ValidationError(
            {"non_field_errors": ["Give exactly one of tournament_id or scope."]}
        )
    shape = (
        InvalidateByTournamentSerializer if "tournament_id" in body else InvalidateByScopeSerializer
    )
    serializer = shape(data=body)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CacheInvalidateView(StaffView):
    """Every call by a staff member leaves an audit record, a refused one too (its answer's
    status and code, and what was asked when the body could be read)."""

    endpoint_name = "admin_cache_invalidate"
    rate_budget = "invalidate"
    target: dict[str, Any] | None = None

    @extend_schema(
        operation_id="admin_cache_invalidate",
        request=INVALIDATION_REQUEST,
        examples=[
            OpenApiExample("By tournament", value={"tournament_id": 7}, request_only=True),
            OpenApiExample("By scope", value={"scope": "season"}, request_only=True),
        ],
        responses=schemas.responses(schemas.InvalidationSerializer, 400, 403, 404, 429, 503),
    )
    def post(self, request: Request) -> Response:
        self.target = parse_invalidation(request.data)
        return Response(inspection.invalidate(actor_id=request.user.pk, **self.target))

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        user = self.request.user
        if getattr(user, "is_staff", False) and getattr(user, "is_active", False):
            try:
                inspection.record_refused_invalidation(
                    actor_id=user.pk,
                    status_code=response.status_code,
                    error_code=response.data["error_code"],
                    target=self.target,
                )
            except DatabaseError as error:  # the answer (a 503 already) stands
                log.error("refused_invalidation_not_audited", error=type(error).__name__)
        return response
