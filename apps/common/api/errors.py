"""One error envelope for every failure: `{"error_code": ..., "detail": ..., ...extra}`.

`exception_handler` is DRF's EXCEPTION_HANDLER: a `ServiceError` answers with its own status,
code and extras; DRF's exceptions with their status and the code of that status; a lost database
connection with 503. `handler404` / `handler500` cover what never reaches a DRF view (unknown
paths, errors in middleware). Nothing a client sends gives a 500.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions
from rest_framework.response import Response

from apps.common.errors import (
    ErrorCode,
    PayloadTooLargeError,
    ServiceError,
    ServiceUnavailableError,
)

log = structlog.get_logger(__name__)

CODE_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}
NOT_JSON = "The request body must be JSON, sent with Content-Type: application/json."


def error_body(code: ErrorCode, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error_code": code.value, "detail": detail, **extra}


def field_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's validation detail as {field: [messages]}."""
    if isinstance(detail, dict):
        return {
            str(field): [
                str(message) for message in (value if isinstance(value, list) else [value])
            ]
            for field, value in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(message) for message in messages]}


def _as_service_error(exc: Exception) -> ServiceError | exceptions.APIException | None:
    """Django's and the database's exceptions as the API exceptions they stand for."""
    if isinstance(exc, ServiceError | exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound("Not found.")
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLargeError(settings.API_MAX_BODY_BYTES)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, OperationalError | InterfaceError):
        # Connectivity only; other database errors are bugs and end in a logged 500.
        log.error("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
        return ServiceUnavailableError("The database is unreachable.")
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The envelope for every exception a view can raise. Unknown ones: logged, 500."""
    error = _as_service_error(exc)
    if isinstance(error, exceptions.UnsupportedMediaType):
        error = exceptions.ValidationError({"body": [NOT_JSON]})
    if isinstance(error, ServiceError):
        return Response(error.body(), error.status_code, headers=error.headers)
    if isinstance(error, exceptions.ValidationError | exceptions.ParseError):
        errors = field_errors(error.detail)
        first = next(iter(errors))
        detail = f"Invalid {first}: {errors[first][0]}"
        return Response(error_body(ErrorCode.VALIDATION_ERROR, detail, errors=errors), 400)
    if isinstance(error, exceptions.APIException):
        code = CODE_BY_STATUS.get(error.status_code, ErrorCode.INTERNAL_ERROR)
        response = Response(error_body(code, str(error.detail)), error.status_code)
        if error.status_code == 401:
            view = context.get("view")
            request = context.get("request")
            header = view.get_authenticate_header(request) if view and request else None
            if header:
                response["WWW-Authenticate"] = header
        return response
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


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF_FAILURE_VIEW: a form POST without a valid CSRF token (the admin's forms; the API's
    views check CSRF themselves for session callers) is a 403 in the envelope, not an HTML page."""
    detail = f"CSRF verification failed: {reason}" if reason else "CSRF verification failed."
    return JsonResponse(error_body(ErrorCode.PERMISSION_DENIED, detail), status=403)
