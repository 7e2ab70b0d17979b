"""Contract section 6: no invalidation is lost, even when the process that committed has exited.

The scenario of the defect, end to end and over HTTP, with real processes: a board is cached by a
gunicorn server; its Redis is frozen (SIGSTOP: connections are accepted, nothing answers); a result
is committed by `manage.py import_results`, a process that then exits; Redis is thawed. Every
read of the board from 5 seconds after the thaw must show the new result, and none may show the
standings from before it once the first read has shown the new one.

The stack is private to the test: a redis-server on a free port, a SQLite file in a temporary
folder (the committing process and the server must share the database; the test database of
pytest-django lives in memory), gunicorn with two workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.drills.stack import DedicatedRedis, free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]

REPO_ROOT = Path(__file__).resolve().parents[3]
REFLECTED_WITHIN_SECONDS = 5.0

SETUP_BUNDLE = {
    "games": [{"id": 1, "slug": "efootball", "name": "eFootball"}],
    "users": [{"id": 1, "username": "reader"}, {"id": 2}, {"id": 3}],
    "tournaments": [{"id": 1, "name": "Paused Redis Cup", "game": 1, "status": "live"}],
    "registrations": [
        {"id": 1, "tournament": 1, "user": 2},
        {"id": 2, "tournament": 1, "user": 3},
    ],
    "matches": [
        {"id": 1, "tournament": 1, "participant1": 1, "participant2": 2, "state": "scheduled"}
    ],
}
RESULT_BUNDLE = {
    "matches": [
        {
            "id": 1,
            "tournament": 1,
            "participant1": 1,
            "participant2": 2,
            "state": "completed",
            "score1": 1,
            "score2": 3,
            "completed_at": "2026-12-01T18:00:00Z",
        }
    ]
}


def _manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _leader(body: dict[str, Any]) -> tuple[int | None, int]:
    """(competitor id, points) of the row ranked first."""
    first = body["results"][0]
    return first["participant_id"], first["points"]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[DedicatedRedis]:
    redis_server = DedicatedRedis(tmp_path)
    try:
        redis_server.start()
    except (OSError, subprocess.CalledProcessError, RuntimeError) as error:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"cannot start a private redis-server: {error}")
        pytest.skip(f"cannot start a private redis-server: {error}")
    yield redis_server
    redis_server.stop()


@pytest.fixture
def served(tmp_path: Path, private_redis: DedicatedRedis) -> Iterator[dict[str, Any]]:
    """The private stack, migrated and loaded, gunicorn answering; yields its coordinates."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LEADERBOARDS_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIS_URL": private_redis.url,
            "LEADERBOARDS_COMPUTE_ENABLED": "true",
            "LEADERBOARDS_CACHE_ENABLED": "true",
            "LEADERBOARDS_API_ENABLED": "true",
            "RATE_LIMIT_PUBLIC_PER_HOUR": "100000",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "LOG_LEVEL": "WARNING",
        }
    )
    _manage(env, "migrate", "--noinput")
    _manage(env, "import_results", "-", stdin=json.dumps(SETUP_BUNDLE))
    token = _manage(env, "drf_create_token", "reader").split()[2]
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "deltacrown/gunicorn.conf.py",
                "deltacrown.wsgi:application",
            ],
            cwd=REPO_ROOT,
            env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.1)
        yield {"env": env, "base_url": base_url, "token": token, "redis": private_redis}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_result_committed_while_redis_is_frozen_reaches_the_cached_board(served):
    board_url = f"{served['base_url']}/api/tournaments/1/leaderboard/"
    token = served["token"]
    for _ in range(4):  # computed once, then served from the cache by both workers
        status, body = _get(board_url, token)
        assert status == 200
        assert _leader(body) == (2, 0)

    served["redis"].freeze()
    try:
        _manage(served["env"], "import_results", "-", stdin=json.dumps(RESULT_BUNDLE))
    finally:
        served["redis"].thaw()
    thawed_at = time.monotonic()

    leaders: list[tuple[float, tuple[int | None, int]]] = []
    while time.monotonic() - thawed_at < REFLECTED_WITHIN_SECONDS + 2:
        status, body = _get(board_url, token)
        assert status == 200
        leaders.append((time.monotonic() - thawed_at, _leader(body)))
        time.sleep(0.05)

    fresh = [elapsed for elapsed, leader in leaders if leader == (3, 3)]
    assert fresh, f"the board never showed the result: {leaders[-1]}"
    assert fresh[0] <= REFLECTED_WITHIN_SECONDS, f"first fresh read {fresh[0]:.2f} s after thaw"
    stale_after_fresh = [
        elapsed for elapsed, leader in leaders if leader != (3, 3) and elapsed > fresh[0]
    ]
    assert not stale_after_fresh, f"stale reads after the first fresh one: {stale_after_fresh}"
