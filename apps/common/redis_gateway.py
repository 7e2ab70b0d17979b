"""The one way the service talks to Redis: one client per process, short timeouts, a circuit
breaker, errors counted.

`REDIS_URL` set: a redis-py client for that server. Unset (the embedded default of `make run`
and the test suite): a fakeredis client with Lua (lupa), an in-process Redis that runs the same
commands and scripts, so the board cache, the rate limits and the cache totals run the same code
with or without a Redis server. The embedded Redis is shared by the threads of one process and
dies with it: one process only, as the contract says of REDIS_URL unset.

Redis is an accelerator, never a dependency of a read: every call goes through `safe_redis_call`,
which returns the caller's default when Redis fails, hangs past the socket timeout, or has failed
repeatedly (the breaker is open, so a dead Redis costs microseconds, not a timeout, per call).
Operations that need Redis (the invalidate endpoint) use `require_redis`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import fakeredis
import pybreaker
import redis
import structlog
from django.conf import settings

from apps.common.errors import ServiceUnavailableError
from apps.common.metrics import CACHE_ERRORS, RedisOperation

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Three consecutive failures open the breaker for five seconds; then one trial call decides.
BREAKER_FAIL_MAX = 3
BREAKER_RESET_SECONDS = 5
EMBEDDED = "embedded"

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}
_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_failures = 0  # Redis calls of this process that failed or were skipped, ever


def failure_count() -> int:
    """How many Redis calls of this process have failed (or were skipped by the open breaker)
    so far: a process that saw one may have missed an invalidation."""
    return _failures


def _count_failure(operation: RedisOperation) -> None:
    global _failures
    with _lock:
        _failures += 1
    CACHE_ERRORS.labels(operation=operation.value).inc()


class RedisUnavailableError(ServiceUnavailableError):
    """Redis is needed for this operation and cannot be reached (503 SERVICE_UNAVAILABLE)."""


def redis_url() -> str:
    """The configured REDIS_URL, or "embedded" when there is none."""
    return str(getattr(settings, "REDIS_URL", "") or "") or EMBEDDED


def is_embedded() -> bool:
    return redis_url() == EMBEDDED


def _new_client(url: str) -> redis.Redis:
    if url == EMBEDDED:
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def redis_client() -> redis.Redis:
    """This process's client for the configured Redis (the embedded one without REDIS_URL)."""
    url = redis_url()
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = _clients[url] = _new_client(url)
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
    """Forget clients (the embedded Redis with them) and breaker state: tests switch REDIS_URL
    between a real server, a closed port and a listener that never answers."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
        _breakers.clear()


def safe_redis_call(operation: RedisOperation, call: Callable[[redis.Redis], T], default: T) -> T:
    """Run `call(client)`; on any Redis failure count it, log it, and return `default`."""
    try:
        return breaker().call(call, redis_client())
    except pybreaker.CircuitBreakerError:
        _count_failure(operation)
        return default
    except redis.RedisError as error:
        _count_failure(operation)
        log.warning("redis_call_failed", operation=operation.value, error=type(error).__name__)
        return default


def require_redis(operation: RedisOperation, call: Callable[[redis.Redis], T]) -> T:
    """Run `call(client)` where Redis is needed; raise RedisUnavailableError when it fails."""
    try:
        return breaker().call(call, redis_client())
    except (pybreaker.CircuitBreakerError, redis.RedisError) as error:
        _count_failure(operation)
        log.warning("redis_call_failed", operation=operation.value, error=type(error).__name__)
        raise RedisUnavailableError("Redis is unreachable.") from error


def probe() -> bool:
    """A PING past the breaker, for the housekeeping thread: a failure is counted (so an idle
    process learns of an outage too); a success closes an open breaker, so the process uses
    Redis again as soon as it answers rather than at the breaker's next trial call."""
    try:
        client = redis_client()
        client.ping()
    except redis.RedisError as error:
        _count_failure(RedisOperation.PING)
        log.warning("redis_call_failed", operation="ping", error=type(error).__name__)
        return False
    if breaker().current_state != pybreaker.STATE_CLOSED:
        breaker().close()
    return True


def is_redis_reachable() -> bool:
    """A direct PING that bypasses the breaker (for readiness and cache status)."""
    try:
        return bool(redis_client().ping())
    except redis.RedisError:
        return False
