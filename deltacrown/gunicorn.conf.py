"""gunicorn configuration of the leaderboards service.

    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc \\
        gunicorn --config deltacrown/gunicorn.conf.py deltacrown.wsgi:application

Metrics across workers (../docs/leaderboards/observability_guide.md): prometheus-client picks its
multiprocess mode when it is imported, in each worker, from PROMETHEUS_MULTIPROC_DIR. The variable
must therefore be in the environment gunicorn starts with (the master refuses to start without
it); `on_starting` empties the folder of the previous run's files (they would be summed into this
run's counters) and `child_exit` marks a dead worker's files. Each worker imports the metrics when
Django loads its middleware at boot, so every metric is exported from the first scrape.

Environment: GUNICORN_WORKERS (default 2: two sync workers per two cores measured best here),
GUNICORN_THREADS (default 1 = sync workers; above 1, gunicorn's gthread workers with that many
threads each: cached reads stop queueing behind a recomputation, at some cost in peak
throughput; docs/performance.md has the figures), GUNICORN_BIND (default 127.0.0.1:8000;
0.0.0.0:8000 in a container), LOG_LEVEL (default INFO).
No access log: the application logs one `request_finished` line per request, without client
addresses; gunicorn's own log lines are JSON on stdout like the application's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # the master loads the log formatter before the app
    sys.path.insert(0, str(PROJECT_ROOT))

from deltacrown.logs import gunicorn_logging_config  # noqa: E402

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise RuntimeError(f"{name} must be a positive integer, got {raw!r}") from error
    if value < 1:
        raise RuntimeError(f"{name} must be a positive integer, got {raw!r}")
    return value


workers = _positive_int("GUNICORN_WORKERS", 2)
# gunicorn switches a sync worker class to gthread by itself when threads > 1.
threads = _positive_int("GUNICORN_THREADS", 1)
bind = [os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"]
timeout = 30
# The longest request line gunicorn reads (its default is 4094 bytes). `GET /api/profiles/?ids=`
# takes 200 ids of up to 19 digits: about 4,040 bytes with plain commas, about 4,840 with the
# commas percent-encoded as some clients send them. 8190 is gunicorn's maximum.
limit_request_line = 8190
graceful_timeout = 30
# The heartbeat file of each worker in memory, not on a possibly slow disk (when there is one).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
accesslog = None
errorlog = "-"
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), shared by
# every instance on the host; nothing here uses it (gunicornc), so none is opened.
control_socket_disable = True
loglevel = (os.environ.get("LOG_LEVEL", "").strip() or "INFO").lower()
logconfig_dict = gunicorn_logging_config(loglevel)


def empty_multiprocess_dir(directory: Path) -> int:
    """Create `directory`, or remove the metric files a previous run left in it (only
    prometheus-client's `*.db` files: the folder may be shared with other things).
    Returns how many files were removed."""
    directory.mkdir(parents=True, exist_ok=True)
    removed = 0
    for leftover in directory.glob("*.db"):
        if leftover.is_file():
            leftover.unlink()
            removed += 1
    return removed


def on_starting(server: Any) -> None:
    configured = os.environ.get(MULTIPROCESS_DIR_VARIABLE, "").strip()
    if not configured:
        raise RuntimeError(
            f"{MULTIPROCESS_DIR_VARIABLE} must be set before gunicorn starts (e.g. "
            f"{MULTIPROCESS_DIR_VARIABLE}=/tmp/prometheus-multiproc): without it every worker "
            "keeps its own metrics and a scrape sees one worker's counts"
        )
    removed = empty_multiprocess_dir(Path(configured))
    server.log.info(
        "Prometheus multiprocess folder %s ready (%d old metric files removed)", configured, removed
    )


def child_exit(server: Any, worker: Any) -> None:
    # Imported here, never at the top: importing prometheus_client in the master before the
    # environment is read would fix the wrong mode for every forked worker.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
