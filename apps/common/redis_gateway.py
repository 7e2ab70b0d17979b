"""The one way the service talks to Redis: short timeouts, a circuit breaker, errors counted.

Redis is an accelerator, never a dependency of a read: every call goes through `safe_redis_call`,
which returns the caller's default when Redis is not configured, fails, hangs past the socket
timeout, or has failed repeatedly (the breaker is open, so a dead Redis costs microseconds, not a
timeout, per call). Operations that *need* Redis (the invalidate endpoint) use `require_redis`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import pybreaker
import redis
import structlog
from django.conf import settings

from apps.tournaments.utils import metrics

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Three consecutive failures open the breaker for five seconds; then one trial call decides.
BREAKER_FAIL_MAX = 3
BREAKER_RESET_SECONDS = 5

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}
_breakers: dict[str, pybreaker.CircuitBreaker] = {}


class PipelineRider(Protocol):
    """Commands that ride on another call's round trip (the rate limit's, on every request).

    `queue` adds commands to the pipeline; `finish` receives their replies, in order, and may
    use the client for a rare follow-up. Errors in either count as the host call's failure.
    """

    def queue(self, pipe: redis.client.Pipeline) -> int:  # how many commands it queued
        ...

    def finish(self, client: redis.Redis, replies: list[Any]) -> None: ...


class RedisUnavailableError(Exception):
    """Redis is needed for this operation and cannot be reached (mapped to 503)."""


def redis_url() -> str:
    return str(getattr(settings, "REDIS_URL", "") or "")


def redis_client() -> redis.Redis | None:
    """The shared client for the configured REDIS_URL, or None when the service runs without."""
    url = redis_url()
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    socket_connect_timeout=settings.REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS,
                    socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
                    health_check_interval=30,
                )
                _clients[url] = client
    return client


def breaker() -> pybreaker.CircuitBreaker:
    url = redis_url()
    found = _breakers.get(url)
    if found is None:
        with _lock:
            found = _breakers.setdefault(
                url,
                pybreaker.CircuitBreaker(
                    fail_max=BREAKER_FAIL_MAX, reset_timeout=BREAKER_RESET_SECONDS
                ),
            )
    return found


def reset_for_tests() -> None:
    """Forget clients and breaker state (tests switch REDIS_URL between real, closed, hanging)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
        _breakers.clear()


def safe_redis_call(operation: str, call: Callable[[redis.Redis], T], default: T) -> T:
    """Run `call(client)`; on any Redis failure count it, log it, and return `default`."""
    client = redis_client()
    if client is None:
        return default
    try:
        return breaker().call(call, client)
    except pybreaker.CircuitBreakerError:
        metrics.CACHE_ERRORS.labels(operation=operation).inc()
        return default
    except redis.RedisError as error:
        metrics.CACHE_ERRORS.labels(operation=operation).inc()
        log.warning("redis_call_failed", operation=operation, error=type(error).__name__)
        return default


def require_redis(operation: str, call: Callable[[redis.Redis], T]) -> T:
    """Run `call(client)` where Redis is needed; raise RedisUnavailableError when it fails."""
    client = redis_client()
    if client is None:
        raise RedisUnavailableError("Redis is not configured.")
    try:
        return breaker().call(call, client)
    except (pybreaker.CircuitBreakerError, redis.RedisError) as error:
        metrics.CACHE_ERRORS.labels(operation=operation).inc()
        log.warning("redis_call_failed", operation=operation, error=type(error).__name__)
        raise RedisUnavailableError("Redis is unreachable.") from error


def is_redis_reachable() -> bool:
    """A direct PING that bypasses the breaker (for readiness and cache status)."""
    client = redis_client()
    if client is None:
        return False
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
