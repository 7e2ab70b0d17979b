"""DRF's throttle hook for the shared rate limit (`apps.common.rate_limits`).

The view names its budget (`rate_budget`: "public", "admin", "invalidate") and its endpoint
(`endpoint_name`); each endpoint has its own budget per user. The result is kept on the request so
that every response, the 429 included, carries the `X-RateLimit-*` headers (`ApiView`).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.common.rate_limits import RateLimitCount, RateLimitResult, rate_limit

_RESULT_ATTRIBUTE = "rate_limit_result"


def remember_rate_limit(request: Request, result: RateLimitResult | None) -> None:
    setattr(request, _RESULT_ATTRIBUTE, result)


def remembered_rate_limit(request: Request) -> RateLimitResult | None:
    return getattr(request, _RESULT_ATTRIBUTE, None)


class EndpointRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        user_id = getattr(request.user, "pk", None)
        if user_id is None:
            return True  # authentication already refused anonymous callers
        result = rate_limit(RateLimitCount.of(view.endpoint_name, user_id, view.rate_budget))
        remember_rate_limit(request, result)
        return result is None or result.admitted
