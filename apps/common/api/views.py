"""The base of every API view: metrics and log names, authentication, permissions, rate limit.

`endpoint_name` labels metrics and logs and keys the rate limit; `rate_budget` chooses the budget
(None: not rate limited). Order of answers: 401, 403 / 503 (permissions, the API flag), 429.

No view answers `OPTIONS` (a 405, and `Allow` does not list it): the one `OPTIONS` the API
answers is a CORS preflight from an allowed origin, answered before any view
(apps.common.api.cors).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework.permissions import BasePermission, IsAdminUser, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from structlog.contextvars import bind_contextvars

from apps.common.api.throttles import EndpointRateThrottle, remembered_rate_limit
from apps.common.errors import FeatureDisabledError, RateLimitExceededError
from apps.common.flags import is_flag_enabled
from apps.common.models import FlagName


class LeaderboardsApiEnabled(BasePermission):
    """The public leaderboard endpoints answer 503 FEATURE_DISABLED while the API flag is off
    for this user. Runs after authentication, before the rate limit."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not is_flag_enabled(FlagName.API, getattr(request.user, "pk", None)):
            raise FeatureDisabledError()
        return True


# Django's list without "options" and "trace": `Allow` names the handlers a view defines of these.
ANSWERED_METHODS = ["get", "post", "put", "patch", "delete", "head"]


class ApiView(APIView):
    http_method_names = ANSWERED_METHODS
    endpoint_name: str = ""
    rate_budget: str | None = None
    permission_classes = [IsAuthenticated]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the route does not answer is a 405 for anyone, before authentication (DRF
        # would answer an anonymous OPTIONS or PUT with a 401) and without using any budget.
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        # Middleware runs before DRF authenticates: bind the user here, so the log lines the
        # view writes carry user_id too (apps.common.middleware logs it on request_finished).
        super().perform_authentication(request)
        bind_contextvars(user_id=getattr(request.user, "pk", None))

    def get_throttles(self) -> list[EndpointRateThrottle]:
        return [EndpointRateThrottle()] if self.rate_budget else []

    def throttled(self, request: Request, wait: float | None) -> None:
        result = remembered_rate_limit(request)
        assert result is not None  # the throttle refuses only with a result
        raise RateLimitExceededError(result.retry_after, result.headers())

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        result = remembered_rate_limit(request)
        if result is not None:
            for name, value in result.headers().items():
                response[name] = value
        return response


class PublicLeaderboardView(ApiView):
    rate_budget = "public"
    permission_classes = [IsAuthenticated, LeaderboardsApiEnabled]


class StaffView(ApiView):
    rate_budget = "admin"
    permission_classes = [IsAuthenticated, IsAdminUser]


class JsonErrorsMixin:
    """For the views whose documents are not JSON (the OpenAPI YAML, the Swagger UI page): GET
    and HEAD only, and their errors in the JSON envelope like every other route's, whatever
    renderer the document itself uses."""

    http_method_names = ["get", "head"]
    request: Request

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        renderer = JSONRenderer()
        self.request.accepted_renderer = renderer
        self.request.accepted_media_type = renderer.media_type
        return response
