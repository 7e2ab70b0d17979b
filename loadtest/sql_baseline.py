"""Uncached board computation against the bare aggregate SQL, on the load test's own data set.

    python loadtest/sql_baseline.py --database-url URL [--rounds 30]

For contract section 8 (c) and (d), in one process and one interleaved loop (machine noise hits
both series alike): per round, the board document computed from SQL and ranked
(`board_compute.compute_board`, what a cache miss runs, the season lookup included) and the
aggregation's own SQL statements replayed with a plain cursor (captured with
`CaptureQueriesContext` while the engine ran, so the text and parameters are exactly the
engine's). Reports medians, the spread (p10-p90), the ratio of medians and the query count.
Reads only; writes nothing. The same comparison over a bigger set of boards is bench/'s job;
this one measures the boards the HTTP load test serves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from loadtest.setup_data import DEFAULT_MANIFEST, configure_django  # noqa: E402


def timed_ms(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def spread(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p10_ms": round(ordered[len(ordered) // 10], 3),
        "p90_ms": round(ordered[(9 * len(ordered)) // 10], 3),
        "min_ms": round(ordered[0], 3),
    }


def measure(label: str, compute: Callable[[], Any], rounds: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        compute()
    statements = [query["sql"] for query in captured.captured_queries]
    aggregate = max(statements, key=len)  # the aggregate; the rest are id lookups

    def bare_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute(aggregate)
            cursor.fetchall()

    engine, bare = [], []
    for _ in range(2):  # warm-up
        compute()
        bare_sql()
    for _ in range(rounds):
        engine.append(timed_ms(compute))
        bare.append(timed_ms(bare_sql))
    return {
        "board": label,
        "queries": len(statements),
        "uncached": spread(engine),
        "bare_aggregate_sql": spread(bare),
        "ratio_of_medians": round(statistics.median(engine) / statistics.median(bare), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    # No REDIS_URL: the embedded Redis (fakeredis in this process), which compute_board never
    # touches: nothing is cached or read from a cache.
    configure_django(args.database_url, "")
    from apps.tournaments.boards import BoardRef, Scope
    from apps.tournaments.services.board_compute import compute_board

    manifest = json.loads(Path(args.manifest).read_text())
    big_board = BoardRef.tournament(manifest["big_tournament_id"])
    season_board = BoardRef(Scope.SEASON, season=manifest["season_slug"], participant_type="solo")
    results = [
        measure(
            f"tournament {manifest['big_board_competitors']} competitors / "
            f"{manifest['big_board_counted_matches']} matches",
            lambda: compute_board(big_board),
            args.rounds,
        ),
        measure(
            f"season {manifest['season_tournaments']} tournaments / "
            f"{manifest['season_counted_matches']} matches",
            lambda: compute_board(season_board),
            max(5, args.rounds // 3),
        ),
    ]
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
