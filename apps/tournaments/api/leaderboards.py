"""The three public leaderboard endpoints: validate the query, read the page, send its bytes.

A GET on any of them (`BoardView.get`):
1. DRF authenticates (401) and checks the permissions, the API flag included (503).
2. The view's query serializer turns the query into a `BoardRef` and a `PageSpec`. A bad query is
   still counted against the rate limit: over budget it is a 429, else its 400 / 404.
3. One service call, `read_board_page`: flags, then the rate limit and the page read in one Redis
   round trip, then (on a miss) the document, cached or computed once.
4. `board_response`: 304 when If-None-Match holds the ETag, else 200 with the bytes.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request

from apps.common.api.fields import (
    MAX_ID,
    SLUG_PATTERN,
    EmptyIsAValue,
    IdListField,
    InstantField,
    PageNumberField,
    choice,
    id_in_range,
    integer,
)
from apps.common.api.throttles import remember_rate_limit
from apps.common.api.views import PublicLeaderboardView
from apps.common.errors import RateLimitExceededError, ServiceError, shortened
from apps.common.rate_limits import RateLimitCount, rate_limit
from apps.common.timestamps import iso_utc
from apps.tournaments.api import schemas
from apps.tournaments.boards import PUBLIC_SCOPES, BoardRef, Scope
from apps.tournaments.errors import ParticipantNotFoundError, TournamentNotFoundError
from apps.tournaments.models import ParticipationType, TournamentStatus
from apps.tournaments.services.board_compute import game_id_for
from apps.tournaments.services.board_documents import PageSpec
from apps.tournaments.services.leaderboard_service import BoardPage, read_board_page

SCOPE_NAMES = [scope.value for scope in PUBLIC_SCOPES]
ME = "me"
# The parameters of a player's reading (contract section 9).
READING = frozenset({"around", "size", "ids", "as_of", "compare_to"})
_SLUG = re.compile(SLUG_PATTERN)


class PageQuery(serializers.Serializer):
    # No upper bound on `page`: a page past the last is a 404, however far past.
    page = integer(1, required=False, default=1, field_class=PageNumberField)
    page_size = integer(1, schemas.MAX_PAGE_SIZE, required=False, default=schemas.DEFAULT_PAGE_SIZE)


class HistoryQuery(PageQuery):
    tournament_status = choice(TournamentStatus.values, required=False)


class AroundField(EmptyIsAValue, serializers.Field):
    """A competitor id (1 to MAX_ID), or `me`: the caller."""

    default_error_messages = {
        "invalid": f"Must be me or a competitor id (an integer between 1 and {MAX_ID}).",
    }

    def to_internal_value(self, data: Any) -> int | str:
        if data == ME:
            return ME
        try:
            return integer(1, MAX_ID).to_internal_value(data)
        except serializers.ValidationError:
            self.fail("invalid")


class BoardQuery(PageQuery):
    """A board's rows as a player reads them (contract section 9): a page, or a window around
    a competitor, or chosen competitors; now or as of an instant; with or without movement."""

    around = AroundField(required=False)
    size = integer(1, schemas.MAX_WINDOW_SIZE, required=False, default=schemas.DEFAULT_WINDOW_SIZE)
    ids = IdListField(max_count=schemas.MAX_BOARD_IDS, required=False)
    as_of = InstantField(required=False)
    compare_to = InstantField(required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        sent = set(self.initial_data)
        selected = [name for name in ("around", "ids") if name in sent]
        if len(selected) == 2:
            raise serializers.ValidationError({"ids": ["Give around or ids, not both."]})
        for name in ("page", "page_size"):
            if selected and name in sent:
                raise serializers.ValidationError(
                    {name: [f"Cannot be combined with {selected[0]} (it returns no pages)."]}
                )
        if "size" in sent and "around" not in sent:
            raise serializers.ValidationError({"size": ["Only with around."]})
        as_of, compare_to = data.get("as_of"), data.get("compare_to")
        if as_of is not None and compare_to is not None and compare_to > as_of:
            raise serializers.ValidationError({"compare_to": ["Must not be later than as_of."]})
        return data


class ScopedPageQuery(PageQuery):
    scope = choice(SCOPE_NAMES)
    tournament_id = integer(1, MAX_ID, required=False)
    season = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    game = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    participant_type = choice(ParticipationType.values, required=False, default="solo")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """What one scope requires; another scope's parameter is ignored when well formed."""
        scope, season, game = data["scope"], data.get("season"), data.get("game")
        if scope == Scope.TOURNAMENT and "tournament_id" not in data:
            raise serializers.ValidationError(
                {"tournament_id": ["This parameter is required for scope=tournament."]}
            )
        if scope == Scope.SEASON and not season:
            raise serializers.ValidationError(
                {"season": ["This parameter is required for scope=season."]}
            )
        if scope != Scope.SEASON and season is not None and not _SLUG.fullmatch(season):
            raise serializers.ValidationError(
                {"season": ["Must be a season slug (letters, digits, '-' and '_')."]}
            )
        if game is not None and not game.strip():
            raise serializers.ValidationError({"game": ["Must be a game slug."]})
        if scope == Scope.TOURNAMENT and game is not None:
            game_id_for(game)  # ignored by this scope, but an unknown game is a 400 on every one
        return super().validate(data)


class ScopedQuery(ScopedPageQuery, BoardQuery):
    """The scoped board's parameters and a player's reading of it."""

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        team_board = data["participant_type"] == ParticipationType.TEAM
        if data.get("around") == ME and data["scope"] != Scope.TOURNAMENT and team_board:
            raise serializers.ValidationError(
                {"around": ["me names a player, not a team: on a team board give a team id."]}
            )
        return super().validate(data)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return "*" in candidates or etag in candidates


def board_response(request: Request, page: BoardPage) -> HttpResponse:
    """200 with the page's bytes, or 304 when the client already holds this ETag."""
    if _etag_matches(request.headers.get("If-None-Match"), page.etag):
        response = HttpResponse(status=304)
        del response["Content-Type"]
    else:
        response = HttpResponse(page.body, content_type="application/json")
    response["ETag"] = page.etag
    response["Cache-Control"] = "private, no-cache"
    return response


class BoardView(PublicLeaderboardView):
    """One board page per GET. A subclass says how a request names its board (`board_and_page`).

    The rate limit is counted in `get`, not by DRF's throttle hook: on a valid query the count
    and the page read share one Redis round trip (`read_board_page`).
    """

    query_serializer: type[PageQuery] = PageQuery
    # With a reading parameter in the query: the serializer that reads it too. A plain page
    # (most polling requests) skips its five fields: DRF copies every declared field per
    # serializer instance, which doubled the parse time of a plain page (52 -> 112 us, timeit).
    reading_serializer: type[PageQuery] | None = None

    def get_throttles(self) -> list[Any]:
        return []  # counted in `get`

    def board_and_page(self, request: Request, query: dict[str, Any]) -> tuple[BoardRef, PageSpec]:
        raise NotImplementedError

    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        count = RateLimitCount.of(self.endpoint_name, request.user.pk, str(self.rate_budget))
        try:
            reading = self.reading_serializer and not READING.isdisjoint(request.query_params)
            serializer_class = self.reading_serializer if reading else self.query_serializer
            serializer = serializer_class(data=request.query_params)
            serializer.is_valid(raise_exception=True)
            board, page = self.board_and_page(request, serializer.validated_data)
        except (serializers.ValidationError, ServiceError):
            self._count_alone(request, count)
            raise
        answer = read_board_page(board, page, user_id=request.user.pk, count=count)
        remember_rate_limit(request, answer.rate_limit)
        return board_response(request, answer)

    def _count_alone(self, request: Request, count: RateLimitCount) -> None:
        """A refused query counts too; over budget its answer is the 429."""
        result = rate_limit(count)
        remember_rate_limit(request, result)
        if result is not None and not result.admitted:
            raise RateLimitExceededError(result.retry_after, result.headers())

    def page_spec(self, request: Request, query: dict[str, Any], **extra: Any) -> PageSpec:
        """The page asked for; `extra` may add `links` (the parameters links repeat, before
        `page_size` and `page`) and PageSpec's presentation fields."""
        links = list(extra.pop("links", []))
        for name in ("as_of", "compare_to"):
            if query.get(name) is not None:
                links.append((name, iso_utc(query[name]) or ""))
        if "page_size" in request.query_params:
            links.append(("page_size", str(query["page_size"])))
        around = query.get("around")
        return PageSpec(
            page=query["page"],
            page_label=shortened(request.query_params.get("page", query["page"])),
            page_size=query["page_size"],
            around=request.user.pk if around == ME else around,
            around_me=around == ME,
            size=query.get("size", schemas.DEFAULT_WINDOW_SIZE),
            ids=query.get("ids"),
            as_of=query.get("as_of"),
            compare_to=query.get("compare_to"),
            base_url=request.build_absolute_uri(request.path),
            query=tuple(links),
            viewer_is_staff=bool(request.user.is_staff),
            **extra,
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="tournament_leaderboard",
        parameters=[*schemas.PAGE_PARAMETERS, *schemas.READING_PARAMETERS],
        responses=schemas.responses(schemas.TournamentBoardSerializer, 400, 404, 429, 503),
    )
)
class TournamentLeaderboardView(BoardView):
    endpoint_name = "tournament_leaderboard"
    reading_serializer = BoardQuery

    def board_and_page(self, request: Request, query: dict[str, Any]) -> tuple[BoardRef, PageSpec]:
        tournament_id = int(self.kwargs["tournament_id"])
        if not id_in_range(tournament_id):
            raise TournamentNotFoundError.for_id(tournament_id)
        return BoardRef.tournament(tournament_id), self.page_spec(request, query)


@extend_schema_view(
    get=extend_schema(
        operation_id="participant_history",
        parameters=[
            *schemas.PAGE_PARAMETERS,
            OpenApiParameter(
                "tournament_status", str, enum=list(TournamentStatus.values), required=False
            ),
        ],
        responses=schemas.responses(schemas.HistorySerializer, 400, 404, 429, 503),
    )
)
class ParticipantHistoryView(BoardView):
    endpoint_name = "participant_history"
    query_serializer = HistoryQuery

    def board_and_page(self, request: Request, query: dict[str, Any]) -> tuple[BoardRef, PageSpec]:
        participant_id = int(self.kwargs["participant_id"])
        if not id_in_range(participant_id):
            raise ParticipantNotFoundError(f"No participant with id {participant_id}.")
        status = query.get("tournament_status")
        page = self.page_spec(
            request,
            query,
            links=[("tournament_status", status)] if status else [],
            statuses=frozenset({status}) if status else None,
        )
        return BoardRef.history(participant_id), page


@extend_schema_view(
    get=extend_schema(
        operation_id="scoped_leaderboard",
        parameters=[
            OpenApiParameter("scope", str, enum=SCOPE_NAMES, required=True),
            OpenApiParameter(
                "tournament_id",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                required=False,
                description="Required for scope=tournament.",
            ),
            OpenApiParameter(
                "season", schemas.SLUG, required=False, description="Required for scope=season."
            ),
            OpenApiParameter("game", schemas.SLUG, required=False, description="A game slug."),
            OpenApiParameter(
                "participant_type", str, enum=list(ParticipationType.values), required=False
            ),
            *schemas.PAGE_PARAMETERS,
            *schemas.READING_PARAMETERS,
        ],
        responses=schemas.responses(schemas.ScopedBoardSerializer, 400, 404, 429, 503),
    )
)
class ScopedLeaderboardView(BoardView):
    endpoint_name = "scoped_leaderboard"
    query_serializer = ScopedPageQuery
    reading_serializer = ScopedQuery

    def board_and_page(self, request: Request, query: dict[str, Any]) -> tuple[BoardRef, PageSpec]:
        scope = Scope(query["scope"])
        if scope is Scope.TOURNAMENT:
            tournament_id = query["tournament_id"]
            page = self.page_spec(
                request,
                query,
                links=[("scope", scope.value), ("tournament_id", str(tournament_id))],
                header_extra=(("scope", scope.value),),
                row_extra=(("tournaments_played", 1),),
            )
            return BoardRef.tournament(tournament_id), page
        season = query.get("season") if scope is Scope.SEASON else None
        game = query.get("game")
        links = [("scope", scope.value)]
        links += [("season", season)] if season is not None else []
        links += [("game", game)] if game is not None else []
        links.append(("participant_type", query["participant_type"]))
        board = BoardRef(
            scope, season=season, game=game, participant_type=query["participant_type"]
        )
        return board, self.page_spec(request, query, links=links)
