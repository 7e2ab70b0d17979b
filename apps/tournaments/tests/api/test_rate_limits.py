"""Rate limits under concurrency: exact counts across threads (and so across workers)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.common.rate_limits import RateLimitCount, rate_limit
from apps.tournaments.tests.factories import UserFactory
from apps.tournaments.tests.scenarios import build_round_robin


def _token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _hammer(url: str, user, total: int, threads: int) -> list:
    """`total` GETs from `threads` threads, all released at once. Clients (and the token row)
    are made up front in this thread: a worker never writes to the database."""
    responses: list = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads, timeout=30)
    clients = [_token_client(user) for _ in range(threads)]

    def worker(client: APIClient, count: int) -> None:
        barrier.wait()
        for _ in range(count):
            response = client.get(url)
            with lock:
                responses.append(response)
        connection.close()

    per_thread = total // threads
    pool = [threading.Thread(target=worker, args=(client, per_thread)) for client in clients]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return responses


@pytest.mark.django_db(transaction=True)
def test_150_requests_from_10_threads_give_exactly_100_successes(use_redis, flags_on):
    tournament = build_round_robin(3)
    player, other = UserFactory(username="hammer"), UserFactory(username="bystander")
    url = f"/api/tournaments/{tournament.pk}/leaderboard/"

    responses = _hammer(url, player, total=150, threads=10)

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 100, 429: 50}
    for response in responses:
        assert response["X-RateLimit-Limit"] == "100"
        if response.status_code == 429:
            assert response["X-RateLimit-Remaining"] == "0"
            assert int(response["Retry-After"]) > 0
            assert response.json()["error_code"] == "RATE_LIMIT_EXCEEDED"
    remaining = sorted(
        int(response["X-RateLimit-Remaining"])
        for response in responses
        if response.status_code == 200
    )
    assert remaining == list(range(100))  # every admitted request saw a distinct count
    assert _token_client(other).get(url).status_code == 200


def test_sliding_window_is_atomic_in_redis(use_redis, settings):
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "public": 100}
    admitted = Counter()
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(30):
            result = rate_limit(RateLimitCount.of("test", 1, "public"))
            with lock:
                admitted[result.admitted] += 1

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert admitted == {True: 100, False: 200}


@pytest.mark.django_db
def test_redis_down_allows_public_reads_and_counts_the_failure(settings, flags_on):
    from apps.common import metrics, redis_gateway

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_gateway.reset_for_tests()
    tournament = build_round_robin(2)
    client = _token_client(UserFactory(username="during-outage"))
    before = metrics.CACHE_ERRORS.labels(operation="throttle")._value.get()

    statuses = [
        client.get(f"/api/tournaments/{tournament.pk}/leaderboard/").status_code for _ in range(3)
    ]

    assert statuses == [200, 200, 200]
    assert metrics.CACHE_ERRORS.labels(operation="throttle")._value.get() == before + 3
