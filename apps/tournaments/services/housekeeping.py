"""The background thread of a process that serves requests.

Every BOARD_INVALIDATION_DRAIN_SECONDS it PINGs Redis past the circuit breaker (an idle process
notices an outage too, and an open breaker is closed as soon as Redis answers: `redis_gateway.
probe`), applies the invalidations still pending
(`board_cache.invalidation.drain`) and flushes this process's cache totals to Redis
(`cache_stats`), so an idle worker's counts reach the fleet totals too. The web entry points
(`deltacrown.wsgi`, `deltacrown.asgi`) start it once per process, after a fork as well; commands
and tests do not run it.
"""

from __future__ import annotations

import os
import threading
import time

import structlog
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from apps.common import redis_gateway
from apps.tournaments.services import cache_stats
from apps.tournaments.services.board_cache import invalidation

log = structlog.get_logger(__name__)

_started_in_pid: int | None = None
_start_lock = threading.Lock()


def run_once() -> None:
    """One round of housekeeping; never raises (the thread must outlive any one failure)."""
    redis_gateway.probe()
    close_old_connections()  # a thread's connection honours CONN_MAX_AGE and health checks too
    try:
        invalidation.drain()
    except DatabaseError as error:
        log.warning("board_invalidation_drain_failed", error=type(error).__name__)
    except Exception:
        log.exception("board_invalidation_drain_crashed")
    finally:
        close_old_connections()
    cache_stats.accumulator.flush()


def _run_forever() -> None:
    while True:
        time.sleep(settings.BOARD_INVALIDATION_DRAIN_SECONDS)
        run_once()


def start() -> None:
    """Mark this process as serving and start its housekeeping thread (once per process)."""
    global _started_in_pid
    with _start_lock:
        if _started_in_pid == os.getpid():
            return
        _started_in_pid = os.getpid()
    threading.Thread(target=_run_forever, name="housekeeping", daemon=True).start()
