"""Cache hit, miss and eviction totals across every worker and host, kept in Redis.

Prometheus counters are per process (summed at scrape time); the staff cache-status endpoint
needs fleet-wide totals from any one worker, so each process also adds its counts to one Redis
hash. To keep the hot path free of extra round trips the counts accumulate in the process and
are flushed with one HINCRBY pipeline: by the next count once FLUSH_INTERVAL_SECONDS have passed,
by the housekeeping thread of a serving process every second (an idle worker's counts), and at
exit. Evictions are flushed at once: they are rare and often made by short-lived processes (an
import, a shell). So the totals lag by about a second, as the contract allows.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import Counter
from dataclasses import dataclass

import redis

from apps.common.metrics import RedisOperation
from apps.common.redis_gateway import safe_redis_call

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
        self._last_flush = time.monotonic()

    def add(self, field: str, amount: int = 1) -> None:
        with self._lock:
            self._pending[field] += amount
            due = time.monotonic() - self._last_flush >= FLUSH_INTERVAL_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return

        def call(client: redis.Redis) -> bool:
            pipe = client.pipeline(transaction=False)
            for field, amount in pending.items():
                pipe.hincrby(STATS_KEY, field, amount)
            pipe.execute()
            return True

        if not safe_redis_call(RedisOperation.SET, call, False):
            with self._lock:  # keep the counts for the next flush
                self._pending.update(pending)

    def totals(self) -> CacheTotals | None:
        """Fleet totals (after flushing this process's); None when Redis is unreachable."""
        self.flush()

        def call(client: redis.Redis) -> CacheTotals:
            values = client.hmget(STATS_KEY, list(FIELDS))
            return CacheTotals(*(int(value or 0) for value in values))

        return safe_redis_call(RedisOperation.GET, call, None)

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
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
