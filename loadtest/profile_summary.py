"""Where a gunicorn worker's time goes, from py-spy's raw (collapsed) stacks.

    py-spy record -p WORKER_PID -d 15 -r 200 --nonblocking -f raw -o /tmp/prof_WORKER.txt
    python loadtest/profile_summary.py /tmp/prof_*.txt

py-spy (`pip install py-spy` into the virtualenv; not a project dependency) samples the stacks
of running Python threads; idle threads (gunicorn waiting in accept) are not recorded by
default, so the shares are of the worker's active time, including time blocked in a database or
Redis call made from Python. Each line is the share of samples whose stack contains the named
frame(s): the lines nest, they do not add up to 100 %.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence

Frames = Sequence[str]
Predicate = Callable[[Frames], bool]


def read_stacks(paths: Iterable[str]) -> list[tuple[list[str], int]]:
    """(function names from the outermost frame in, sample count) per collapsed line."""
    stacks = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as collapsed:
            for line in collapsed:
                stack, _, count = line.rstrip().rpartition(" ")
                if count.isdigit():
                    stacks.append(
                        ([frame.split(" (")[0] for frame in stack.split(";")], int(count))
                    )
    return stacks


def contains(*names: str) -> Predicate:
    return lambda frames: any(name in frames for name in names)


def contains_without(name: str, child: str) -> Predicate:
    return lambda frames: name in frames and child not in frames


ROWS: list[tuple[str, Predicate]] = [
    ("in Django (WSGIHandler.__call__)", contains("WSGIHandler.__call__")),
    (
        "gunicorn outside Django (accept, parse, write, close)",
        lambda frames: "WSGIHandler.__call__" not in frames,
    ),
    (
        "request id + request_finished log line (own work)",
        contains_without("RequestContextMiddleware.__call__", "RequestMetricsMiddleware.__call__"),
    ),
    (
        "request metrics (own work)",
        contains_without("RequestMetricsMiddleware.__call__", "MiddlewareMixin.__call__"),
    ),
    ("DRF dispatch", contains("APIView.dispatch")),
    ("  token authentication (one SQL query)", contains("TokenAuthentication.authenticate")),
    (
        "  rate limit alone (ping; a refused query)",
        contains("EndpointRateThrottle.allow_request", "BoardView._count_alone"),
    ),
    ("  flags", contains("is_flag_enabled")),
    ("  view: BoardView.get (the board views)", contains("BoardView.get")),
    ("    read_board_page", contains("read_board_page")),
    (
        "      rate limit + board cache read (one Redis pipeline)",
        contains("count_and_read_page"),
    ),
    ("      compute_board (a miss)", contains("compute_board")),
    ("        tournament row (ORM lookup)", contains("tournament_row")),
    ("        aggregation.tournament_totals", contains("tournament_totals")),
    (
        "          of which psycopg timestamptz loading",
        lambda frames: (
            "tournament_totals" in frames
            and any("TimestamptzLoader" in frame or "BaseTzLoader" in frame for frame in frames)
        ),
    ),
    ("        ranking (rank_tournament)", contains("rank_tournament")),
    ("        board rows (_board_row)", contains("_board_row")),
    ("      render_page", contains("render_page")),
    (
        "    page spec (BoardView.page_spec, cache_field)",
        contains("BoardView.page_spec", "PageSpec.cache_field"),
    ),
    ("  view: PingView.get", contains("PingView.get")),
]


def main(paths: list[str]) -> None:
    stacks = read_stacks(paths)
    total = sum(count for _, count in stacks)
    if not total:
        raise SystemExit("no samples")
    print(f"samples: {total}")
    for label, predicate in ROWS:
        samples = sum(count for frames, count in stacks if predicate(frames))
        if samples:
            print(f"{label:<58}{samples:>7}{100 * samples / total:>7.1f} %")


if __name__ == "__main__":
    main(sys.argv[1:])
