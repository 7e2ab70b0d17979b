"""Request middleware: a request id and log context for every request, request metrics for the API.

Order in settings.MIDDLEWARE: `RequestContextMiddleware` first (its context covers every log
line of the request, other middleware included), `RequestMetricsMiddleware` right after.

Both run on every request, the cached board's included, so they do a fixed, small amount of work:
no header parsing beyond one META lookup, no database access (an unevaluated session user is
never evaluated), metric children looked up once per label set.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponseBase
from django.middleware.common import CommonMiddleware
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.functional import LazyObject
from prometheus_client.metrics import Counter, Histogram
from structlog.contextvars import bind_contextvars, clear_contextvars

# Imported here so that every process creates the known series when Django loads its middleware
# (gunicorn workers do so at boot): all seven metrics exist from the first scrape.
from apps.common import metrics

log = structlog.get_logger("apps.request")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META_KEY = "HTTP_X_REQUEST_ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Paths are logged without their query string, and cut short: an unknown path can be any length.
MAX_LOGGED_PATH_LENGTH = 256
MAX_LOGGED_METHOD_LENGTH = 16

Handler = Callable[[HttpRequest], HttpResponseBase]


def request_id_from(header_value: str | None) -> str:
    """The incoming `X-Request-ID` when it is 1-64 letters, digits, `-`, `_` or `.`;
    otherwise a new UUID4."""
    if header_value and _VALID_REQUEST_ID.fullmatch(header_value):
        return header_value
    return str(uuid.uuid4())


def authenticated_user_id(request: HttpRequest) -> int | None:
    """The id of the user the request was answered for, read after the view ran.

    DRF authenticates inside the view and sets the user on the Django request too, so it is
    found here; a session user the view never looked at stays unevaluated (no query for it).
    """
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user._wrapped  # `empty` until evaluated; never evaluated here
    if getattr(user, "is_authenticated", False) is True:
        return user.pk
    return None


class RequestContextMiddleware:
    """Binds `request_id`, `method` and `path` to every log line of the request, echoes the id
    in `X-Request-ID`, and logs one `request_finished` line with `status`, `duration_ms` and
    `user_id`. The context is cleared at the start and the end of each request."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        # Bound once (Django configured logging before it loads middleware): a lazy logger
        # would assemble itself again on every request.
        self.log = log.bind()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        clear_contextvars()
        request_id = request_id_from(request.META.get(_REQUEST_ID_META_KEY))
        bind_contextvars(
            request_id=request_id,
            method=request.method[:MAX_LOGGED_METHOD_LENGTH] if request.method else "",
            path=request.path[:MAX_LOGGED_PATH_LENGTH],
        )
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            # This line is the response's log record: Django would log a 4xx/5xx response again
            # after the middleware chain, outside the request's context (no request_id).
            response._has_been_logged = True  # type: ignore[attr-defined]
            status = response.status_code
            (self.log.error if status >= 500 else self.log.info)(
                "request_finished",
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                user_id=authenticated_user_id(request),
            )
            return response
        finally:
            clear_contextvars()


def endpoint_name_of(view: Any) -> str:
    """The `endpoint_name` of the API view class behind a resolved view function, or ""."""
    return getattr(getattr(view, "view_class", None), "endpoint_name", "") or ""


def routed_endpoint_names() -> set[str]:
    """The endpoint names of every API view in the URLconf."""
    names: set[str] = set()
    pending: list[URLPattern | URLResolver] = list(get_resolver().url_patterns)
    while pending:
        entry = pending.pop()
        if isinstance(entry, URLResolver):
            pending.extend(entry.url_patterns)
        elif name := endpoint_name_of(entry.callback):
            names.add(name)
    return names


class RequestMetricsMiddleware:
    """Counts `leaderboard_requests_total{endpoint, status_code}` and observes
    `leaderboard_api_latency_seconds{endpoint}` for requests resolved to an API view with an
    `endpoint_name`; nothing for operations endpoints, the schema, the admin or unknown paths.
    The labels are the endpoint's name and the status code: never an id from the path."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self._requests: dict[tuple[str, int], Counter] = {}
        self._latency: dict[str, Histogram] = {}
        metrics.create_endpoint_series(routed_endpoint_names())

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        if match is not None:
            endpoint = endpoint_name_of(match.func)
            if endpoint:
                self._record(endpoint, response.status_code, time.perf_counter() - started)
        return response

    def _record(self, endpoint: str, status_code: int, seconds: float) -> None:
        counter = self._requests.get((endpoint, status_code))
        if counter is None:
            counter = metrics.REQUESTS.labels(endpoint=endpoint, status_code=str(status_code))
            self._requests[(endpoint, status_code)] = counter
        counter.inc()
        histogram = self._latency.get(endpoint)
        if histogram is None:
            histogram = self._latency[endpoint] = metrics.API_LATENCY.labels(endpoint=endpoint)
        histogram.observe(seconds)


class ApiCommonMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, minus the APPEND_SLASH redirect for paths under /api/.

    That redirect answers a 301 with an HTML body, and clients follow a 301 on a POST with a
    GET; an API client is better served by the API's JSON 404, whose detail names the slashed
    path (`errors.handler404`). The admin keeps the redirect.
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if request.path_info.startswith("/api/"):
            return False
        return super().should_redirect_with_slash(request)
