"""gunicorn: deltacrown/gunicorn.conf.py, and metrics summed across workers in multiprocess mode.

The slow test starts gunicorn with three workers against PostgreSQL (its own database, created
and dropped here) and Redis, sends 60 requests and checks one scrape counts all 60. It is skipped
only when PostgreSQL does not answer and REQUIRE_REDIS is not 1 (CI's PostgreSQL run sets it, and
there the test fails instead). Without a reachable Redis (and REQUIRE_REDIS unset) it runs on the
in-process cache of each worker; the counts must add up all the same.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from django.conf import settings as django_settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

ROOT = Path(django_settings.BASE_DIR)
CONFIG_FILE = ROOT / "deltacrown" / "gunicorn.conf.py"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/deltacrown"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
SEVEN_METRICS = (
    "leaderboard_requests_total",
    "leaderboard_cache_hits_total",
    "leaderboard_cache_misses_total",
    "leaderboard_cache_evictions_total",
    "leaderboard_cache_errors_total",
    "leaderboard_service_latency_seconds",
    "leaderboard_api_latency_seconds",
)
WORKERS = 3
REQUESTS_SENT = 60

SETUP_SCRIPT = """
import json
from rest_framework.authtoken.models import Token
from apps.common.models import FeatureFlag, FlagName
from apps.tournaments.tests.factories import UserFactory
from apps.tournaments.tests.scenarios import build_solo_cup

cup = build_solo_cup()
token, _ = Token.objects.get_or_create(user=UserFactory(username="gunicorn-probe"))
for name in FlagName:
    FeatureFlag.objects.update_or_create(
        name=name.value, defaults={"is_enabled": True, "rollout_percent": 100}
    )
print("SETUP " + json.dumps({"tournament_id": cup.tournament.pk, "token": token.key}))
"""


def _load_config(monkeypatch, **environment: str | None) -> ModuleType:
    """Execute deltacrown/gunicorn.conf.py as gunicorn does, under the given environment."""
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", CONFIG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RecordingLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(message % args)


# --- the configuration file ----------------------------------------------------------------------


def test_the_config_defaults(monkeypatch) -> None:
    config = _load_config(
        monkeypatch,
        GUNICORN_WORKERS=None,
        GUNICORN_THREADS=None,
        GUNICORN_BIND=None,
        LOG_LEVEL=None,
    )

    assert config.workers == 2
    assert config.threads == 1  # sync workers
    assert config.bind == ["127.0.0.1:8000"]
    assert config.accesslog is None
    assert config.timeout == 30
    assert config.worker_tmp_dir == ("/dev/shm" if os.path.isdir("/dev/shm") else None)  # noqa: S108
    assert config.loglevel == "info"
    assert config.control_socket_disable is True
    assert config.logconfig_dict["loggers"]["gunicorn.error"]["handlers"] == ["stdout"]
    assert config.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == []


def test_the_config_reads_workers_bind_and_level_from_the_environment(monkeypatch) -> None:
    config = _load_config(
        monkeypatch,
        GUNICORN_WORKERS="5",
        GUNICORN_THREADS="4",
        GUNICORN_BIND="0.0.0.0:9000",
        LOG_LEVEL="warning",
    )

    assert config.workers == 5
    assert config.threads == 4
    assert config.bind == ["0.0.0.0:9000"]
    assert config.loglevel == "warning"


@pytest.mark.parametrize("variable", ["GUNICORN_WORKERS", "GUNICORN_THREADS"])
@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_the_config_refuses_a_bad_worker_or_thread_count(
    monkeypatch, variable: str, value: str
) -> None:
    with pytest.raises(RuntimeError, match=f"{variable} must be a positive integer"):
        _load_config(monkeypatch, **{variable: value})


def test_on_starting_refuses_to_start_without_the_multiprocess_dir(monkeypatch) -> None:
    config = _load_config(monkeypatch, PROMETHEUS_MULTIPROC_DIR=None)

    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR must be set"):
        config.on_starting(SimpleNamespace(log=_RecordingLog()))


def test_on_starting_removes_only_the_metric_files_of_the_previous_run(
    monkeypatch, tmp_path: Path
) -> None:
    folder = tmp_path / "multiproc"
    folder.mkdir()
    for leftover in ("counter_101.db", "histogram_101.db", "gauge_livesum_7.db"):
        (folder / leftover).write_bytes(b"old")
    (folder / "notes.txt").write_text("not ours")
    (folder / "nested.db").mkdir()
    config = _load_config(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(folder))
    log = _RecordingLog()

    config.on_starting(SimpleNamespace(log=log))

    assert sorted(path.name for path in folder.iterdir()) == ["nested.db", "notes.txt"]
    assert log.lines == [
        f"Prometheus multiprocess folder {folder} ready (3 old metric files removed)"
    ]


def test_on_starting_creates_a_missing_multiprocess_dir(monkeypatch, tmp_path: Path) -> None:
    folder = tmp_path / "absent" / "multiproc"
    config = _load_config(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(folder))

    config.on_starting(SimpleNamespace(log=_RecordingLog()))

    assert folder.is_dir()


def test_child_exit_marks_the_worker_dead(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"live")
    (tmp_path / "counter_4242.db").write_bytes(b"kept: counters outlive their worker")
    config = _load_config(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    config.child_exit(SimpleNamespace(), SimpleNamespace(pid=4242))

    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_4242.db"]


@pytest.mark.slow
def test_gunicorn_accepts_the_config_and_loads_the_application(tmp_path: Path) -> None:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--check-config",
            "--config",
            str(CONFIG_FILE),
            "deltacrown.wsgi:application",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


# --- three workers, one scrape -------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    admin_url: str  # where CREATE / DROP DATABASE run
    database_url: str  # this test's own database
    name: str


def _postgres_for_this_test() -> Postgres:
    """A database name derived from DATABASE_URL (or the default), never the pytest test
    database: `<name>_obs_gunicorn_<pid>`."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        configured = DEFAULT_POSTGRES_URL
    parts = urlsplit(configured)
    base = re.sub(r"[^a-z0-9_]", "_", parts.path.lstrip("/").lower())[:30] or "deltacrown"
    name = f"{base}_obs_gunicorn_{os.getpid()}"
    return Postgres(
        admin_url=parts._replace(path="/postgres").geturl(),
        database_url=parts._replace(path=f"/{name}").geturl(),
        name=name,
    )


def _skip_or_fail(message: str) -> None:
    if os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def own_database() -> Iterator[Postgres]:
    """Create this test's database; drop it afterwards (only the one created here)."""
    target = _postgres_for_this_test()
    try:
        admin = psycopg.connect(target.admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        _skip_or_fail(f"PostgreSQL is not reachable at {target.admin_url}: {error}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
    try:
        yield target
    finally:
        with psycopg.connect(target.admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(target.name)
                )
            )


@pytest.fixture
def gunicorn_redis_url() -> Iterator[str]:
    """The tests' Redis, flushed before and after; "" (no Redis) when it does not answer and
    REQUIRE_REDIS is not 1."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_TEST_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis at {url} is not reachable: {error}")
        yield ""
        return
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_manage(environment: dict[str, str], *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback only)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_until(check, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")


def _answers(base_url: str) -> bool:
    try:
        return _get(f"{base_url}/healthz")[0] == 200
    except OSError:
        return False


def _worker_pids_with_metric_files(folder: Path) -> set[str]:
    return {path.stem.split("_")[-1] for path in folder.glob("counter_*.db")}


def _samples(text: str) -> dict[str, list]:
    families = {}
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        families[name] = list(family.samples)
    return families


def _sum(samples: list, sample_name: str) -> float:
    return sum(sample.value for sample in samples if sample.name == sample_name)


def _requests_per_worker(folder: Path, scratch: Path) -> dict[str, float]:
    """leaderboard_requests_total of each worker alone, read from its own file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        alone = scratch / path.stem
        alone.mkdir()
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[path.stem.split("_")[-1]] = sum(
            sample.value
            for family in registry.collect()
            for sample in family.samples
            if sample.name == "leaderboard_requests_total"
        )
    return counts


@pytest.mark.slow
def test_three_gunicorn_workers_report_every_request_in_one_scrape(
    own_database: Postgres, gunicorn_redis_url: str, tmp_path: Path
) -> None:
    multiprocess_dir = tmp_path / "multiproc"
    multiprocess_dir.mkdir()
    (multiprocess_dir / "counter_1.db").write_bytes(b"a previous run's file")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LEADERBOARDS_") and name not in {"METRICS_BEARER_TOKEN"}
    }
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "deltacrown.settings",
            "DJANGO_ENV": "",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": own_database.database_url,
            "REDIS_URL": gunicorn_redis_url,
            "RATE_LIMIT_PUBLIC_PER_HOUR": "10000",
            "PROMETHEUS_MULTIPROC_DIR": str(multiprocess_dir),
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    _run_manage(environment, "migrate", "--noinput")
    setup_output = _run_manage(environment, "shell", "-c", SETUP_SCRIPT)
    [setup_line] = [line for line in setup_output.splitlines() if line.startswith("SETUP ")]
    setup = json.loads(setup_line.removeprefix("SETUP "))

    stdout_path = tmp_path / "gunicorn.stdout"
    stderr_path = tmp_path / "gunicorn.stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(CONFIG_FILE),
                "deltacrown.wsgi:application",
            ],
            cwd=ROOT,
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        _wait_until(lambda: _answers(base_url), 30, "gunicorn to answer /healthz")
        _wait_until(
            lambda: len(_worker_pids_with_metric_files(multiprocess_dir)) == WORKERS,
            30,
            f"{WORKERS} workers to create their metric files",
        )

        # The first scrape, before any API request: every metric is there, at zero.
        status, body = _get(f"{base_url}/metrics")
        first = _samples(body.decode())
        assert status == 200
        for name in SEVEN_METRICS:
            assert first.get(name), f"{name} is missing from the first scrape"
        assert _sum(first["leaderboard_requests_total"], "leaderboard_requests_total") == 0
        assert "1" not in _worker_pids_with_metric_files(multiprocess_dir)  # emptied at start

        board_url = f"{base_url}/api/tournaments/{setup['tournament_id']}/leaderboard/"
        headers = {"Authorization": f"Token {setup['token']}"}
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: _get(board_url, headers)[0], range(REQUESTS_SENT)))
        assert statuses == [200] * REQUESTS_SENT

        status, body = _get(f"{base_url}/metrics")
        after = _samples(body.decode())
        assert status == 200
        requests_total = after["leaderboard_requests_total"]
        assert _sum(requests_total, "leaderboard_requests_total") == REQUESTS_SENT
        assert {
            (sample.labels["endpoint"], sample.labels["status_code"])
            for sample in requests_total
            if sample.value
        } == {("tournament_leaderboard", "200")}
        hits = _sum(after["leaderboard_cache_hits_total"], "leaderboard_cache_hits_total")
        misses = _sum(after["leaderboard_cache_misses_total"], "leaderboard_cache_misses_total")
        assert hits + misses == REQUESTS_SENT
        assert misses >= 1
        service = "leaderboard_service_latency_seconds"
        assert _sum(after[service], f"{service}_count") == REQUESTS_SENT
        api = "leaderboard_api_latency_seconds"
        assert _sum(after[api], f"{api}_count") == REQUESTS_SENT
        # The scrape adds up the workers' own files: more than one worker served requests.
        per_worker = _requests_per_worker(multiprocess_dir, tmp_path)
        assert sum(per_worker.values()) == REQUESTS_SENT
        assert len([count for count in per_worker.values() if count]) >= 2, per_worker
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    stdout_lines = stdout_path.read_text().splitlines()
    parsed = [json.loads(line) for line in stdout_lines]  # every stdout line is one JSON object
    events = [line["event"] for line in parsed]
    assert any(event.startswith("Starting gunicorn") for event in events)
    assert not any("Control socket" in event for event in events)
    assert len([event for event in events if event.startswith("Booting worker")]) == WORKERS
    finished = [line for line in parsed if line["event"] == "request_finished"]
    board_lines = [line for line in finished if line["path"].endswith("/leaderboard/")]
    assert len(board_lines) == REQUESTS_SENT
    assert all(line["user_id"] is not None and line["status"] == 200 for line in board_lines)
    assert len({line["request_id"] for line in finished}) == len(finished)
    assert stderr_path.read_text() == ""
