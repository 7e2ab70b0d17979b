"""Operations endpoints: liveness, readiness, Prometheus exposition. Outside DRF on purpose:
no authentication, no rate limit, no request metrics (apps.common.middleware counts API views
only). Errors use the envelope of apps.common.api.errors; GET and HEAD only."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from apps.common.api.errors import ErrorCode, error_body
from apps.common.redis_gateway import is_embedded, is_redis_reachable

OperationsView = Callable[[HttpRequest], HttpResponse]


def _get_only(view: OperationsView) -> OperationsView:
    """405 METHOD_NOT_ALLOWED in the error envelope, with `Allow`, for anything but GET/HEAD.
    Exempt from the CSRF check, which would otherwise answer a POST with Django's HTML page
    before this view could refuse it (these views change nothing and read no cookie)."""

    @csrf_exempt
    @wraps(view)
    def guarded(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            body = error_body(ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed; use GET.")
            response = JsonResponse(body, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)

    return guarded


@_get_only
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except DatabaseError:
        return False


@_get_only
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_reachable()}
    if not is_embedded():  # a configured Redis; the embedded one lives in this process
        checks["redis"] = is_redis_reachable()
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        body = error_body(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"Not ready: {', '.join(failed)} unreachable.",
            checks=checks,
            failed=failed,
        )
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ready", "checks": checks})


@_get_only
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_BEARER_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = JsonResponse(
                error_body(ErrorCode.NOT_AUTHENTICATED, "A bearer token is required."), status=401
            )
            response["WWW-Authenticate"] = "Bearer"
            return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        output = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        output = generate_latest(REGISTRY)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)
