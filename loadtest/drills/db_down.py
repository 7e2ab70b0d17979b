"""Drill (iii): the database unreachable for 20 s mid-load, without touching the shared cluster.

    python loadtest/drills/db_down.py

The service reaches PostgreSQL through a TCP proxy (loadtest/drills/tcp_proxy.py) on a free
port. 15 s into a 20 req/s polling load the proxy is killed with SIGKILL (every connection drops,
new ones are refused); 20 s later it is started again on the same port. Token authentication
reads the database, so cached boards cannot be served either: every API request while it is
down must answer 503 with `error_code` SERVICE_UNAVAILABLE, fast (the refused connection, not a
hang). PASS when: before and after, only 200/304; while down (from 1 s after the kill), only 503
SERVICE_UNAVAILABLE, never 500; within 10 s of the proxy's return, 200s again, from the same
gunicorn workers (no restart), and /readyz back to 200.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loadtest import poll
from loadtest.drills.stack import (
    DRILL_DATABASE,
    PYTHON,
    REPO_ROOT,
    DrillStack,
    free_port,
    latency,
    say,
    status_counts,
    verdict,
    window,
)

RATE = 20.0
DOWN_AT = 15.0
DOWN_FOR = 20.0
DURATION = DOWN_AT + DOWN_FOR + 20.0
SETTLE_SECONDS = 1.0
RECOVERY_SECONDS = 10.0
PROXY = str(REPO_ROOT / "loadtest" / "drills" / "tcp_proxy.py")


class Proxy:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [PYTHON, PROXY, "--listen", str(self.port), "--max-seconds", "300"],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "proxy ..." once it listens

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


async def drill(stack: DrillStack, proxy: Proxy) -> int:
    fleet = stack.fleet()
    bodies: dict[int, dict] = {}

    def keep_errors(record: poll.Record, response: poll.Response | None) -> None:
        if response is not None and response.status >= 500:
            bodies[record.index] = json.loads(response.body)

    fleet.config.on_response = keep_errors
    workers_before = stack.server.worker_pids() if stack.server else []
    marks: dict[str, float] = {}
    readyz: dict[str, int] = {}

    async def tick(elapsed: float) -> None:
        if "down" not in marks and elapsed >= DOWN_AT:
            proxy.kill()
            marks["down"] = time.time()
            say(f"database proxy on {proxy.port} killed")
        elif "readyz_down" not in readyz and "down" in marks and elapsed >= DOWN_AT + 2:
            readyz["readyz_down"] = (
                await poll.http_get("127.0.0.1", stack.port, "/readyz", {}, 5)
            ).status
        elif "up" not in marks and elapsed >= DOWN_AT + DOWN_FOR:
            proxy.start()
            marks["up"] = time.time()
            say("database proxy started again")

    began = time.time()
    await poll.open_loop(
        fleet, poll.Chooser(poll.polling_mix(stack.manifest)), RATE, DURATION, tick=tick
    )
    readyz["readyz_after"] = (await poll.http_get("127.0.0.1", stack.port, "/readyz", {}, 5)).status
    records = fleet.records
    before = window(records, began, marks["down"])
    down = window(records, marks["down"] + SETTLE_SECONDS, marks["up"])
    recovering = window(records, marks["up"], marks["up"] + RECOVERY_SECONDS)
    recovered = window(records, marks["up"] + RECOVERY_SECONDS, time.time())
    codes_down = sorted({bodies.get(record.index, {}).get("error_code", "?") for record in down})
    first_ok_after = next(
        (r.started_wall - marks["up"] for r in recovering if r.status in (200, 304)), None
    )
    evidence = {
        "requests": len(records),
        "before": status_counts(before),
        "down_20s": {
            "status": status_counts(down),
            "error_codes": codes_down,
            "latency_ms": latency(down),
        },
        "first_success_after_return_s": None
        if first_ok_after is None
        else round(first_ok_after, 2),
        "first_10s_after_return": status_counts(recovering),
        "after": status_counts(recovered),
        **readyz,
        "workers_before": workers_before,
        "workers_after": stack.server.worker_pids() if stack.server else [],
        "status_500": sum(1 for record in records if record.status == 500),
    }
    passed = (
        all(record.status in (200, 304) for record in before)
        and bool(down)
        and all(record.status == 503 for record in down)
        and codes_down == ["SERVICE_UNAVAILABLE"]
        and first_ok_after is not None
        and bool(recovered)
        and all(record.status in (200, 304) for record in recovered)
        and evidence["workers_before"] == evidence["workers_after"]
        and readyz.get("readyz_down") == 503
        and readyz.get("readyz_after") == 200
        and evidence["status_500"] == 0
    )
    return verdict("db_down", passed, evidence)


def main() -> int:
    proxy = Proxy()
    proxy.start()
    try:
        url = f"postgres://postgres@127.0.0.1:{proxy.port}/{DRILL_DATABASE}"
        with DrillStack("db_down", database_url=url) as stack:
            return asyncio.run(drill(stack, proxy))
    finally:
        proxy.kill()


if __name__ == "__main__":
    sys.exit(main())
