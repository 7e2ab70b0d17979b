"""Cache hit, miss and eviction totals across every worker and host, kept in Redis.

Prometheus counters are per process (summed at scrape time); the staff cache-status endpoint
needs fleet-wide totals from any one worker, so each process also adds its counts to Redis
hashes. To keep the hot path free of extra round trips the counts accumulate in the process
and are flushed with one HINCRBY pipeline at most once per FLUSH_INTERVAL_SECONDS: by the next
count after that, or by a timer when none comes (an idle worker's counts would otherwise wait
for its next request), and at exit. Evictions are flushed at once: they are rare and often made
by short-lived processes (an import, a shell). So the totals lag by about a second, as the
contract allows. Without Redis the totals are this process's.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass

from apps.common.redis_gateway import redis_client, safe_redis_call

STATS_KEY = "dc:stats:v1:cache"
FLUSH_INTERVAL_SECONDS = 1.0
FIELDS = ("hits", "misses", "evictions")


@dataclass(frozen=True, slots=True)
class CacheTotals:
    hits: int
    misses: int
    evictions: int

    @property
    def requests(self) -> int:
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float:
        return round(self.hits / self.requests, 4) if self.requests else 0.0


class _Accumulator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._local_totals: Counter[str] = Counter()
        self._last_flush = time.monotonic()
        self._timer_pid: int | None = None  # the process whose timer is pending (forks copy it)

    def add(self, field: str, amount: int = 1) -> None:
        with self._lock:
            self._pending[field] += amount
            self._local_totals[field] += amount
            due = time.monotonic() - self._last_flush >= FLUSH_INTERVAL_SECONDS
            start_timer = not due and self._timer_pid != os.getpid()
            if start_timer:
                self._timer_pid = os.getpid()
        if due:
            self.flush()
        elif start_timer:
            timer = threading.Timer(FLUSH_INTERVAL_SECONDS, self._flush_from_timer)
            timer.daemon = True
            timer.start()

    def _flush_from_timer(self) -> None:
        with self._lock:
            self._timer_pid = None
        self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending or redis_client() is None:
            return

        def call(client):  # type: ignore[no-untyped-def]
            pipe = client.pipeline(transaction=False)
            for field, amount in pending.items():
                pipe.hincrby(STATS_KEY, field, amount)
            pipe.execute()
            return True

        if not safe_redis_call("set", call, False):
            with self._lock:  # keep the counts for the next flush
                self._pending.update(pending)

    def totals(self) -> CacheTotals | None:
        """Fleet totals from Redis (after flushing ours); this process's without Redis;
        None when Redis is configured but unreachable."""
        self.flush()
        if redis_client() is None:
            with self._lock:
                return CacheTotals(*(self._local_totals[field] for field in FIELDS))

        def call(client):  # type: ignore[no-untyped-def]
            values = client.hmget(STATS_KEY, list(FIELDS))
            return CacheTotals(*(int(value or 0) for value in values))

        return safe_redis_call("get", call, None)

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self._local_totals.clear()
            self._last_flush = time.monotonic()


accumulator = _Accumulator()
atexit.register(accumulator.flush)


def record_hit() -> None:
    accumulator.add("hits")


def record_miss() -> None:
    accumulator.add("misses")


def record_evictions(count: int) -> None:
    if count:
        accumulator.add("evictions", count)
        accumulator.flush()
