"""Fleet-wide cache totals: an idle process's counts and a short-lived process's evictions
still reach Redis within about a second."""

from __future__ import annotations

import time

from apps.tournaments.services import cache_stats
from apps.tournaments.services.cache_stats import STATS_KEY, accumulator


def _stored(client, field: str) -> int:
    return int(client.hget(STATS_KEY, field) or 0)


def test_counts_of_a_process_that_goes_idle_are_flushed_by_a_timer(use_redis):
    # given a flush just happened, so the next count is not due for a second
    accumulator.flush()

    # when one hit is counted and no request follows
    cache_stats.record_hit()

    # then it is not sent at once, but within about a second without any further traffic
    assert _stored(use_redis, "hits") == 0
    deadline = time.monotonic() + 3
    while _stored(use_redis, "hits") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _stored(use_redis, "hits") == 1


def test_evictions_are_sent_at_once(use_redis):
    accumulator.flush()

    cache_stats.record_evictions(3)

    assert _stored(use_redis, "evictions") == 3
