"""The three public leaderboard endpoints: validate, call the service once, send its bytes."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from apps.common.api.params import (
    id_in_range,
    parse_choice,
    parse_integer,
    parse_page_params,
    raise_if_errors,
)
from apps.common.api.views import PublicLeaderboardView
from apps.tournaments.api import serializers
from apps.tournaments.models import ParticipationType, TournamentStatus
from apps.tournaments.services.documents import PageSpec
from apps.tournaments.services.errors import ParticipantNotFoundError, TournamentNotFoundError
from apps.tournaments.services.leaderboard_service import LeaderboardService, PageResult

SCOPES = ("tournament", "season", "all_time")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return "*" in candidates or etag in candidates


def board_response(request: Request, result: PageResult) -> HttpResponse:
    """200 with the page's bytes, or 304 when the client already holds this ETag."""
    if _etag_matches(request.headers.get("If-None-Match"), result.etag):
        response = HttpResponse(status=304)
        del response["Content-Type"]
    else:
        response = HttpResponse(result.body, content_type="application/json")
    response["ETag"] = result.etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _page_spec(
    request: Request,
    query: list[tuple[str, str]],
    page: int,
    page_size: int,
    **extra: object,
) -> PageSpec:
    return PageSpec(
        page=page,
        page_size=page_size,
        base_url=request.build_absolute_uri(request.path),
        query=tuple(query),
        viewer_is_staff=bool(request.user.is_staff),
        **extra,  # type: ignore[arg-type]
    )


class TournamentLeaderboardView(PublicLeaderboardView):
    endpoint_name = "tournament_leaderboard"

    @extend_schema(
        operation_id="tournament_leaderboard",
        parameters=serializers.PAGE_PARAMETERS,
        responses=serializers.responses(serializers.TournamentBoardSerializer, 400, 404, 429, 503),
    )
    def get(self, request: Request, tournament_id: int) -> HttpResponse:
        if not id_in_range(tournament_id):
            raise TournamentNotFoundError(f"No tournament with id {tournament_id}.")
        errors: dict[str, list[str]] = {}
        paging = parse_page_params(request.query_params, errors)
        raise_if_errors(errors)
        query = [("page_size", str(paging.page_size))] if paging.page_size_given else []
        spec = _page_spec(request, query, paging.page, paging.page_size)
        result = LeaderboardService(user_id=request.user.pk).tournament_page(tournament_id, spec)
        return board_response(request, result)


class ParticipantHistoryView(PublicLeaderboardView):
    endpoint_name = "participant_history"

    @extend_schema(
        operation_id="participant_history",
        parameters=[
            *serializers.PAGE_PARAMETERS,
            OpenApiParameter(
                "tournament_status", str, enum=list(TournamentStatus.values), required=False
            ),
        ],
        responses=serializers.responses(serializers.HistorySerializer, 400, 404, 429, 503),
    )
    def get(self, request: Request, participant_id: int) -> HttpResponse:
        if not id_in_range(participant_id):
            raise ParticipantNotFoundError(f"No participant with id {participant_id}.")
        errors: dict[str, list[str]] = {}
        paging = parse_page_params(request.query_params, errors)
        status = parse_choice(
            request.query_params.get("tournament_status"),
            "tournament_status",
            TournamentStatus.values,
            default=None,
            errors=errors,
        )
        raise_if_errors(errors)
        query = []
        if status is not None:
            query.append(("tournament_status", status))
        if paging.page_size_given:
            query.append(("page_size", str(paging.page_size)))
        spec = _page_spec(
            request,
            query,
            paging.page,
            paging.page_size,
            statuses=frozenset({status}) if status else None,
        )
        result = LeaderboardService(user_id=request.user.pk).history_page(participant_id, spec)
        return board_response(request, result)


class ScopedLeaderboardView(PublicLeaderboardView):
    endpoint_name = "scoped_leaderboard"

    @extend_schema(
        operation_id="scoped_leaderboard",
        parameters=[
            OpenApiParameter("scope", str, enum=list(SCOPES), required=True),
            OpenApiParameter(
                "tournament_id",
                {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                required=False,
                description="Required for scope=tournament.",
            ),
            OpenApiParameter(
                "season", serializers.SLUG, required=False, description="Required for scope=season."
            ),
            OpenApiParameter("game", serializers.SLUG, required=False, description="A game slug."),
            OpenApiParameter(
                "participant_type", str, enum=list(ParticipationType.values), required=False
            ),
            *serializers.PAGE_PARAMETERS,
        ],
        responses=serializers.responses(serializers.ScopedBoardSerializer, 400, 404, 429, 503),
    )
    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        errors: dict[str, list[str]] = {}
        scope = params.get("scope")
        if scope is None:
            errors["scope"] = [f"This parameter is required; valid values: {', '.join(SCOPES)}."]
        else:
            scope = parse_choice(scope, "scope", SCOPES, default=None, errors=errors)
        participant_type = parse_choice(
            params.get("participant_type"),
            "participant_type",
            ParticipationType.values,
            default=ParticipationType.SOLO,
            errors=errors,
        )
        game = params.get("game")
        if game is not None and not game.strip():
            errors["game"] = ["Must be a game slug."]
        paging = parse_page_params(params, errors)
        tournament_id = None
        season = None
        if scope == "tournament":
            tournament_id = parse_integer(
                params.get("tournament_id"),
                "tournament_id",
                default=None,
                minimum=1,
                maximum=2**63 - 1,
                errors=errors,
            )
            if tournament_id is None and "tournament_id" not in errors:
                errors["tournament_id"] = ["This parameter is required for scope=tournament."]
        elif scope == "season":
            season = params.get("season")
            if not season:
                errors["season"] = ["This parameter is required for scope=season."]
        raise_if_errors(errors)

        query: list[tuple[str, str]] = [("scope", str(scope))]
        service = LeaderboardService(user_id=request.user.pk)
        if scope == "tournament":
            assert tournament_id is not None
            if game is not None:
                service.require_game(game)  # an unknown game is a 400 on every scope
            query.append(("tournament_id", str(tournament_id)))
            if paging.page_size_given:
                query.append(("page_size", str(paging.page_size)))
            spec = _page_spec(
                request,
                query,
                paging.page,
                paging.page_size,
                header_extra=(("scope", "tournament"),),
                row_extra=(("tournaments_played", 1),),
            )
            return board_response(request, service.tournament_page(tournament_id, spec))

        if season is not None:
            query.append(("season", season))
        if game is not None:
            query.append(("game", game))
        query.append(("participant_type", str(participant_type)))
        if paging.page_size_given:
            query.append(("page_size", str(paging.page_size)))
        spec = _page_spec(request, query, paging.page, paging.page_size)
        if scope == "season":
            assert season is not None
            result = service.season_page(season, game, str(participant_type), spec)
        else:
            result = service.all_time_page(game, str(participant_type), spec)
        return board_response(request, result)
