"""One error envelope for every failure: `{"error_code": ..., "detail": ..., ...extra}`.

`exception_handler` is DRF's EXCEPTION_HANDLER; `handler404` / `handler500` cover what never
reaches a DRF view (unknown paths, errors in middleware). Nothing a client sends gives a 500.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.common.redis_gateway import RedisUnavailableError
from apps.tournaments.services.errors import (
    InvalidParameterError,
    LeaderboardError,
    PageNotFoundError,
    ParticipantNotFoundError,
    SeasonNotFoundError,
    TournamentNotFoundError,
)

log = structlog.get_logger(__name__)

FEATURE_DISABLED_RETRY_SECONDS = 300


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    TOURNAMENT_NOT_FOUND = "TOURNAMENT_NOT_FOUND"
    PARTICIPANT_NOT_FOUND = "PARTICIPANT_NOT_FOUND"
    SEASON_NOT_FOUND = "SEASON_NOT_FOUND"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    FEATURE_DISABLED = "FEATURE_DISABLED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class FeatureDisabledError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Leaderboards are switched off for now; try again later."


class ServiceUnavailableError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request needs is unreachable; try again shortly."


class ValidationFailedError(exceptions.APIException):
    """400 with `errors` {field: [messages]}."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors))
        super().__init__(f"Invalid {first}: {errors[first][0]}")
        self.errors = errors


def error_body(code: ErrorCode, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error_code": code.value, "detail": detail, **extra}


_DOMAIN_ERRORS: dict[type[LeaderboardError], tuple[int, ErrorCode]] = {
    TournamentNotFoundError: (404, ErrorCode.TOURNAMENT_NOT_FOUND),
    ParticipantNotFoundError: (404, ErrorCode.PARTICIPANT_NOT_FOUND),
    SeasonNotFoundError: (404, ErrorCode.SEASON_NOT_FOUND),
    PageNotFoundError: (404, ErrorCode.NOT_FOUND),
}


_CODE_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def _flatten_validation(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(field): [
                str(message) for message in (value if isinstance(value, list) else [value])
            ]
            for field, value in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(message) for message in messages]}


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every exception a view can raise to the envelope. Unknown ones: logged, 500."""
    request = context.get("request")
    if isinstance(exc, InvalidParameterError):
        errors = {exc.field: [exc.detail]}
        return Response(error_body(ErrorCode.VALIDATION_ERROR, exc.detail, errors=errors), 400)
    for error_type, (status_code, code) in _DOMAIN_ERRORS.items():
        if isinstance(exc, error_type):
            return Response(error_body(code, exc.detail), status_code)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        # A body that is not JSON is a bad body (contract: 400), whatever its Content-Type.
        detail = "The request body must be JSON, sent with Content-Type: application/json."
        return Response(
            error_body(ErrorCode.VALIDATION_ERROR, detail, errors={"body": [detail]}), 400
        )
    if isinstance(exc, ValidationFailedError):
        return Response(
            error_body(ErrorCode.VALIDATION_ERROR, str(exc.detail), errors=exc.errors), 400
        )
    if isinstance(exc, FeatureDisabledError):
        body = error_body(
            ErrorCode.FEATURE_DISABLED,
            str(exc.detail),
            retry_after_seconds=FEATURE_DISABLED_RETRY_SECONDS,
        )
        return _with_headers(Response(body, 503), {"Retry-After": "300"})
    if isinstance(exc, ServiceUnavailableError | RedisUnavailableError):
        detail = str(getattr(exc, "detail", exc)) or ServiceUnavailableError.default_detail
        return Response(error_body(ErrorCode.SERVICE_UNAVAILABLE, detail), 503)
    if isinstance(exc, OperationalError | InterfaceError):
        # Connectivity only; other database errors are bugs and fall through to a logged 500.
        log.error("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
        body = error_body(ErrorCode.SERVICE_UNAVAILABLE, "The database is unreachable.")
        return Response(body, 503)
    if isinstance(exc, Http404):
        return Response(error_body(ErrorCode.NOT_FOUND, "Not found."), 404)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.Throttled):
        from apps.common.api.throttles import rate_limit_headers, retry_after_seconds

        wait = retry_after_seconds(request) if exc.wait is None else math.ceil(exc.wait)
        body = error_body(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            f"Rate limit exceeded; retry in {wait} seconds.",
            retry_after_seconds=wait,
        )
        headers = {"Retry-After": str(wait), **rate_limit_headers(request)}
        return _with_headers(Response(body, 429), headers)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = Response(error_body(ErrorCode.NOT_AUTHENTICATED, str(exc.detail)), 401)
        view = context.get("view")
        header = view.get_authenticate_header(request) if view and request else None
        if header:
            response["WWW-Authenticate"] = header
        return response
    if isinstance(exc, exceptions.PermissionDenied):
        return Response(error_body(ErrorCode.PERMISSION_DENIED, str(exc.detail)), 403)
    if isinstance(exc, exceptions.NotFound):
        return Response(error_body(ErrorCode.NOT_FOUND, str(exc.detail)), 404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(error_body(ErrorCode.METHOD_NOT_ALLOWED, str(exc.detail)), 405)
    if isinstance(exc, exceptions.NotAcceptable):
        return Response(error_body(ErrorCode.NOT_ACCEPTABLE, str(exc.detail)), 406)
    if isinstance(exc, exceptions.ValidationError | exceptions.ParseError):
        errors = _flatten_validation(exc.detail)
        first_field = next(iter(errors))
        detail = f"Invalid {first_field}: {errors[first_field][0]}"
        return Response(error_body(ErrorCode.VALIDATION_ERROR, detail, errors=errors), 400)
    if isinstance(exc, exceptions.APIException):
        # Any other DRF exception: name its code by its status, never by guesswork.
        code = _CODE_BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
        return Response(error_body(code, str(exc.detail)), exc.status_code)
    log.exception("unhandled_api_error", error=type(exc).__name__)
    return Response(error_body(ErrorCode.INTERNAL_ERROR, "An unexpected error occurred."), 500)


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    detail = "No such path."
    path = request.path_info
    if not path.endswith("/"):
        try:
            resolve(path + "/")
        except Resolver404:
            pass
        else:
            # API paths are not redirected to their slashed form (ApiCommonMiddleware): say it.
            detail = f"No such path; the API's paths end with a slash: {path}/"
    return JsonResponse(error_body(ErrorCode.NOT_FOUND, detail), status=404)


def handler500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(ErrorCode.INTERNAL_ERROR, "An unexpected error occurred."), status=500
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(ErrorCode.VALIDATION_ERROR, "Bad request."), status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(ErrorCode.PERMISSION_DENIED, "Forbidden."), status=403)
