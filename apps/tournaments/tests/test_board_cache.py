"""The board cache against real Redis and in-process: versions, the miss lock, outages."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from apps.common import redis_gateway
from apps.tournaments.services import board_cache
from apps.tournaments.services.board_cache import (
    BoardRef,
    EvictionReason,
    Scope,
    board_store,
    invalidate_boards,
)
from apps.tournaments.services.documents import PageSpec
from apps.tournaments.services.leaderboard_service import (
    LeaderboardService,
    read_or_compute_document,
)
from apps.tournaments.tests.scenarios import build_solo_cup
from apps.tournaments.utils import metrics

BOARD = BoardRef(Scope.TOURNAMENT, tournament_id=7)
SEASON_BOARD = BoardRef(Scope.SEASON, season="2031-spring", game=None, participant_type="solo")


@pytest.fixture(params=["redis", "local"])
def store(request) -> Iterator[board_cache.BoardStore]:
    """Each store test runs on real Redis and on the in-process store."""
    if request.param == "redis":
        request.getfixturevalue("use_redis")
    else:
        request.getfixturevalue("no_redis")
    yield board_store()


def test_keys_are_namespaced_per_board():
    assert BOARD.key == "lb:v1:tournament:7"
    assert SEASON_BOARD.key == "lb:v1:season:2031-spring:*:solo"
    assert BoardRef(Scope.ALL_TIME, game="valorant", participant_type="team").key == (
        "lb:v1:all_time:valorant:team"
    )
    assert BoardRef(Scope.HISTORY, user_id=3).key == "lb:v1:history:3"
    assert BOARD.version_key == "lb:v1:ver:tournament:7"


def test_document_and_page_round_trip(store):
    version = store.read(BOARD, None).version
    assert version is not None

    assert store.store_document(BOARD, version, b'{"rows":[]}') is True
    assert store.store_page(BOARD, version, "p:1", b"page-bytes") is True

    again = store.read(BOARD, "p:1")
    assert (again.version, again.page) == (version, b"page-bytes")
    assert store.read(BOARD, None).document == b'{"rows":[]}'


def test_a_document_computed_before_an_invalidation_is_refused(store):
    stale_version = store.read(BOARD, None).version
    store.store_document(BOARD, stale_version, b"old")

    removed = store.invalidate([BOARD])

    assert removed == [BOARD.key]
    assert store.store_document(BOARD, stale_version, b"computed-from-old-data") is False
    assert store.store_page(BOARD, stale_version, "p:1", b"old-page") is False
    fresh = store.read(BOARD, "p:1")
    assert fresh.version != stale_version
    assert (fresh.page, fresh.document) == (None, None)


def test_invalidate_reports_only_keys_that_existed(store):
    version = store.read(BOARD, None).version
    store.store_document(BOARD, version, b"doc")

    removed = store.invalidate([BOARD, SEASON_BOARD])

    assert removed == [BOARD.key]
    assert store.board_keys(None) == []


def test_board_keys_by_scope(store):
    for board in (BOARD, SEASON_BOARD):
        store.store_document(board, store.read(board, None).version, b"doc")

    assert store.board_keys(Scope.TOURNAMENT) == [BOARD.key]
    assert store.board_keys(Scope.SEASON) == [SEASON_BOARD.key]
    assert store.board_keys(None) == sorted([BOARD.key, SEASON_BOARD.key])


def test_ttl_comes_from_settings(store, settings):
    settings.LEADERBOARD_CACHE_TTL_SECONDS = 120
    store.store_document(BOARD, store.read(BOARD, None).version, b"doc")

    assert 118 <= store.ttl_seconds(BOARD) <= 120


def test_redis_ttl_matches_the_server(use_redis):
    store = board_store()
    store.store_document(BOARD, store.read(BOARD, None).version, b"doc")

    assert abs(store.ttl_seconds(BOARD) - use_redis.ttl(BOARD.key)) <= 1


def test_twenty_concurrent_misses_compute_once(store):
    calls: list[int] = []
    barrier = threading.Barrier(20)
    results: list[tuple[dict, bool]] = []

    def compute() -> dict:
        calls.append(1)
        time.sleep(0.2)
        return {"header": {}, "rows": [{"rank": 1}], "tournament_status": None}

    def worker() -> None:
        barrier.wait()
        read = store.read(BOARD, "p:1")
        results.append(read_or_compute_document(BOARD, read, compute))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert len(results) == 20
    assert all(document["rows"] == [{"rank": 1}] for document, _ in results)
    assert sorted(from_cache for _, from_cache in results) == [False] + [True] * 19


def test_invalidate_counts_evictions_by_reason(store):
    store.store_document(BOARD, store.read(BOARD, None).version, b"doc")
    before = metrics.CACHE_EVICTIONS.labels(reason="manual")._value.get()

    invalidate_boards([BOARD], EvictionReason.MANUAL)

    assert metrics.CACHE_EVICTIONS.labels(reason="manual")._value.get() == before + 1


# --- outages ------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def hanging_redis(settings) -> Iterator[str]:
    """A listener that accepts connections and never answers (a paused Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                accepted.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    settings.REDIS_URL = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    redis_gateway.reset_for_tests()
    yield settings.REDIS_URL
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()
    redis_gateway.reset_for_tests()


def _expected_order(cup) -> list[int]:
    return [cup.users[name].pk for name in "ACBDF"]


@pytest.mark.django_db
def test_redis_stopped_still_serves_correct_standings(settings, flags_on):
    cup = build_solo_cup()
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    redis_gateway.reset_for_tests()
    errors_before = metrics.CACHE_ERRORS.labels(operation="get")._value.get()

    results = [
        LeaderboardService(user_id=None).tournament_page(cup.tournament.pk, PageSpec())
        for _ in range(5)
    ]

    import json

    for result in results:
        order = [row["participant_id"] for row in json.loads(result.body)["results"]]
        assert order == _expected_order(cup)
        assert result.cached is False
    assert metrics.CACHE_ERRORS.labels(operation="get")._value.get() >= errors_before + 5


@pytest.mark.django_db
def test_redis_hanging_costs_milliseconds_once_the_breaker_opens(hanging_redis, flags_on):
    cup = build_solo_cup()
    service = LeaderboardService(user_id=None)
    for _ in range(redis_gateway.BREAKER_FAIL_MAX):  # each waits for the socket timeout
        service.tournament_page(cup.tournament.pk, PageSpec())

    durations = []
    for _ in range(10):
        started = time.perf_counter()
        result = LeaderboardService(user_id=None).tournament_page(cup.tournament.pk, PageSpec())
        durations.append(time.perf_counter() - started)
        assert result.cached is False

    assert statistics.median(durations) < 0.05
    assert max(durations) < 0.25  # far below one 0.5 s socket timeout
