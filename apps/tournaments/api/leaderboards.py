"""The three public leaderboard endpoints: validate, call the service once, send its bytes.

Each view parses its request once into a `BoardQuery` (memoised on the request). The throttle
asks for it first (`cache_rider`), so the page read rides on the rate limit's Redis round trip;
the handler then raises the parse's 404 / 400, if any, and serves. The order of answers stays:
401, 503 (API flag off), 429, 404 / 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from apps.common.api.errors import ValidationFailedError
from apps.common.api.params import (
    id_in_range,
    parse_choice,
    parse_integer,
    parse_page_params,
)
from apps.common.api.views import PublicLeaderboardView
from apps.tournaments.api import serializers
from apps.tournaments.models import ParticipationType, TournamentStatus
from apps.tournaments.services.board_cache import BoardRef, PageReadRider, Scope
from apps.tournaments.services.documents import PageSpec
from apps.tournaments.services.errors import ParticipantNotFoundError, TournamentNotFoundError
from apps.tournaments.services.leaderboard_service import LeaderboardService, PageResult

SCOPES = ("tournament", "season", "all_time")
SEASON_SLUG = re.compile(serializers.SLUG["pattern"].strip("^$"))


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


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """A parsed board request: the board and page, or the error to answer with."""

    board: BoardRef | None = None
    spec: PageSpec | None = None
    error: Exception | None = None
    game_to_check: str | None = None  # scope=tournament&game=...: the slug must exist


def _parse_failure(errors: dict[str, list[str]]) -> BoardQuery | None:
    return BoardQuery(error=ValidationFailedError(errors)) if errors else None


class BoardView(PublicLeaderboardView):
    """One board page per GET; subclasses say how a request names its board (`parse`)."""

    def parse(self, request: Request) -> BoardQuery:
        raise NotImplementedError

    def board_query(self, request: Request) -> BoardQuery:
        query: BoardQuery | None = getattr(request, "_board_query", None)
        if query is None:
            query = self.parse(request)
            request._board_query = query  # type: ignore[attr-defined]
        return query

    def leaderboard_service(self, request: Request) -> LeaderboardService:
        """One service per request: the flags are evaluated once, before any cache access."""
        service: LeaderboardService | None = getattr(request, "_leaderboard_service", None)
        if service is None:
            service = LeaderboardService(user_id=request.user.pk)
            request._leaderboard_service = service  # type: ignore[attr-defined]
        return service

    def cache_rider(self, request: Request) -> PageReadRider | None:
        """Called by the throttle: the page read to send with the rate-limit script."""
        query = self.board_query(request)
        if query.board is None or query.spec is None:
            return None
        return self.leaderboard_service(request).cache_rider(query.board, query.spec)

    def serve(self, request: Request) -> HttpResponse:
        query = self.board_query(request)
        if query.error is not None:
            raise query.error
        assert query.board is not None and query.spec is not None
        service = self.leaderboard_service(request)
        if query.game_to_check is not None:
            service.require_game(query.game_to_check)  # an unknown game is a 400 on every scope
        return board_response(request, service.page(query.board, query.spec))


class TournamentLeaderboardView(BoardView):
    endpoint_name = "tournament_leaderboard"

    @extend_schema(
        operation_id="tournament_leaderboard",
        parameters=serializers.PAGE_PARAMETERS,
        responses=serializers.responses(serializers.TournamentBoardSerializer, 400, 404, 429, 503),
    )
    def get(self, request: Request, tournament_id: int) -> HttpResponse:
        return self.serve(request)

    def parse(self, request: Request) -> BoardQuery:
        tournament_id = int(self.kwargs["tournament_id"])
        if not id_in_range(tournament_id):
            return BoardQuery(
                error=TournamentNotFoundError(f"No tournament with id {tournament_id}.")
            )
        errors: dict[str, list[str]] = {}
        paging = parse_page_params(request.query_params, errors)
        if failure := _parse_failure(errors):
            return failure
        query = [("page_size", str(paging.page_size))] if paging.page_size_given else []
        return BoardQuery(
            board=BoardRef(Scope.TOURNAMENT, tournament_id=tournament_id),
            spec=_page_spec(request, query, paging.page, paging.page_size),
        )


class ParticipantHistoryView(BoardView):
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
        return self.serve(request)

    def parse(self, request: Request) -> BoardQuery:
        participant_id = int(self.kwargs["participant_id"])
        if not id_in_range(participant_id):
            return BoardQuery(
                error=ParticipantNotFoundError(f"No participant with id {participant_id}.")
            )
        errors: dict[str, list[str]] = {}
        paging = parse_page_params(request.query_params, errors)
        status = parse_choice(
            request.query_params.get("tournament_status"),
            "tournament_status",
            TournamentStatus.values,
            default=None,
            errors=errors,
        )
        if failure := _parse_failure(errors):
            return failure
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
        return BoardQuery(board=BoardRef(Scope.HISTORY, user_id=participant_id), spec=spec)


class ScopedLeaderboardView(BoardView):
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
        return self.serve(request)

    def parse(self, request: Request) -> BoardQuery:
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
        # tournament_id and season are used by one scope each; on the others a well-formed
        # value is ignored and a malformed one is still a 400 (as the schema documents it).
        tournament_id = parse_integer(
            params.get("tournament_id"),
            "tournament_id",
            default=None,
            minimum=1,
            maximum=2**63 - 1,
            errors=errors,
        )
        season = params.get("season")
        if scope == "tournament":
            if tournament_id is None and "tournament_id" not in errors:
                errors["tournament_id"] = ["This parameter is required for scope=tournament."]
        elif scope == "season":
            if not season:
                errors["season"] = ["This parameter is required for scope=season."]
        elif season is not None and not SEASON_SLUG.fullmatch(season):
            errors["season"] = ["Must be a season slug (letters, digits, '-' and '_')."]
        if scope != "season":
            season = None
        if failure := _parse_failure(errors):
            return failure

        query: list[tuple[str, str]] = [("scope", str(scope))]
        if scope == "tournament":
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
            board = BoardRef(Scope.TOURNAMENT, tournament_id=tournament_id)
            return BoardQuery(board=board, spec=spec, game_to_check=game)

        if season is not None:
            query.append(("season", season))
        if game is not None:
            query.append(("game", game))
        query.append(("participant_type", str(participant_type)))
        if paging.page_size_given:
            query.append(("page_size", str(paging.page_size)))
        spec = _page_spec(request, query, paging.page, paging.page_size)
        board = BoardRef(
            Scope.SEASON if scope == "season" else Scope.ALL_TIME,
            season=season,
            game=game,
            participant_type=str(participant_type),
        )
        return BoardQuery(board=board, spec=spec)
