"""Shared fixtures: the Redis the tests use, isolation between tests, flags.

The suite never touches the Redis of `REDIS_URL`: whatever is exported there (a developer's own
database) is ignored. It runs on `TEST_REDIS_URL` when that is set (CI's PostgreSQL + Redis run),
else on the embedded Redis (fakeredis, in this process). Tests that need a real server
(`use_redis`) use `TEST_REDIS_URL`, else redis://127.0.0.1:6379/15; they are skipped when it does
not answer, unless REQUIRE_REDIS=1 (then they fail). Only that test database is ever flushed,
around every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from apps.common import flags, redis_gateway
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache import invalidation

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def suite_redis_url() -> str:
    """The Redis the whole suite runs on: TEST_REDIS_URL, or "" (the embedded one)."""
    return os.environ.get("TEST_REDIS_URL", "").strip()


def real_test_redis_url() -> str:
    return suite_redis_url() or DEFAULT_TEST_REDIS_URL


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    settings.REDIS_URL = suite_redis_url()
    # Tests log in with passwords (the admin, its login throttle): a deliberately slow hash
    # would cost seconds per test and prove nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _flush_test_redis(url: str) -> None:
    """FLUSHDB on a test database, which the suite owns; never on anything else."""
    assert url in (suite_redis_url(), DEFAULT_TEST_REDIS_URL), f"refusing to flush {url}"
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def _reset_process_state() -> None:
    redis_gateway.reset_for_tests()  # a new embedded Redis, closed breakers
    invalidation.reset_for_tests()
    cache_stats.accumulator.reset()
    flags.forget_local_rows()


@pytest.fixture(autouse=True)
def _isolated_caches(settings) -> Iterator[None]:
    """Every test starts on the suite's Redis, emptied, with a closed breaker and no state of
    earlier tests in this process."""
    settings.REDIS_URL = suite_redis_url()
    _reset_process_state()
    if settings.REDIS_URL:
        _flush_test_redis(settings.REDIS_URL)
    yield
    _reset_process_state()


@pytest.fixture
def redis_url() -> str:
    """The URL of a live test Redis for tests that need a real server (skip or fail without)."""
    url = real_test_redis_url()
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
    """Point the service at the live test Redis (flushed before and after); yield a raw client."""
    settings.REDIS_URL = redis_url
    _reset_process_state()
    _flush_test_redis(redis_url)
    client = redis.Redis.from_url(redis_url)
    yield client
    _flush_test_redis(redis_url)
    client.close()
    _reset_process_state()


@pytest.fixture
def embedded_redis(settings) -> redis.Redis:
    """Run on the embedded Redis, whatever the suite runs on; returns its client."""
    settings.REDIS_URL = ""
    _reset_process_state()
    return redis_gateway.redis_client()


@pytest.fixture
def flags_on(db) -> None:
    """All three leaderboard flags on in the database, at 100 %."""
    from apps.common.models import FeatureFlag, FlagName

    for name in FlagName:
        FeatureFlag.objects.update_or_create(
            name=name.value, defaults={"is_enabled": True, "rollout_percent": 100}
        )
    flags.forget_local_rows()
