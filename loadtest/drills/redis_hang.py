"""Drill (ii): Redis hanging (SIGSTOP) for 20 s mid-load.

    python loadtest/drills/redis_hang.py

A dedicated Redis is frozen with SIGSTOP 10 s into a 30 req/s load on the board of one small
tournament (so the fallback to SQL is cheap and what is measured is the cost of Redis itself),
and thawed with SIGCONT 20 s later. A frozen Redis still accepts TCP connections (the kernel
does), so every call waits for the socket timeout (0.2 s by default) until the circuit breaker
opens (three failures per worker); then calls are skipped, and one trial call per worker every
5 s pays the timeout again.

PASS when: no 5xx and no connection error; during the freeze, once the breaker had 2 s to open,
the median stays within 3x of the median before the freeze and at least 90 % of requests answer
in under 100 ms (the rest are the breaker's trial calls: at most about 0.5 s each plus queueing);
after the thaw the hit ratio over the last 10 s is above 90 % with no restart.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loadtest import poll
from loadtest.drills.stack import (
    DrillStack,
    latency,
    say,
    status_counts,
    verdict,
    window,
)

RATE = 30.0
FREEZE_AT = 10.0
FREEZE_FOR = 20.0
DURATION = FREEZE_AT + FREEZE_FOR + 15.0
BREAKER_GRACE = 2.0
FAST_MS = 100.0
RECOVERY_WINDOW = 10.0


async def drill(stack: DrillStack) -> int:
    tournament = stack.manifest["small_tournament_ids"][0]
    chooser = poll.Chooser(
        [poll.Target("tournament_small", f"/api/tournaments/{tournament}/leaderboard/")]
    )
    fleet = stack.fleet()
    marks: dict[str, float] = {}
    scrapes: dict[str, list[poll.Sample]] = {}

    async def tick(elapsed: float) -> None:
        if "frozen" not in marks and elapsed >= FREEZE_AT:
            stack.redis.freeze()
            marks["frozen"] = time.time()
            say(f"Redis (pid {stack.redis.pid}) frozen with SIGSTOP")
        elif "thawed" not in marks and elapsed >= FREEZE_AT + FREEZE_FOR:
            stack.redis.thaw()
            marks["thawed"] = time.time()
            say("Redis thawed with SIGCONT")
        elif "recovery" not in marks and elapsed >= DURATION - RECOVERY_WINDOW:
            scrapes["recovery_start"] = await stack.scrape()
            marks["recovery"] = time.time()

    began = time.time()
    await poll.open_loop(fleet, chooser, RATE, DURATION, tick=tick)
    scrapes["end"] = await stack.scrape()
    records = fleet.records
    before = window(records, began, marks["frozen"])
    frozen = window(records, marks["frozen"], marks["thawed"])
    settled = window(records, marks["frozen"] + BREAKER_GRACE, marks["thawed"])
    after = window(records, marks["thawed"], time.time())
    fast_share = (
        sum(1 for record in settled if record.status and record.latency_ms < FAST_MS) / len(settled)
        if settled
        else 0.0
    )
    median_before = poll.percentile([r.latency_ms for r in before if r.status], 0.5)
    median_settled = poll.percentile([r.latency_ms for r in settled if r.status], 0.5)
    recovery = poll.hit_ratio(
        poll.CacheCounts.of(scrapes["recovery_start"]), poll.CacheCounts.of(scrapes["end"])
    )
    evidence = {
        "requests": len(records),
        "status_all": status_counts(records),
        "before_freeze": {"status": status_counts(before), "latency_ms": latency(before)},
        "frozen_20s_all": {"status": status_counts(frozen), "latency_ms": latency(frozen)},
        "frozen_after_first_2s": {
            "latency_ms": latency(settled),
            "share_under_100ms": round(fast_share, 4),
            "median_ratio_to_before": round(median_settled / median_before, 2),
        },
        "after_thaw": {"status": status_counts(after), "latency_ms": latency(after)},
        "hit_ratio_last_10s": recovery,
        "cache_errors_by_operation": {
            sample.label("operation"): sample.value
            for sample in scrapes["end"]
            if sample.name == "leaderboard_cache_errors_total" and sample.value
        },
        "same_workers": stack.server.worker_pids() if stack.server else [],
    }
    passed = (
        all(record.status and record.status < 500 for record in records)
        and median_settled <= 3 * median_before
        and fast_share >= 0.90
        and (recovery or 0) > 0.90
    )
    return verdict("redis_hang", passed, evidence)


def main() -> int:
    with DrillStack("redis_hang") as stack:
        return asyncio.run(drill(stack))


if __name__ == "__main__":
    sys.exit(main())
