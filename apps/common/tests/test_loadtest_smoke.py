"""The load harness's pure parts (loadtest/poll.py): percentiles, /metrics parsing, the hit
ratio, HTTP response parsing, ETag polling. Fast, no server of the project: the ETag round trip
runs once against the real board view through Django's test client and once over a socket
against a tiny in-process fake."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from apps.tournaments.tests.factories import MatchFactory, RegistrationFactory, UserFactory
from loadtest import poll

EXPOSITION = """\
# HELP leaderboard_cache_hits_total Board reads served from the cache.
# TYPE leaderboard_cache_hits_total counter
leaderboard_cache_hits_total{scope="tournament"} 90.0
leaderboard_cache_hits_total{scope="season"} 8.0
leaderboard_cache_misses_total{scope="tournament"} 2.0
leaderboard_requests_total{endpoint="ping",status_code="200"} 5.0
leaderboard_requests_total{endpoint="tournament_leaderboard",status_code="304"} 7.0
leaderboard_api_latency_seconds_bucket{endpoint="ping",le="+Inf"} 5.0
odd_metric{detail="say \\"hi\\"",path="a,b"} 1e3
process_start_time_seconds 1.7e9
"""


def test_percentile_is_nearest_rank():
    values = [float(value) for value in range(1, 101)]  # 1..100

    assert poll.percentile(values, 0.50) == 50.0
    assert poll.percentile(values, 0.95) == 95.0
    assert poll.percentile(values, 0.99) == 99.0
    assert poll.percentile(values, 1.0) == 100.0
    assert poll.percentile([7.0], 0.95) == 7.0
    assert poll.percentile([3.0, 1.0, 2.0], 0.5) == 2.0  # order of input does not matter


def test_percentile_of_nothing_is_nan_and_fraction_is_checked():
    assert math.isnan(poll.percentile([], 0.5))
    with pytest.raises(ValueError):
        poll.percentile([1.0], 0)
    with pytest.raises(ValueError):
        poll.percentile([1.0], 1.5)


def test_latency_summary():
    summary = poll.latency_summary([10.0, 20.0, 30.0, 40.0])

    assert summary == {"n": 4, "p50": 20.0, "p95": 40.0, "p99": 40.0, "max": 40.0, "mean": 25.0}
    assert poll.latency_summary([]) == {"n": 0}


def test_parse_metrics_reads_names_labels_and_values():
    samples = poll.parse_metrics(EXPOSITION)

    assert len(samples) == 8
    odd = next(sample for sample in samples if sample.name == "odd_metric")
    assert odd.label("detail") == 'say "hi"'
    assert odd.label("path") == "a,b"
    assert odd.value == 1000.0
    plain = next(sample for sample in samples if sample.name == "process_start_time_seconds")
    assert plain.labels == () and plain.value == 1.7e9


def test_metric_total_sums_over_labels_with_a_filter():
    samples = poll.parse_metrics(EXPOSITION)

    assert poll.metric_total(samples, "leaderboard_cache_hits_total") == 98.0
    assert poll.metric_total(samples, "leaderboard_cache_hits_total", scope="season") == 8.0
    assert poll.metric_total(samples, "leaderboard_requests_total") == 12.0
    assert poll.metric_total(samples, "leaderboard_requests_total", endpoint="ping") == 5.0
    assert poll.metric_total(samples, "absent_total") == 0.0


def test_hit_ratio_is_the_delta_over_the_run():
    before = poll.CacheCounts.of(poll.parse_metrics(EXPOSITION))  # 98 hits, 2 misses
    after = poll.CacheCounts(hits=98 + 190, misses=2 + 10)

    assert before == poll.CacheCounts(98.0, 2.0)
    assert poll.hit_ratio(before, after) == pytest.approx(0.95)
    assert poll.hit_ratio(before, before) is None


def test_parse_response_with_body_without_body_and_broken():
    ok = poll.parse_response(
        b'HTTP/1.1 200 OK\r\nETag: "v-1"\r\nContent-Length: 11\r\n\r\n{"ok":true}'
    )
    not_modified = poll.parse_response(b'HTTP/1.1 304 Not Modified\r\nETag: "v-1"\r\n\r\n')

    assert (ok.status, ok.headers["etag"], ok.body) == (200, '"v-1"', b'{"ok":true}')
    assert (not_modified.status, not_modified.body) == (304, b"")
    with pytest.raises(ValueError):
        poll.parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort")
    with pytest.raises(ValueError):
        poll.parse_response(b"garbage\r\n\r\n")
    with pytest.raises(ValueError):
        poll.parse_response(b"HTTP/1.1 200 OK\r\n")


def test_etag_book_sends_the_last_etag_per_client_and_url():
    book = poll.EtagBook()
    first = poll.Response(200, {"etag": '"v-a"'}, b"{}")
    newer = poll.Response(200, {"etag": '"v-b"'}, b"{}")

    assert book.headers_for(0, "/board/") == {}
    book.remember(0, "/board/", first)
    assert book.headers_for(0, "/board/") == {"If-None-Match": '"v-a"'}
    assert book.headers_for(1, "/board/") == {}  # another user has its own
    assert book.headers_for(0, "/other/") == {}
    book.remember(0, "/board/", poll.Response(304, {"etag": '"v-a"'}, b""))
    book.remember(0, "/board/", newer)
    assert book.headers_for(0, "/board/") == {"If-None-Match": '"v-b"'}
    book.remember(0, "/board/", poll.Response(503, {}, b"{}"))
    assert book.headers_for(0, "/board/") == {}


def test_server_misses_reads_board_computed_lines_of_this_run():
    lines = [
        '{"event": "board_computed", "request_id": "run1-4", "board": "tournament:1"}',
        '{"event": "request_finished", "request_id": "run1-5", "status": 200}',
        '{"event": "board_computed", "request_id": "run0-9", "board": "tournament:1"}',
        "not json at all board_computed run1-",
    ]

    assert poll.server_misses(lines, "run1-") == {"run1-4"}


def test_server_durations_reads_request_finished_lines_of_this_run():
    lines = [
        '{"event": "request_finished", "request_id": "run1-1", "duration_ms": 4.5}',
        '{"event": "request_finished", "request_id": "run2-1", "duration_ms": 9.0}',
        '{"event": "board_computed", "request_id": "run1-1", "board": "season:s:*:solo"}',
    ]

    assert poll.server_durations(lines, "run1-") == {"run1-1": 4.5}


def test_only_loopback_is_a_target():
    assert poll.loopback_base("http://127.0.0.1:8123") == ("127.0.0.1", 8123)
    assert poll.loopback_base("http://localhost:9000") == ("localhost", 9000)
    assert poll.loopback_base("http://127.0.0.5:80") == ("127.0.0.5", 80)
    for refused in ("http://10.0.0.1:8000", "http://192.168.1.2", "http://example.org"):
        with pytest.raises(ValueError):
            poll.loopback_base(refused)
    with pytest.raises(ValueError):
        poll.loopback_base("https://127.0.0.1:8443")


def test_polling_mix_and_interleaving():
    manifest = {
        "big_tournament_id": 1,
        "small_tournament_ids": [2, 3],
        "season_slug": "s",
        "history_user_ids": [7, 8],
    }
    mix = poll.polling_mix(manifest)

    assert sum(target.weight for target in mix) == pytest.approx(100.0)
    assert {target.label for target in mix} == {*poll.BOARD_LABELS, "history"}
    interleaved = poll.Chooser(poll.named_mix("ping+cached", manifest), interleave=True)
    assert [interleaved.next().label for _ in range(4)] == [
        "ping",
        "tournament_big",
        "ping",
        "tournament_big",
    ]
    with pytest.raises(ValueError):
        poll.named_mix("nope", manifest)


def test_summarize_splits_cached_and_computed_boards():
    def record(index: int, label: str, status: int, latency_ms: float) -> poll.Record:
        return poll.Record(index, label, 0, 0.0, 0.0, latency_ms, status, request_id=f"r-{index}")

    records = [
        record(0, "tournament_big", 200, 80.0),
        record(1, "tournament_big", 304, 5.0),
        record(2, "ping", 200, 4.0),
        record(3, "season", 0, 10_000.0),
    ]
    report = poll.summarize(records, misses={"r-0"}, elapsed=2.0)

    assert report["status_counts"] == {"0": 1, "200": 2, "304": 1}
    assert report["answered"] == 3 and report["achieved_rps"] == 1.5
    assert report["latency_ms"]["boards_computed"]["p50"] == 80.0
    assert report["latency_ms"]["boards_cached"] == poll.latency_summary([5.0])
    assert report["latency_ms"]["ping"]["n"] == 1


@pytest.mark.django_db
def test_etag_polling_against_the_real_board_view(client, flags_on):
    registration = RegistrationFactory()
    MatchFactory(
        participant1=registration,
        participant2=RegistrationFactory(tournament=registration.tournament),
        winner=registration,
    )
    token = Token.objects.create(user=UserFactory())
    path = f"/api/tournaments/{registration.tournament_id}/leaderboard/"
    book = poll.EtagBook()
    statuses = []
    for _ in range(3):
        answer = client.get(
            path,
            HTTP_AUTHORIZATION=f"Token {token.key}",
            **{
                f"HTTP_{name.upper().replace('-', '_')}": value
                for name, value in book.headers_for(0, path).items()
            },
        )
        response = poll.Response(
            answer.status_code, {"etag": answer.headers.get("ETag", "")}, answer.content
        )
        book.remember(0, path, response)
        statuses.append(answer.status_code)

    assert statuses == [200, 304, 304]


def test_fleet_polls_with_etags_over_a_socket():
    """The open loop, the HTTP client and the ETag book against a tiny fake server."""
    seen_if_none_match: list[str] = []

    async def fake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        etag = next(
            (line.split(":", 1)[1].strip() for line in head.split("\r\n")
             if line.lower().startswith("if-none-match:")),
            "",
        )  # fmt: skip
        seen_if_none_match.append(etag)
        if etag == '"v-1"':
            writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v-1"\r\nConnection: close\r\n\r\n')
        else:
            body = b'{"results":[]}'
            writer.write(
                b'HTTP/1.1 200 OK\r\nETag: "v-1"\r\nContent-Length: '
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
        await writer.drain()
        writer.close()

    async def run() -> tuple[poll.Fleet, dict, int]:
        server = await asyncio.start_server(fake, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            chooser = poll.Chooser([poll.Target("board", "/board/")])
            sequential = poll.Fleet(poll.LoadConfig("127.0.0.1", port, ["t0", "t1"], timeout=5))
            await poll.closed_loop(sequential, chooser, concurrency=1, duration=10, max_requests=6)
            scheduled = poll.Fleet(poll.LoadConfig("127.0.0.1", port, ["t0"], timeout=5))
            phase = await poll.open_loop(scheduled, chooser, rate=200, duration=0.05)
            return sequential, phase, len([r for r in scheduled.records if r.status])

    sequential, phase, scheduled_answered = asyncio.run(run())

    # Each of the two users gets a 200 first, then 304s for the ETag it remembered.
    assert [record.status for record in sequential.records] == [200, 200, 304, 304, 304, 304]
    assert seen_if_none_match[:6] == ["", "", '"v-1"', '"v-1"', '"v-1"', '"v-1"']
    assert phase["planned"] == 10 and scheduled_answered == 10


def test_serve_prod_script_is_executable_bash_with_valid_syntax():
    script = Path(settings.BASE_DIR) / "scripts" / "serve_prod.sh"

    assert os.access(script, os.X_OK), "scripts/serve_prod.sh must be executable"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
