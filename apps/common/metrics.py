"""Prometheus metrics of contract section 7, as module-level objects (the one registry).

Label values are bounded (no ids). Every label value known in advance is created at zero when a
process starts, so every series is exported from the first scrape, in multiprocess mode too: the
values this module owns (cached, Redis operations, the status codes below) at import, the values
an app owns (board scopes, eviction reasons) by that app's `AppConfig.ready` through
`create_series`, and the endpoints of the URLconf by the metrics middleware.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from prometheus_client import Counter, Histogram


class RedisOperation(StrEnum):
    """The `operation` label of `leaderboard_cache_errors_total`: what a failed Redis call was."""

    GET = "get"
    SET = "set"
    DELETE = "delete"
    LOCK = "lock"
    TTL = "ttl"
    SCAN = "scan"
    THROTTLE = "throttle"
    FLAGS = "flags"
    PING = "ping"


CACHED_VALUES = ("true", "false")
# Created at zero for every routed endpoint: 200 so the request series exist from the first scrape,
# 500 so the 5xx ratio reads 0 rather than "no data" while nothing failed.
KNOWN_STATUS_CODES = ("200", "500")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    "leaderboard_requests_total",
    "API requests answered, by endpoint name and HTTP status code.",
    ["endpoint", "status_code"],
)
CACHE_HITS = Counter(
    "leaderboard_cache_hits_total", "Board reads served from the cache.", ["scope"]
)
CACHE_MISSES = Counter(
    "leaderboard_cache_misses_total", "Board reads that had to compute.", ["scope"]
)
CACHE_EVICTIONS = Counter(
    "leaderboard_cache_evictions_total",
    "Board keys removed by invalidation.",
    ["reason"],
)
CACHE_ERRORS = Counter(
    "leaderboard_cache_errors_total",
    "Redis operations that failed or were skipped by the open circuit breaker.",
    ["operation"],
)
SERVICE_LATENCY = Histogram(
    "leaderboard_service_latency_seconds",
    "Time to produce a board in the service layer.",
    ["scope", "cached"],
    buckets=LATENCY_BUCKETS,
)
API_LATENCY = Histogram(
    "leaderboard_api_latency_seconds",
    "Time to answer an API request.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)


def create_series(*, scopes: Iterable[str], eviction_reasons: Iterable[str]) -> None:
    """Touch the label combinations of the board metrics so they exist at zero."""
    for scope in scopes:
        CACHE_HITS.labels(scope=scope)
        CACHE_MISSES.labels(scope=scope)
        for cached in CACHED_VALUES:
            SERVICE_LATENCY.labels(scope=scope, cached=cached)
    for reason in eviction_reasons:
        CACHE_EVICTIONS.labels(reason=reason)


def create_endpoint_series(endpoint_names: Iterable[str]) -> None:
    """Create the request series of the API endpoints at zero. Called with the endpoint names of
    the URLconf when Django loads its middleware (apps.common.middleware), in every process."""
    for endpoint in endpoint_names:
        API_LATENCY.labels(endpoint=endpoint)
        for status_code in KNOWN_STATUS_CODES:
            REQUESTS.labels(endpoint=endpoint, status_code=status_code)


for _operation in RedisOperation:
    CACHE_ERRORS.labels(operation=_operation.value)
