"""Drill (v): a gunicorn worker killed with SIGKILL mid-load; the metrics still add up.

    python loadtest/drills/worker_kill.py

A 40 req/s polling load (public boards and /api/ping/) runs for 40 s; at 15 s one worker is
killed with `kill -9` and gunicorn forks a replacement. In multiprocess mode the dead worker's
metric files stay in PROMETHEUS_MULTIPROC_DIR (counters are kept; `child_exit` marks it dead), so
`sum(leaderboard_requests_total)` over every label must grow by exactly the number of API
requests that got an HTTP answer. A request the killed worker was serving gets no answer (a
connection error here); it is counted only if the worker died between counting and sending, so
the allowed range is [answered, answered + connection errors]. PASS also needs the worker
replaced (two workers again, one new pid) and the total never to go down across the kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loadtest import poll
from loadtest.drills.stack import DrillStack, say, status_counts, verdict

RATE = 40.0
KILL_AT = 15.0
DURATION = 40.0
REQUESTS = poll.REQUESTS_METRIC


async def drill(stack: DrillStack) -> int:
    assert stack.server is not None
    server = stack.server
    fleet = stack.fleet()
    targets = [*poll.polling_mix(stack.manifest), poll.Target("ping", poll.PING_PATH, 20)]
    workers_before = server.worker_pids()
    totals: dict[str, float] = {}
    killed: dict[str, int] = {}

    async def tick(elapsed: float) -> None:
        if not killed and elapsed >= KILL_AT:
            totals["just_before_kill"] = poll.metric_total(await stack.scrape(), REQUESTS)
            victim = workers_before[0]
            os.kill(victim, signal.SIGKILL)
            killed["pid"] = victim
            say(f"worker {victim} killed with SIGKILL")
        elif killed and "just_after_kill" not in totals and elapsed >= KILL_AT + 1:
            totals["just_after_kill"] = poll.metric_total(await stack.scrape(), REQUESTS)

    totals["start"] = poll.metric_total(await stack.scrape(), REQUESTS)
    await poll.open_loop(fleet, poll.Chooser(targets), RATE, DURATION, tick=tick)
    await asyncio.sleep(1.0)
    totals["end"] = poll.metric_total(await stack.scrape(), REQUESTS)
    deadline = time.monotonic() + 10
    while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    workers_after = server.worker_pids()
    records = fleet.records
    answered = sum(1 for record in records if record.status)
    connection_errors = len(records) - answered
    counted = totals["end"] - totals["start"]
    evidence = {
        "requests_sent": len(records),
        "answered": answered,
        "connection_errors": connection_errors,
        "status": status_counts(records),
        "requests_total_delta": counted,
        "requests_total_samples": totals,
        "killed_worker": killed.get("pid"),
        "workers_before": workers_before,
        "workers_after": workers_after,
    }
    passed = (
        answered <= counted <= answered + connection_errors
        and bool(killed)
        and killed["pid"] not in workers_after
        and len(workers_after) == 2
        and totals["just_after_kill"] >= totals["just_before_kill"]
        and all(record.status < 500 for record in records)
    )
    return verdict("worker_kill", passed, evidence)


def main() -> int:
    with DrillStack("worker_kill") as stack:
        return asyncio.run(drill(stack))


if __name__ == "__main__":
    sys.exit(main())
