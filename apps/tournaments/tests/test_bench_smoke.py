"""The benchmark (bench/bench_leaderboards.py) at a tiny size, so the script cannot rot.

Runs its data builder and every measurement against the test database; the query counts must be
the documented constants (the same at this size as at the contract's), every figure finite, and
the rows the builder writes with `bulk_create` must pass the model validation it bypasses.
"""

from __future__ import annotations

import math

import pytest

from apps.tournaments.models import Match, Registration
from bench import bench_leaderboards
from bench.dataset import BenchSizes, build_bench_data
from bench.measurements import EXPECTED_QUERIES

TINY = BenchSizes(
    tournament_competitors=8,
    tournament_counted_matches=40,
    tournament_other_matches=4,
    season_tournaments=3,
    season_counted_matches=60,
    season_competitors_per_tournament=6,
    season_other_matches_per_tournament=1,
    hidden_tournaments=2,
    player_pool=24,
    history_tournaments=4,
    team_tournaments=1,
    teams_per_team_tournament=3,
    team_size=2,
    team_matches_per_tournament=6,
)


@pytest.mark.django_db
def test_the_benchmark_runs_at_a_tiny_size_with_the_documented_query_counts():
    report = bench_leaderboards.run_benchmark(TINY, repeat=2, progress=lambda _: None)

    by_key = {result.key: result for result in report.results}
    assert {key: result.queries for key, result in by_key.items()} == dict(EXPECTED_QUERIES)
    assert by_key["tournament"].rows == 8
    assert by_key["tournament"].counted_matches == 40
    assert by_key["tournament_head_to_head"].counted_matches == 40
    assert by_key["season"].counted_matches == 60
    assert by_key["history"].rows == 4
    for result in report.results:
        assert math.isfinite(result.ratio) and result.ratio > 0
        assert result.cached_hits == len(result.cached.samples_ms)
    assert [line.verdict for line in report.budget] == ["reported", "reported"]
    text = bench_leaderboards.format_report(report)
    assert "uncached tournament board (256 / 8,000)" in text
    assert tuple(EXPECTED_QUERIES) == bench_leaderboards.PROFILE_BOARDS


@pytest.mark.django_db
def test_the_bulk_built_rows_pass_the_model_validation_they_bypassed():
    """`bulk_create` skips `clean()`; every row the builder writes must still pass it."""
    build_bench_data(TINY)

    for registration in Registration.objects.all():
        registration.clean()
    for match in Match.objects.all():
        match.clean()
    assert Match.objects.count() == 40 + 4 + 40 + 4 + 60 + 3 + 2 * (2 * 6 + 1) + 6 + 1


@pytest.mark.django_db
def test_the_optional_profile_appends_a_call_tree_to_the_report():
    pytest.importorskip("pyinstrument")

    report = bench_leaderboards.run_benchmark(
        TINY, repeat=1, progress=lambda _: None, profile="tournament"
    )

    assert "compute_board" in bench_leaderboards.format_report(report)
