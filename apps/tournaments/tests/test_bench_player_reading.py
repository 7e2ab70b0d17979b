"""The player-reading benchmark (bench/player_reading.py) at a tiny size, so the script cannot
rot: it runs against the test database and the embedded Redis, every request it makes is
answered 200 (it raises otherwise), each page hit is served without a render and each slice
without a computation, and every ratio is finite. No timing is asserted."""

from __future__ import annotations

import math

import pytest

from apps.common.redis_gateway import redis_client
from apps.tournaments.tests.test_bench_smoke import TINY
from bench import player_reading


@pytest.mark.django_db
def test_the_player_reading_benchmark_runs_at_a_tiny_size():
    report = player_reading.run(TINY, repeat=2, progress=lambda _: None, cached_repeat=3)

    assert report.board["competitors"] == 8
    assert report.board["counted_matches"] == 40
    readings = {reading.key: reading for reading in report.readings}
    assert set(readings) == {"plain", "around", "around_me", "ids", "compare_to", "as_of"}
    assert report.unexpected_paths and not any(report.unexpected_paths.values())
    # 6 first requests, 11 kinds x (2 warm-up + 3 timed rounds), 6 query-count requests.
    assert report.requests == 6 + 11 * 5 + 6
    for reading in report.readings:
        assert len(reading.hit.samples_ms) == 3
        assert math.isfinite(report.hit_ratio(reading.key)) and report.hit_ratio(reading.key) > 0
        assert reading.queries == 1  # the token lookup; a page hit runs no other SQL
        if reading.key != "around_me":
            ratio = report.slice_ratio(reading.key)
            assert ratio is not None and math.isfinite(ratio) and ratio > 0
    middle = report.computation("as_of_middle")
    assert 0 < middle.counted_matches < 40
    assert report.computation("as_of_end").counted_matches == 40
    for computation in report.computations:
        assert computation.rows == 8 and computation.queries == 2
        assert math.isfinite(report.compute_ratio(computation.key))
    assert [line.verdict for line in player_reading.budget_lines(report)] == ["reported"] * 3
    text = player_reading.format_report(report)
    assert "cached around / ids / compare_to" in text and "uncached as_of board" in text
    assert report.to_json()["readings"][0]["key"] == "plain"
    assert redis_client().keys("*") == []  # nothing of the run is left in Redis
