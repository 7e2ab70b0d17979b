"""The board store, on the embedded Redis and on a real one: versions, pages, the miss lock,
key listing, outages."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import redis

from apps.common import metrics, redis_gateway
from apps.tournaments.boards import BoardRef, EvictionReason, Scope
from apps.tournaments.services.board_cache import invalidation, store
from apps.tournaments.services.board_cache.keys import board_key, version_key
from apps.tournaments.services.board_documents import BoardDocument
from apps.tournaments.services.leaderboard_service import _cached_or_computed
from apps.tournaments.tests.reads import body, read
from apps.tournaments.tests.scenarios import build_solo_cup

BOARD = BoardRef.tournament(7)
SEASON_BOARD = BoardRef(Scope.SEASON, season="2031-spring", game=None, participant_type="solo")


@pytest.fixture(params=["embedded", "redis"])
def on_redis(request) -> None:
    """Each store test runs on the embedded Redis and on a real server: one implementation."""
    request.getfixturevalue("use_redis" if request.param == "redis" else "embedded_redis")


def _current_version(board: BoardRef) -> str:
    version = store.read(board, None).version
    assert version is not None
    return version


def test_keys_are_namespaced_per_board():
    assert board_key(BOARD.name) == "lb:v1:tournament:7"
    assert board_key(SEASON_BOARD.name) == "lb:v1:season:2031-spring:*:solo"
    all_time = BoardRef(Scope.ALL_TIME, game="valorant", participant_type="team")
    assert board_key(all_time.name) == "lb:v1:all_time:valorant:team"
    assert board_key(BoardRef.history(3).name) == "lb:v1:history:3"
    assert version_key(BOARD.name) == "lb:v1:ver:tournament:7"


def test_document_and_page_round_trip(on_redis):
    version = _current_version(BOARD)

    assert store.store_document(BOARD, version, b'{"rows":[]}') is True
    assert store.store_page(BOARD, version, "p:1", b"page-bytes") is True

    again = store.read(BOARD, "p:1")
    assert (again.version, again.page) == (version, b"page-bytes")
    assert store.read(BOARD, None).document == b'{"rows":[]}'


def test_a_document_computed_before_an_invalidation_is_refused(on_redis):
    stale_version = _current_version(BOARD)
    store.store_document(BOARD, stale_version, b"old")

    removed = store.delete_boards([BOARD.name])

    assert removed == [board_key(BOARD.name)]
    assert store.store_document(BOARD, stale_version, b"computed-from-old-data") is False
    assert store.store_page(BOARD, stale_version, "p:1", b"old-page") is False
    fresh = store.read(BOARD, "p:1")
    assert fresh.version != stale_version
    assert (fresh.page, fresh.document) == (None, None)


def test_delete_reports_only_keys_that_existed(on_redis):
    store.store_document(BOARD, _current_version(BOARD), b"doc")

    removed = store.delete_boards([BOARD.name, SEASON_BOARD.name])

    assert removed == [board_key(BOARD.name)]
    assert store.board_keys(None) == []


def test_board_keys_by_scope(on_redis):
    for board in (BOARD, SEASON_BOARD):
        store.store_document(board, _current_version(board), b"doc")

    assert store.board_keys(Scope.TOURNAMENT) == [board_key(BOARD.name)]
    assert store.board_keys(Scope.SEASON) == [board_key(SEASON_BOARD.name)]
    assert store.board_keys(None) == sorted(board_key(b.name) for b in (BOARD, SEASON_BOARD))


def test_delete_scope_removes_boards_being_computed_too(on_redis):
    cached, computing = BoardRef.tournament(1), BoardRef.tournament(2)
    store.store_document(cached, _current_version(cached), b"doc")
    computing_version = _current_version(computing)  # read, nothing stored yet

    removed = store.delete_scope(Scope.TOURNAMENT)

    assert removed == [board_key(cached.name)]
    assert store.store_document(computing, computing_version, b"late") is False


def test_ttl_comes_from_settings(on_redis, settings):
    settings.LEADERBOARD_CACHE_TTL_SECONDS = 120
    store.store_document(BOARD, _current_version(BOARD), b"doc")

    assert 118 <= (store.ttl_seconds(board_key(BOARD.name)) or 0) <= 120


def test_twenty_concurrent_misses_compute_once(on_redis, monkeypatch):
    calls: list[BoardRef] = []
    release = threading.Event()

    def compute(board: BoardRef, as_of: object = None) -> BoardDocument:
        calls.append(board)
        release.wait(5)
        return BoardDocument({"tournament_id": 7}, [], None)

    monkeypatch.setattr("apps.tournaments.services.leaderboard_service.compute_board", compute)
    version = _current_version(BOARD)
    barrier = threading.Barrier(20)
    results: list[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(_cached_or_computed(BOARD, version)[1])

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    while not calls:  # the first worker holds the lock and computes
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join()

    assert calls == [BOARD]
    assert sorted(results) == [False] + [True] * 19


def test_manual_invalidation_counts_evictions_by_reason(on_redis):
    store.store_document(SEASON_BOARD, _current_version(SEASON_BOARD), b"doc")
    before = metrics.CACHE_EVICTIONS.labels(reason="manual")._value.get()

    removed = invalidation.invalidate_scope(Scope.SEASON, EvictionReason.MANUAL)

    assert removed == [board_key(SEASON_BOARD.name)]
    assert metrics.CACHE_EVICTIONS.labels(reason="manual")._value.get() == before + 1


# --- outages ------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def hanging_redis(settings) -> Iterator[str]:
    """A listener that accepts connections and never answers (a frozen Redis)."""
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
    errors_before = metrics.CACHE_ERRORS.labels(operation="throttle")._value.get()

    pages = [read(BoardRef.tournament(cup.tournament.pk)) for _ in range(5)]

    for page in pages:
        assert [row["participant_id"] for row in body(page)["results"]] == _expected_order(cup)
        assert page.cached is False
        assert page.rate_limit is None  # allowed: the rate limit fails open
    assert metrics.CACHE_ERRORS.labels(operation="throttle")._value.get() >= errors_before + 5


@pytest.mark.django_db
def test_a_hanging_redis_is_skipped_once_the_breaker_opens(hanging_redis, flags_on, monkeypatch):
    cup = build_solo_cup()
    board = BoardRef.tournament(cup.tournament.pk)
    for _ in range(redis_gateway.BREAKER_FAIL_MAX):  # each waits for the socket timeout
        read(board)
    assert redis_gateway.breaker().current_state == "open"

    def no_socket(*args, **kwargs):
        raise AssertionError("a Redis command was sent while the breaker is open")

    monkeypatch.setattr(redis.Redis, "execute_command", no_socket)
    monkeypatch.setattr(redis.client.Pipeline, "execute", no_socket)
    pages = [read(board) for _ in range(10)]

    assert [page.cached for page in pages] == [False] * 10
    assert [row["participant_id"] for row in body(pages[-1])["results"]] == _expected_order(cup)


def test_the_housekeeping_probe_closes_an_open_breaker_once_redis_answers(use_redis):
    redis_gateway.breaker().open()  # as after an outage

    assert redis_gateway.probe() is True
    assert redis_gateway.breaker().current_state == "closed"


def test_a_failed_probe_is_counted_as_a_redis_failure(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    redis_gateway.reset_for_tests()
    failures = redis_gateway.failure_count()

    assert redis_gateway.probe() is False
    assert redis_gateway.failure_count() == failures + 1
