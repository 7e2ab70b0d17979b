"""Name resolution: the only endpoints that return names (contract section 4)."""

from __future__ import annotations

from django.db.models import Model
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.fields import IdListField, id_in_range
from apps.common.api.views import ApiView, PublicLeaderboardView
from apps.common.errors import NotFoundError
from apps.common.models import User
from apps.common.timestamps import iso_utc
from apps.tournaments.api import schemas
from apps.tournaments.errors import ParticipantNotFoundError, TournamentNotFoundError
from apps.tournaments.models import Team, Tournament, TournamentStatus


class ProfileNameView(ApiView):
    endpoint_name = "profile_name"

    @extend_schema(
        operation_id="profile_name",
        responses=schemas.responses(schemas.ProfileNameSerializer, 404),
    )
    def get(self, request: Request, profile_id: int) -> Response:
        user = (
            User.objects.filter(pk=profile_id).values("id", "display_name").first()
            if id_in_range(profile_id)
            else None
        )
        if user is None:
            raise ParticipantNotFoundError(f"No profile with id {profile_id}.")
        # The display name only, even when empty: a username is a login, not a public name.
        return Response({"id": user["id"], "display_name": user["display_name"]})


class TeamNameView(ApiView):
    endpoint_name = "team_name"

    @extend_schema(
        operation_id="team_name",
        responses=schemas.responses(schemas.TeamNameSerializer, 404),
    )
    def get(self, request: Request, team_id: int) -> Response:
        team = (
            Team.objects.filter(pk=team_id).values("id", "name", "tag").first()
            if id_in_range(team_id)
            else None
        )
        if team is None:
            raise NotFoundError(f"No team with id {team_id}.")
        return Response(team)


class IdsQuery(serializers.Serializer):
    ids = IdListField(
        max_count=schemas.MAX_NAME_IDS,
        error_messages={"required": "This parameter is required."},
    )


def requested_ids(request: Request) -> tuple[int, ...]:
    """The distinct ids of `?ids=`, ascending; a 400 naming `ids` otherwise."""
    query = IdsQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    ids: tuple[int, ...] = query.validated_data["ids"]
    return ids


class NamesInBulkView(ApiView):
    """Names in bulk: the known ids of `?ids=`, ascending (unknown ids left out), in one query.
    Rate limited with a public budget of its own; not switched off by LEADERBOARDS_API_ENABLED.
    A subclass names the model and the keys of each item."""

    rate_budget = "public"
    model: type[Model]
    keys: tuple[str, ...]

    def get(self, request: Request) -> Response:
        ids = requested_ids(request)
        rows = self.model.objects.filter(pk__in=ids).order_by("id").values(*self.keys)
        return Response({"results": list(rows)})


@extend_schema_view(
    get=extend_schema(
        operation_id="profile_names",
        description="Display names in bulk: the known ids, ascending (unknown ids left out).",
        parameters=[schemas.name_ids_parameter("profile", "1,2,3")],
        responses=schemas.responses(schemas.ProfileNameListSerializer, 400, 429),
    )
)
class ProfileNamesView(NamesInBulkView):
    endpoint_name = "profile_names"
    model = User
    # The display name only, even when empty: a username is a login, not a public name.
    keys = ("id", "display_name")


@extend_schema_view(
    get=extend_schema(
        operation_id="team_names",
        description="Team names and tags in bulk: the known ids, ascending (unknown ids left out).",
        parameters=[schemas.name_ids_parameter("team", "4,5")],
        responses=schemas.responses(schemas.TeamNameListSerializer, 400, 429),
    )
)
class TeamNamesView(NamesInBulkView):
    endpoint_name = "team_names"
    model = Team
    keys = ("id", "name", "tag")


class TournamentMetadataView(ApiView):
    endpoint_name = "tournament_metadata"

    @extend_schema(
        operation_id="tournament_metadata",
        responses=schemas.responses(schemas.TournamentMetadataSerializer, 404),
    )
    def get(self, request: Request, tournament_id: int) -> Response:
        tournament = (
            Tournament.objects.filter(pk=tournament_id)
            .values(
                "id",
                "name",
                "game__slug",
                "season__slug",
                "status",
                "participation_type",
                "format",
                "starts_at",
                "ends_at",
            )
            .first()
            if id_in_range(tournament_id)
            else None
        )
        hidden = tournament is not None and (
            tournament["status"] == TournamentStatus.DRAFT and not request.user.is_staff
        )
        if tournament is None or hidden:
            raise TournamentNotFoundError.for_id(tournament_id)
        return Response(
            {
                "id": tournament["id"],
                "name": tournament["name"],
                "game": tournament["game__slug"],
                "season": tournament["season__slug"],
                "status": tournament["status"],
                "participation_type": tournament["participation_type"],
                "format": tournament["format"],
                "starts_at": iso_utc(tournament["starts_at"]),
                "ends_at": iso_utc(tournament["ends_at"]),
            }
        )


class PingView(PublicLeaderboardView):
    """A trivial endpoint on the same stack as the boards (auth, flag, rate limit, metrics,
    logs): the baseline of the performance budget."""

    endpoint_name = "ping"

    @extend_schema(
        operation_id="ping", responses=schemas.responses(schemas.PingSerializer, 429, 503)
    )
    def get(self, request: Request) -> Response:
        return Response({"ok": True})
