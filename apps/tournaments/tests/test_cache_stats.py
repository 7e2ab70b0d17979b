"""Fleet-wide cache totals: an idle process's counts and a short-lived process's evictions
still reach Redis within about a second."""

from __future__ import annotations

import threading

from apps.tournaments.services import cache_stats, housekeeping
from apps.tournaments.services.cache_stats import STATS_KEY, accumulator


def _stored(client, field: str) -> int:
    return int(client.hget(STATS_KEY, field) or 0)


def test_counts_of_an_idle_process_are_flushed_by_its_housekeeping(use_redis, transactional_db):
    # given a flush just happened, so the next count is not due for a second
    accumulator.flush()

    # when one hit is counted and no request follows
    cache_stats.record_hit()
    assert _stored(use_redis, "hits") == 0

    # then the next round of the serving process's housekeeping (its own thread) sends it
    worker = threading.Thread(target=housekeeping.run_once)
    worker.start()
    worker.join()
    assert _stored(use_redis, "hits") == 1


def test_evictions_are_sent_at_once(use_redis):
    accumulator.flush()

    cache_stats.record_evictions(3)

    assert _stored(use_redis, "evictions") == 3
