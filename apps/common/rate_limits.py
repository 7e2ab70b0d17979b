"""Per-user rate limits over a rolling window, atomic across workers and hosts.

DRF's stock throttles read-modify-write a history list in the cache, so concurrent requests slip
past the limit, and read their rates at import time. Here a sorted set of request timestamps per
(endpoint, user) lives in Redis and one Lua script decides (trim the window, count, admit or
refuse, report the oldest entry), so the count is exact under any concurrency. Rates are read from
settings on every request. With Redis down, requests are allowed and the failure counted.

A count is a `RateLimitCount`: `queue` puts its script on a pipeline, `result` reads its reply.
`rate_limit` sends it alone; the board read sends it with the page read in one round trip
(`apps.tournaments.services.board_cache.store.count_and_read_page`).
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from redis.exceptions import NoScriptError

from apps.common.metrics import RedisOperation
from apps.common.redis_gateway import safe_redis_call

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


def configured_limit(budget: str) -> int:
    """Requests per hour of a budget ("public", "admin", "invalidate"), read on every request."""
    return int(settings.LEADERBOARD_RATE_LIMITS[budget])


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    admitted: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the oldest counted request leaves the window
    retry_after: int  # seconds until a request will be admitted (0 when admitted)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


@dataclass(frozen=True, slots=True)
class RateLimitCount:
    """One request counted against `limit` requests per window under `key`."""

    key: str
    limit: int
    now: float
    member: str

    @classmethod
    def of(cls, endpoint: str, user_id: int, budget: str) -> RateLimitCount:
        now = time.time()
        return cls(
            key=f"{KEY_PREFIX}{endpoint}:{user_id}",
            limit=configured_limit(budget),
            now=now,
            member=f"{now:.6f}:{uuid.uuid4().hex}",
        )

    def _arguments(self) -> tuple[Any, ...]:
        return (
            _SLIDING_WINDOW_SHA,
            1,
            self.key,
            f"{self.now:.6f}",
            WINDOW_SECONDS,
            self.limit,
            self.member,
        )

    def queue(self, pipe: redis.client.Pipeline) -> None:
        """EVALSHA in a plain pipeline: redis-py's Script objects would add a SCRIPT EXISTS
        round trip to every pipelined execute."""
        pipe.evalsha(*self._arguments())

    def result(self, client: redis.Redis, reply: Any) -> RateLimitResult:
        """The decision from the script's reply. A NOSCRIPT reply (Redis restarted or flushed its
        scripts) changed nothing, so the script is loaded and run once more."""
        if isinstance(reply, NoScriptError):
            client.script_load(_SLIDING_WINDOW_LUA)
            reply = client.evalsha(*self._arguments())
        if isinstance(reply, Exception):
            raise reply
        admitted, count, oldest = reply
        reset_at = math.ceil(float(oldest) + WINDOW_SECONDS)
        retry_after = (
            0 if admitted else max(1, math.ceil(float(oldest) + WINDOW_SECONDS - self.now))
        )
        remaining = max(0, self.limit - int(count))
        return RateLimitResult(bool(admitted), self.limit, remaining, reset_at, retry_after)


def rate_limit(count: RateLimitCount) -> RateLimitResult | None:
    """Count one request; None when Redis is failing (the request is allowed: fail open)."""

    def call(client: redis.Redis) -> RateLimitResult:
        pipe = client.pipeline(transaction=False)
        count.queue(pipe)
        return count.result(client, pipe.execute(raise_on_error=False)[0])

    return safe_redis_call(RedisOperation.THROTTLE, call, None)
