"""Drill (iv): results committed mid-load; every read that starts after a commit shows it.

    python loadtest/drills/result_commit.py

A 40 req/s load polls, with If-None-Match, a small live tournament's board (half the requests;
its 16 rows fit on page 1) and the rest of the polling mix, so the board is hot in the cache when
a result lands. At 10 s, 20 s and 30 s a scheduled match of that tournament becomes a 3-0 result
through `Match.save()` in another process (loadtest/setup_data.py commit-result), which records
`committed_at` after the commit and its on-commit invalidation returned.

Each result adds 2 to the board's total `matches_played` and 1 to its total `wins`. PASS when
every response to a request started after commit k shows at least k results (a 200 whose totals
are at least the reference + k; a 304 only for an ETag first seen on such a 200), no 5xx, and
each commit was followed by reads that saw it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loadtest import poll
from loadtest.drills.stack import (
    DRILL_DATABASE,
    POSTGRES_ADMIN_URL,
    PYTHON,
    SETUP_DATA,
    DrillStack,
    say,
    status_counts,
    verdict,
)

RATE = 40.0
COMMITS_AT = (10.0, 20.0, 30.0)
DURATION = 40.0


def totals(body: dict) -> tuple[int, int]:
    rows = body["results"]
    return sum(row["matches_played"] for row in rows), sum(row["wins"] for row in rows)


async def drill(stack: DrillStack) -> int:
    tournament = stack.manifest["small_tournament_ids"][1]
    board_path = f"/api/tournaments/{tournament}/leaderboard/"
    status, body = await stack.get_json(board_path)
    assert status == 200 and body["count"] == len(body["results"]), "board must fit on page 1"
    reference_played, reference_wins = totals(body)
    board = poll.Target("tournament_watched", board_path, 1.0)
    others = poll.polling_mix(stack.manifest)
    weight = sum(target.weight for target in others)
    chooser = poll.Chooser([poll.Target(board.label, board.path, weight), *others])

    # What each ETag stood for: the number of results its 200 showed.
    results_of_etag: dict[str, int] = {}
    watched: list[tuple[poll.Record, int | None]] = []

    def observe(record: poll.Record, response: poll.Response | None) -> None:
        if record.path != board_path or response is None:
            return
        shown = None
        if response.status == 200:
            played, wins = totals(json.loads(response.body))
            shown = min((played - reference_played) // 2, wins - reference_wins)
            results_of_etag.setdefault(record.etag, shown)
        watched.append((record, shown))

    fleet = stack.fleet(on_response=observe)
    commits: list[dict] = []
    pending: list[asyncio.Task[None]] = []

    async def commit_one() -> None:
        output = await asyncio.to_thread(
            subprocess.run,
            [
                PYTHON, SETUP_DATA, "commit-result",
                "--database-url", f"{POSTGRES_ADMIN_URL}/{DRILL_DATABASE}",
                "--redis-url", stack.redis.url,
                "--tournament-id", str(tournament),
            ],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        commits.append(json.loads(output.stdout.strip().splitlines()[-1]))
        say(f"result committed: match {commits[-1]['match_id']}")

    async def tick(elapsed: float) -> None:
        # In the background: the load goes on while the writer process starts and commits.
        if len(pending) < len(COMMITS_AT) and elapsed >= COMMITS_AT[len(pending)]:
            pending.append(asyncio.create_task(commit_one()))

    await poll.open_loop(fleet, chooser, RATE, DURATION, tick=tick)
    await asyncio.gather(*pending)
    commits.sort(key=lambda commit: commit["committed_at"])
    commit_times = [commit["committed_at"] for commit in commits]
    stale: list[dict] = []
    seen_after = [0] * len(commits)
    first_read_after = [None] * len(commits)
    for record, shown in watched:
        required = sum(1 for at in commit_times if at < record.started_wall)
        if required == 0:
            continue
        if record.status == 200:
            has = shown
        elif record.status == 304:
            has = results_of_etag.get(record.sent_if_none_match, -1)
        else:
            has = -1
        if has is None or has < required:
            stale.append(
                {
                    "request_id": record.request_id,
                    "status": record.status,
                    "started_after_commit_s": round(
                        record.started_wall - commit_times[required - 1], 4
                    ),
                    "shows_results": has,
                    "required": required,
                }
            )
        else:
            seen_after[required - 1] += 1
            if first_read_after[required - 1] is None:
                first_read_after[required - 1] = round(
                    record.started_wall - commit_times[required - 1], 4
                )
    records = fleet.records
    evidence = {
        "requests": len(records),
        "status_all": status_counts(records),
        "watched_board_reads": len(watched),
        "commits": [
            {"match_id": commit["match_id"], "committed_at": round(commit["committed_at"], 3)}
            for commit in commits
        ],
        "reads_after_each_commit_showing_it": seen_after,
        "first_read_after_commit_s": first_read_after,
        "stale_reads": len(stale),
        "first_stale": stale[:5],
    }
    passed = (
        len(commits) == len(COMMITS_AT)
        and not stale
        and all(count > 0 for count in seen_after)
        and all(record.status and record.status < 500 for record in records)
    )
    return verdict("result_commit", passed, evidence)


def main() -> int:
    with DrillStack("result_commit") as stack:
        return asyncio.run(drill(stack))


if __name__ == "__main__":
    sys.exit(main())
