"""What every fault drill shares: a stack of its own on free loopback ports, started and stopped.

`DrillStack` starts a dedicated `redis-server` (never the machine's shared Redis on 6379), builds
the `small` data set into the database `loadtest_drills` (idempotent), starts
`scripts/serve_prod.sh` on a free port in its own process group, and stops everything it started,
by pid, on exit (also on an exception or Ctrl-C). Helpers break and restore the pieces: Redis
shut down or frozen (SIGSTOP), a gunicorn worker killed. Each drill prints one
`VERDICT: PASS|FAIL <drill>: <evidence>` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from loadtest import poll  # noqa: E402

PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")
SERVE_PROD = str(REPO_ROOT / "scripts" / "serve_prod.sh")
SETUP_DATA = str(REPO_ROOT / "loadtest" / "setup_data.py")
POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432"
DRILL_DATABASE = "loadtest_drills"
REDIS_DB = 12
READY_TIMEOUT_SECONDS = 60
FLAG_VARIABLES = (
    "LEADERBOARDS_COMPUTE_ENABLED",
    "LEADERBOARDS_CACHE_ENABLED",
    "LEADERBOARDS_API_ENABLED",
)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def verdict(name: str, passed: bool, evidence: Mapping[str, Any]) -> int:
    print(
        f"VERDICT: {'PASS' if passed else 'FAIL'} {name}: "
        + json.dumps(evidence, default=str, sort_keys=False)
    )
    return 0 if passed else 1


class DedicatedRedis:
    """A redis-server of our own on a free port, no persistence (as the brief requires)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.pidfile = workdir / f"redis-{self.port}.pid"
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{REDIS_DB}"

    def start(self) -> None:
        self.pidfile.unlink(missing_ok=True)
        subprocess.run(  # noqa: S603
            [  # noqa: S607
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "yes",
                "--pidfile", str(self.pidfile),
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / f"redis-{self.port}.log"),
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.answers() and self.pidfile.exists():
                self.pid = int(self.pidfile.read_text().strip())
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def answers(self) -> bool:
        result = subprocess.run(  # noqa: S603
            ["redis-cli", "-p", str(self.port), "ping"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return result.stdout.strip() == "PONG"

    def shutdown(self) -> None:
        """Stop it the way an outage would look: gone, data lost."""
        subprocess.run(  # noqa: S603
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],  # noqa: S607
            capture_output=True,
            timeout=5,
            check=False,
        )
        self._wait_gone()

    def freeze(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
        if self.answers():
            self.shutdown()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def _wait_gone(self) -> None:
        deadline = time.monotonic() + 5
        while self.pid is not None and time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


class Server:
    """scripts/serve_prod.sh in a process group of its own (gunicorn is exec'd: same pid)."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str, **extra_env: str):
        self.port = free_port()
        self.log_path = workdir / f"server-{self.port}.log"
        self.workdir = workdir
        env = {key: value for key, value in os.environ.items() if key not in FLAG_VARIABLES}
        env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "GUNICORN_WORKERS": "2",
                "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"prometheus-{self.port}"),
                # A load test sends far more than 100 requests per user per hour.
                "RATE_LIMIT_PUBLIC_PER_HOUR": "10000000",
                "RATE_LIMIT_ADMIN_PER_HOUR": "100000",
                "RATE_LIMIT_INVALIDATE_PER_HOUR": "100000",
            }
        )
        env.update(extra_env)
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [SERVE_PROD],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO_ROOT,
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early; see {self.log_path}")
            with contextlib.suppress(OSError, ValueError, TimeoutError):
                response = asyncio.run(poll.http_get("127.0.0.1", self.port, "/healthz", {}, 2))
                if response.status == 200 and len(self.worker_pids()) >= 2:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server not ready in {READY_TIMEOUT_SECONDS} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: children of the master."""
        if self.process is None:
            return []
        result = subprocess.run(  # noqa: S603
            ["pgrep", "-P", str(self.pid)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return sorted(int(pid) for pid in result.stdout.split())

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)  # the group this drill started
            self.process.wait(timeout=5)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


def build_data(redis_url: str, manifest_path: Path, clients: int = 60) -> dict[str, Any]:
    subprocess.run(  # noqa: S603
        [
            PYTHON,
            SETUP_DATA,
            "build",
            "--database-url",
            f"{POSTGRES_ADMIN_URL}/{DRILL_DATABASE}",
            "--redis-url",
            redis_url,
            "--profile",
            "small",
            "--clients",
            str(clients),
            "--manifest",
            str(manifest_path),
        ],
        check=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    return json.loads(manifest_path.read_text())


class DrillStack(contextlib.AbstractContextManager["DrillStack"]):
    """Dedicated Redis + data + serve_prod.sh; `database_url` may point elsewhere (a proxy)."""

    def __init__(self, name: str, database_url: str | None = None, **server_env: str) -> None:
        self.name = name
        self.workdir = Path(tempfile.mkdtemp(prefix=f"drill_{name}_"))
        self.redis = DedicatedRedis(self.workdir)
        self.database_url = database_url or f"{POSTGRES_ADMIN_URL}/{DRILL_DATABASE}"
        self.server_env = server_env
        self.server: Server | None = None
        self.manifest: dict[str, Any] = {}

    def __enter__(self) -> DrillStack:
        try:
            say(f"{self.name}: dedicated Redis")
            self.redis.start()
            say(f"{self.name}: Redis on port {self.redis.port}; building the data set")
            self.manifest = build_data(self.redis.url, self.workdir / "manifest.json")
            self.server = Server(self.workdir, self.database_url, self.redis.url, **self.server_env)
            say(f"{self.name}: starting serve_prod.sh on port {self.server.port}")
            self.server.start()
            say(
                f"{self.name}: ready (master {self.server.pid}, workers "
                f"{self.server.worker_pids()}, logs in {self.workdir})"
            )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.redis.stop()
        say(f"{self.name}: stopped everything it started (logs kept in {self.workdir})")

    # --- load helpers -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def fleet(self, clients: int = 40, on_response: poll.OnResponse | None = None) -> poll.Fleet:
        tokens = [client["token"] for client in self.manifest["clients"][:clients]]
        config = poll.LoadConfig("127.0.0.1", self.port, tokens, timeout=10.0)
        config.on_response = on_response
        return poll.Fleet(config)

    async def get_json(self, path: str) -> tuple[int, Any]:
        token = self.manifest["clients"][0]["token"]
        response = await poll.http_get(
            "127.0.0.1", self.port, path, {"Authorization": f"Token {token}"}, 10
        )
        body = json.loads(response.body) if response.body else None
        return response.status, body

    async def scrape(self) -> list[poll.Sample]:
        return await poll.scrape("127.0.0.1", self.port)


def board_without_timestamp(body: Any) -> Any:
    """A board body for comparison: `computed_at` changes with every computation."""
    if isinstance(body, dict):
        return {key: value for key, value in body.items() if key != "computed_at"}
    return body


def window(records: Sequence[poll.Record], start: float, end: float) -> list[poll.Record]:
    """Records whose request was sent between `start` and `end` (time.time())."""
    return [record for record in records if start <= record.started_wall < end]


def status_counts(records: Sequence[poll.Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        key = str(record.status) if record.status else f"error:{record.error}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def latency(records: Sequence[poll.Record]) -> dict[str, float | int]:
    return poll.latency_summary([record.latency_ms for record in records if record.status])


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    say(f"{label} took {time.perf_counter() - started:.1f} s")
