"""Drill (i): Redis stopped for 30 s mid-load.

    python loadtest/drills/redis_down.py

A dedicated Redis (never the shared one) is shut down (`redis-cli shutdown nosave`: gone, data
lost) 15 s into a 40 req/s polling load and started again 30 s later; the load goes on for 25 s
after. PASS when: no 5xx and no connection error at any time; every board body equals the
reference fetched before the load (computed_at aside); the hit ratio over the last 15 s, after
Redis returned, is back above 90 % (no restart of the service).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loadtest import poll
from loadtest.drills.stack import (
    DrillStack,
    board_without_timestamp,
    latency,
    say,
    status_counts,
    verdict,
    window,
)

RATE = 40.0
DOWN_AT = 15.0
DOWN_FOR = 30.0
DURATION = DOWN_AT + DOWN_FOR + 25.0
RECOVERY_WINDOW = 15.0


async def drill(stack: DrillStack) -> int:
    targets = poll.polling_mix(stack.manifest)
    reference = {}
    for target in {target.path: target for target in targets}.values():
        status, body = await stack.get_json(target.path)
        assert status == 200, (target.path, status)
        reference[target.path] = board_without_timestamp(body)
    mismatches: list[str] = []
    compared = 0

    def check(record: poll.Record, response: poll.Response | None) -> None:
        nonlocal compared
        if response is None or response.status != 200:
            return
        compared += 1
        if board_without_timestamp(json.loads(response.body)) != reference[record.path]:
            mismatches.append(f"{record.request_id} {record.path}")

    fleet = stack.fleet(on_response=check)
    chooser = poll.Chooser(targets)
    marks: dict[str, float] = {}
    scrapes: dict[str, list[poll.Sample]] = {}

    async def tick(elapsed: float) -> None:
        if "down" not in marks and elapsed >= DOWN_AT:
            scrapes["before_down"] = await stack.scrape()
            stack.redis.shutdown()
            marks["down"] = time.time()
            say(f"Redis on {stack.redis.port} shut down")
        elif "up" not in marks and elapsed >= DOWN_AT + DOWN_FOR:
            scrapes["before_up"] = await stack.scrape()
            stack.redis.start()
            marks["up"] = time.time()
            say("Redis started again (empty)")
        elif "recovery" not in marks and elapsed >= DURATION - RECOVERY_WINDOW:
            scrapes["recovery_start"] = await stack.scrape()
            marks["recovery"] = time.time()

    began = time.time()
    await poll.open_loop(fleet, chooser, RATE, DURATION, tick=tick)
    scrapes["end"] = await stack.scrape()
    records = fleet.records
    counts = {name: poll.CacheCounts.of(samples) for name, samples in scrapes.items()}
    outage = window(records, marks["down"], marks["up"])
    evidence = {
        "requests": len(records),
        "status_all": status_counts(records),
        "before": {
            "status": status_counts(window(records, began, marks["down"])),
            "latency_ms": latency(window(records, began, marks["down"])),
        },
        "redis_down_30s": {"status": status_counts(outage), "latency_ms": latency(outage)},
        "after": {
            "status": status_counts(window(records, marks["up"], time.time())),
            "latency_ms": latency(window(records, marks["up"], time.time())),
        },
        "bodies_compared_to_reference": compared,
        "bodies_different": len(mismatches),
        "hit_ratio_before_outage": poll.hit_ratio(poll.CacheCounts(0, 0), counts["before_down"]),
        "hit_ratio_during_outage": poll.hit_ratio(counts["before_down"], counts["before_up"]),
        "hit_ratio_last_15s": poll.hit_ratio(counts["recovery_start"], counts["end"]),
        "cache_errors_total": poll.metric_total(scrapes["end"], "leaderboard_cache_errors_total"),
        "same_workers": stack.server.worker_pids() if stack.server else [],
    }
    five_xx = sum(1 for record in records if record.status >= 500)
    errors = sum(1 for record in records if not record.status)
    recovered = (evidence["hit_ratio_last_15s"] or 0) > 0.90
    passed = five_xx == 0 and errors == 0 and not mismatches and compared > 0 and recovered
    if mismatches:
        evidence["first_mismatches"] = mismatches[:5]
    return verdict("redis_down", passed, evidence)


def main() -> int:
    with DrillStack("redis_down") as stack:
        return asyncio.run(drill(stack))


if __name__ == "__main__":
    sys.exit(main())
