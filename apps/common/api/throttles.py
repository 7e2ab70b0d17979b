"""Per-user rate limits over a rolling window, atomic across workers and hosts.

DRF's stock throttles read-modify-write a history list in the cache, so concurrent requests slip
past the limit, and read their rates at import time. This one keeps a sorted set of request
timestamps per (endpoint, user) in Redis and decides in one Lua script (trim the window, count,
admit or refuse, and report the oldest entry), so the count is exact under any concurrency.
Rates are read from settings on every request. Without Redis (the embedded default) the same
algorithm runs in this process; with Redis down, requests are allowed and the failure counted.

A view may hand the throttle a `PipelineRider` (`cache_rider(request)`): its commands go out in
the same pipeline as the script, so a cached board costs one Redis round trip, not two.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import NoScriptError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.common.redis_gateway import PipelineRider, redis_client, safe_redis_call

WINDOW_SECONDS = 3600
KEY_PREFIX = "rl:v1:"

# KEYS[1] the window; ARGV: now (float seconds), window, limit, unique member.
# Returns {admitted 0/1, count after, oldest score as string}.
_SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local admitted = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  count = count + 1
  admitted = 1
end
redis.call('EXPIRE', KEYS[1], window + 1)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local oldest_score = now
if oldest[2] then oldest_score = tonumber(oldest[2]) end
return {admitted, count, tostring(oldest_score)}
"""
# Redis names a script by its SHA-1 (an identifier here, not a security measure).
_SLIDING_WINDOW_SHA = hashlib.sha1(_SLIDING_WINDOW_LUA.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    admitted: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the oldest counted request leaves the window
    retry_after: int  # seconds until a request will be admitted (0 when admitted)


def _result(admitted: bool, limit: int, count: int, oldest: float, now: float) -> RateLimitResult:
    reset_at = math.ceil(oldest + WINDOW_SECONDS)
    retry_after = 0 if admitted else max(1, math.ceil(oldest + WINDOW_SECONDS - now))
    return RateLimitResult(admitted, limit, max(0, limit - count), reset_at, retry_after)


class _LocalWindows:
    """The in-process fallback (one process only): a deque of timestamps per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()

    def hit(self, key: str, limit: int, now: float) -> RateLimitResult:
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            admitted = len(window) < limit
            if admitted:
                window.append(now)
            oldest = window[0] if window else now
            return _result(admitted, limit, len(window), oldest, now)


local_windows = _LocalWindows()


def rate_limit(
    key: str, limit: int, riders: Sequence[PipelineRider] = ()
) -> RateLimitResult | None:
    """Count one request against `key`; None when Redis is configured but failing (fail open).

    The riders' commands share the script's round trip; without Redis they are not run.
    """
    now = time.time()
    if redis_client() is None:
        return local_windows.hit(key, limit, now)
    member = f"{now:.6f}:{uuid.uuid4().hex}"
    script_args = (f"{now:.6f}", WINDOW_SECONDS, limit, member)

    def call(client: Any) -> RateLimitResult:
        # EVALSHA inside a plain pipeline: redis-py's Script objects would add a SCRIPT EXISTS
        # round trip to every pipelined execute. A NOSCRIPT reply (Redis restarted or flushed
        # its scripts) changed nothing, so loading the script and running it again is safe.
        pipe = client.pipeline(transaction=False)
        pipe.evalsha(_SLIDING_WINDOW_SHA, 1, key, *script_args)
        counts = [rider.queue(pipe) for rider in riders]
        replies = pipe.execute(raise_on_error=False)
        script_reply = replies[0]
        if isinstance(script_reply, NoScriptError):
            client.script_load(_SLIDING_WINDOW_LUA)
            script_reply = client.evalsha(_SLIDING_WINDOW_SHA, 1, key, *script_args)
        for reply in replies:
            if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
                raise reply
        admitted, count, oldest = script_reply
        start = 1
        for rider, queued in zip(riders, counts, strict=True):
            rider.finish(client, replies[start : start + queued])
            start += queued
        return _result(bool(admitted), limit, int(count), float(oldest), now)

    return safe_redis_call("throttle", call, None)


def configured_limit(scope: str) -> int:
    """Requests per hour for a scope, read from settings on every request."""
    return int(settings.LEADERBOARD_RATE_LIMITS[scope])


class EndpointRateThrottle(BaseThrottle):
    """Each endpoint has its own budget per user. The view names the budget (`rate_scope`,
    e.g. "public") and the endpoint (`endpoint_name`)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        user_id = getattr(request.user, "pk", None)
        if user_id is None:
            return True  # authentication already refused anonymous callers
        limit = configured_limit(view.rate_scope)
        rider = view.cache_rider(request) if hasattr(view, "cache_rider") else None
        riders = [rider] if rider is not None else []
        result = rate_limit(f"{KEY_PREFIX}{view.endpoint_name}:{user_id}", limit, riders)
        request._rate_limit = result  # read by the response headers and the 429 handler
        return result is None or result.admitted

    def wait(self) -> float | None:
        return None  # the 429 handler reads the exact figure from the request


def rate_limit_headers(request: Any) -> dict[str, str]:
    result: RateLimitResult | None = getattr(request, "_rate_limit", None)
    if result is None:
        return {}
    return {
        "X-RateLimit-Limit": str(result.limit),
        "X-RateLimit-Remaining": str(result.remaining),
        "X-RateLimit-Reset": str(result.reset_at),
    }


def retry_after_seconds(request: Any) -> int:
    result: RateLimitResult | None = getattr(request, "_rate_limit", None)
    return result.retry_after if result is not None else 1
