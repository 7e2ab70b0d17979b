"""Shared fixtures: isolation of caches between tests, real Redis, flags.

Redis tests run against the real server. `REDIS_URL` (or `TEST_REDIS_URL`) names it; without one
they use redis://127.0.0.1:6379/15. When that server does not answer, Redis tests are skipped,
unless REQUIRE_REDIS=1 (CI's PostgreSQL + Redis run), where they fail instead.
The Redis database the tests use is flushed around every test that touches it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from apps.common import flags, redis_gateway
from apps.common.api import throttles
from apps.tournaments.services import board_cache, cache_stats

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def _test_redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_TEST_REDIS_URL


def _flush(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _isolated_caches(settings) -> Iterator[None]:
    """Every test starts with empty in-process stores, a closed breaker and, with Redis, a
    flushed database."""
    redis_gateway.reset_for_tests()
    board_cache.local_store().clear()
    cache_stats.accumulator.reset()
    throttles.local_windows.clear()
    flags.forget_local_rows()
    if settings.REDIS_URL:
        _flush(settings.REDIS_URL)
    yield
    redis_gateway.reset_for_tests()
    board_cache.local_store().clear()
    flags.forget_local_rows()


@pytest.fixture
def redis_url() -> str:
    """The URL of a live Redis for tests that need one (skip or fail when there is none)."""
    url = _test_redis_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
        client.ping()
        client.close()
    except redis.RedisError as error:
        message = f"Redis at {url} is not reachable: {error}"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def use_redis(settings, redis_url: str) -> Iterator[redis.Redis]:
    """Point the service at the live Redis (flushed before and after); yield a raw client."""
    settings.REDIS_URL = redis_url
    redis_gateway.reset_for_tests()
    flags.forget_local_rows()
    cache_stats.accumulator.reset()
    _flush(redis_url)
    client = redis.Redis.from_url(redis_url)
    yield client
    _flush(redis_url)
    client.close()
    redis_gateway.reset_for_tests()


@pytest.fixture
def no_redis(settings) -> None:
    """Run on the in-process store, whatever the environment says."""
    settings.REDIS_URL = ""
    redis_gateway.reset_for_tests()
    flags.forget_local_rows()


@pytest.fixture
def flags_on(db) -> None:
    """All three leaderboard flags on in the database, at 100 %."""
    from apps.common.models import FeatureFlag, FlagName

    for name in FlagName:
        FeatureFlag.objects.update_or_create(
            name=name.value, defaults={"is_enabled": True, "rollout_percent": 100}
        )
    flags.forget_local_rows()
