"""Prometheus metrics of contract section 7, as module-level objects.

Label values are bounded (no ids). Known label values are created at zero at import, so every
series is exported from the first scrape, in multiprocess mode too.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

SCOPES = ("tournament", "season", "all_time", "history")
CACHED_VALUES = ("true", "false")
EVICTION_REASONS = ("manual", "result_change")
CACHE_OPERATIONS = ("get", "set", "delete", "lock", "ttl", "scan", "throttle", "flags")
# Created at zero for every routed endpoint: 200 so the request series exist from the first scrape,
# 500 so the 5xx ratio reads 0 rather than "no data" while nothing failed.
KNOWN_STATUS_CODES = ("200", "500")

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
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
API_LATENCY = Histogram(
    "leaderboard_api_latency_seconds",
    "Time to answer an API request.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def create_known_series() -> None:
    """Touch every known label combination so it exists at zero."""
    for scope in SCOPES:
        CACHE_HITS.labels(scope=scope)
        CACHE_MISSES.labels(scope=scope)
        for cached in CACHED_VALUES:
            SERVICE_LATENCY.labels(scope=scope, cached=cached)
    for reason in EVICTION_REASONS:
        CACHE_EVICTIONS.labels(reason=reason)
    for operation in CACHE_OPERATIONS:
        CACHE_ERRORS.labels(operation=operation)


def create_endpoint_series(endpoint_names: Iterable[str]) -> None:
    """Create the request series of the API endpoints at zero. Called with the endpoint names of
    the URLconf when Django loads its middleware (apps.common.middleware), in every process."""
    for endpoint in endpoint_names:
        API_LATENCY.labels(endpoint=endpoint)
        for status_code in KNOWN_STATUS_CODES:
            REQUESTS.labels(endpoint=endpoint, status_code=status_code)


create_known_series()
