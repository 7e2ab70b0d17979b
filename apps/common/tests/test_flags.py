"""Feature flags (contract section 5): precedence, rollout, propagation, and Redis outages.

Precedence: the environment variable of the flag's name when it is `true` / `false` (any case),
else the database row, else off. A change made with `apps.common.flag_changes` drops the cached
rows once its transaction commits; any change, even a raw ORM write, reaches every process within
5 s. The shared flag cache in Redis (`dc:flags:v1`) holds database rows only, never overrides.
(The audit records of `set_flag` / `delete_flag` are tested in test_audit.py.)

Tests that run other processes need a database those processes can open: the PostgreSQL test
database itself (committed data, so a transactional test), or on SQLite, whose test database lives
in this process's memory, a migrated SQLite file.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction

from apps.common import flags, metrics, redis_gateway
from apps.common.flag_changes import delete_flag, set_flag
from apps.common.flags import (
    SHARED_CACHE_KEY,
    FlagSource,
    FlagState,
    all_flag_states,
    flag_state,
    is_flag_enabled,
    is_state_enabled_for,
    rollout_bucket,
)
from apps.common.models import FeatureFlag, FlagName

PROJECT_DIR = Path(django_settings.BASE_DIR)
CLOSED_REDIS_URL = "redis://127.0.0.1:6390/0"
PROPAGATION_LIMIT_SECONDS = 5.0
USER_IDS = range(1, 10_001)
ROWS_ALL_OFF = {
    "LEADERBOARDS_API_ENABLED": [False, 100],
    "LEADERBOARDS_CACHE_ENABLED": [False, 100],
    "LEADERBOARDS_COMPUTE_ENABLED": [False, 100],
}


@pytest.fixture(autouse=True)
def _no_flag_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FlagName:
        monkeypatch.delenv(name.value, raising=False)


@pytest.fixture(params=["embedded_redis", "use_redis"])
def flag_cache(request: pytest.FixtureRequest) -> str:
    """Run the test once on the embedded Redis and once with the shared cache in a real Redis."""
    request.getfixturevalue(request.param)
    return request.param


@pytest.fixture
def change_flag(django_capture_on_commit_callbacks) -> Callable[..., FeatureFlag]:
    """`set_flag` by a script, with its commit hooks run as after a real commit."""

    def set_committed(name: str, **fields: Any) -> FeatureFlag:
        with django_capture_on_commit_callbacks(execute=True):
            return set_flag(name, actor_id=None, **fields)

    return set_committed


# --- The data migration ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_data_migration_created_the_three_flags_all_off() -> None:
    assert list(
        FeatureFlag.objects.order_by("name").values_list("name", "is_enabled", "rollout_percent")
    ) == [
        ("LEADERBOARDS_API_ENABLED", False, 100),
        ("LEADERBOARDS_CACHE_ENABLED", False, 100),
        ("LEADERBOARDS_COMPUTE_ENABLED", False, 100),
    ]
    assert all_flag_states() == {
        name.value: FlagState(name.value, False, FlagSource.DB, 100) for name in FlagName
    }


# --- Precedence: environment, then database, then off ---------------------------------------------


@pytest.mark.django_db
def test_database_row_beats_the_default(flag_cache: str, change_flag) -> None:
    change_flag(FlagName.CACHE, is_enabled=True, rollout_percent=40)

    assert flag_state(FlagName.CACHE) == FlagState(
        "LEADERBOARDS_CACHE_ENABLED", True, FlagSource.DB, 40
    )


@pytest.mark.django_db
def test_flag_without_a_row_is_off_from_the_default(
    flag_cache: str, django_capture_on_commit_callbacks
) -> None:
    # given the compute flag read once (and cached) as a database row
    assert flag_state(FlagName.COMPUTE).source is FlagSource.DB

    # when its row is deleted with delete_flag
    with django_capture_on_commit_callbacks(execute=True):
        assert delete_flag(FlagName.COMPUTE, actor_id=None) is True

    # then it is off, by default; so is a name that never had a row
    assert flag_state(FlagName.COMPUTE) == FlagState(
        "LEADERBOARDS_COMPUTE_ENABLED", False, FlagSource.DEFAULT, 100
    )
    assert is_flag_enabled(FlagName.COMPUTE, user_id=1) is False
    assert flag_state("LEADERBOARDS_UNKNOWN_ENABLED") == FlagState(
        "LEADERBOARDS_UNKNOWN_ENABLED", False, FlagSource.DEFAULT, 100
    )


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["true", "TRUE", "True", " tRuE "])
def test_environment_true_beats_a_database_row_that_is_off(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", raw)

    assert flag_state(FlagName.API) == FlagState(
        "LEADERBOARDS_API_ENABLED", True, FlagSource.ENV, 100
    )
    assert is_flag_enabled(FlagName.API, user_id=None) is True


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["false", "FALSE", "False", " false\n"])
def test_environment_false_beats_a_database_row_that_is_on(
    monkeypatch: pytest.MonkeyPatch, change_flag, raw: str
) -> None:
    change_flag(FlagName.API, is_enabled=True)
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", raw)

    assert flag_state(FlagName.API) == FlagState(
        "LEADERBOARDS_API_ENABLED", False, FlagSource.ENV, 100
    )
    assert is_flag_enabled(FlagName.API, user_id=1) is False


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["1", "0", "yes", "no", "on", "off", "", "  ", "enabled", "tru"])
def test_environment_value_other_than_true_or_false_is_ignored(
    monkeypatch: pytest.MonkeyPatch, change_flag, raw: str
) -> None:
    # given the row on at 100 % and an environment value that is neither true nor false
    change_flag(FlagName.COMPUTE, is_enabled=True)
    monkeypatch.setenv("LEADERBOARDS_COMPUTE_ENABLED", raw)

    # then the database row decides
    assert flag_state(FlagName.COMPUTE) == FlagState(
        "LEADERBOARDS_COMPUTE_ENABLED", True, FlagSource.DB, 100
    )


def test_environment_override_needs_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # No database access is allowed in this test: an override is decided before any row is read.
    monkeypatch.setenv("LEADERBOARDS_CACHE_ENABLED", "false")

    assert flag_state(FlagName.CACHE) == FlagState(
        "LEADERBOARDS_CACHE_ENABLED", False, FlagSource.ENV, 100
    )


# --- Rollout --------------------------------------------------------------------------------------


def _enabled_users(state: FlagState) -> set[int]:
    return {user_id for user_id in USER_IDS if is_state_enabled_for(state, user_id)}


def test_rollout_of_0_percent_lets_nobody_in() -> None:
    state = FlagState(FlagName.COMPUTE.value, True, FlagSource.DB, 0)

    assert _enabled_users(state) == set()
    assert is_state_enabled_for(state, None) is False


def test_rollout_of_100_percent_lets_everybody_in_including_requests_without_user() -> None:
    state = FlagState(FlagName.COMPUTE.value, True, FlagSource.DB, 100)

    assert _enabled_users(state) == set(USER_IDS)
    assert is_state_enabled_for(state, None) is True


def test_flag_that_is_off_lets_nobody_in_whatever_the_rollout() -> None:
    assert _enabled_users(FlagState(FlagName.COMPUTE.value, False, FlagSource.DB, 100)) == set()
    assert _enabled_users(FlagState(FlagName.COMPUTE.value, False, FlagSource.DB, 50)) == set()


def test_rollout_of_25_percent_lets_about_a_quarter_in_and_no_one_without_user() -> None:
    state = FlagState(FlagName.API.value, True, FlagSource.DB, 25)

    enabled = _enabled_users(state)

    # 10,000 users at 25 %: 2,500 expected, standard deviation about 43.
    assert 2_350 <= len(enabled) <= 2_650
    assert is_state_enabled_for(state, None) is False


@pytest.mark.parametrize("percent", [5, 10, 25])
def test_rollout_share_is_close_to_the_percentage_at_canary_steps(percent: int) -> None:
    enabled = _enabled_users(FlagState(FlagName.API.value, True, FlagSource.DB, percent))

    assert abs(len(enabled) - 100 * percent) <= 150


def test_same_user_gets_the_same_answer_every_time() -> None:
    state = FlagState(FlagName.API.value, True, FlagSource.DB, 25)

    first = _enabled_users(state)
    second = _enabled_users(state)

    assert first == second


def test_raising_the_rollout_keeps_every_user_who_was_in() -> None:
    shares = [
        _enabled_users(FlagState(FlagName.API.value, True, FlagSource.DB, percent))
        for percent in (5, 10, 25, 50, 100)
    ]

    assert all(smaller <= larger for smaller, larger in itertools.pairwise(shares))


@pytest.mark.parametrize(
    ("name", "buckets"),
    [
        ("LEADERBOARDS_API_ENABLED", [17, 36, 23, 96]),
        ("LEADERBOARDS_CACHE_ENABLED", [98, 0, 76, 63]),
    ],
)
def test_rollout_buckets_are_pinned_per_flag(name: str, buckets: list[int]) -> None:
    # sha256("<flag>:<user id>"), first 8 bytes big-endian, modulo 100. A change of the hash would
    # reshuffle every running canary, so the values are fixed; each flag has its own canary group.
    assert [rollout_bucket(name, user_id) for user_id in (1, 2, 3, 42)] == buckets


_BUCKETS_SCRIPT = """
import json, sys
import django
django.setup()
from apps.common.flags import FlagSource, FlagState, is_state_enabled_for, rollout_bucket
state = FlagState("LEADERBOARDS_API_ENABLED", True, FlagSource.DB, 25)
print(json.dumps({
    "buckets": [rollout_bucket("LEADERBOARDS_API_ENABLED", u) for u in range(1, 2001)],
    "enabled": [u for u in range(1, 10001) if is_state_enabled_for(state, u)],
}))
"""


def _subprocess_environment(**variables: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LEADERBOARDS_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment["DJANGO_SETTINGS_MODULE"] = "deltacrown.settings"
    environment.update(variables)
    return environment


@pytest.mark.slow
@pytest.mark.parametrize("hash_seed", ["0", "1", "4242"])
def test_rollout_is_the_same_in_another_process_whatever_its_hash_seed(hash_seed: str) -> None:
    # given this process's answers at 25 %
    state = FlagState("LEADERBOARDS_API_ENABLED", True, FlagSource.DB, 25)
    expected = {
        "buckets": [rollout_bucket("LEADERBOARDS_API_ENABLED", u) for u in range(1, 2001)],
        "enabled": sorted(_enabled_users(state)),
    }

    # when another interpreter with a different string-hash seed computes them
    completed = subprocess.run(
        [sys.executable, "-c", _BUCKETS_SCRIPT],
        cwd=PROJECT_DIR,
        env=_subprocess_environment(PYTHONHASHSEED=hash_seed),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    # then every user gets the same answer there
    assert json.loads(completed.stdout) == expected


@pytest.mark.django_db
def test_environment_override_ignores_the_rollout(
    monkeypatch: pytest.MonkeyPatch, change_flag
) -> None:
    # given the row on for 0 % of users
    change_flag(FlagName.API, is_enabled=True, rollout_percent=0)
    assert is_flag_enabled(FlagName.API, user_id=1) is False

    # when the environment switches the flag on
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", "true")

    # then it is on for everybody, with or without user
    assert all(is_flag_enabled(FlagName.API, user_id=user_id) for user_id in range(1, 1001))
    assert is_flag_enabled(FlagName.API, user_id=None) is True


@pytest.mark.django_db
def test_partial_rollout_from_the_database_applies_per_user(change_flag) -> None:
    # given the row on for 25 %
    change_flag(FlagName.CACHE, is_enabled=True, rollout_percent=25)
    expected = {u for u in range(1, 1001) if rollout_bucket("LEADERBOARDS_CACHE_ENABLED", u) < 25}

    # then exactly the users whose bucket is below 25 are in, and nobody without a user
    assert {u for u in range(1, 1001) if is_flag_enabled(FlagName.CACHE, user_id=u)} == expected
    assert 200 <= len(expected) <= 300
    assert is_flag_enabled(FlagName.CACHE) is False


# --- Propagation in this process ------------------------------------------------------------------


@pytest.mark.django_db
def test_set_flag_change_is_seen_at_once_by_the_same_process(flag_cache: str, change_flag) -> None:
    # given the flag read (and cached) as off
    assert is_flag_enabled(FlagName.COMPUTE, user_id=1) is False

    # when set_flag turns it on at 50 % and its transaction commits
    change_flag(FlagName.COMPUTE, is_enabled=True, rollout_percent=50)

    # then the very next read sees it
    assert flag_state(FlagName.COMPUTE) == FlagState(
        "LEADERBOARDS_COMPUTE_ENABLED", True, FlagSource.DB, 50
    )


@pytest.mark.django_db
def test_set_flag_drops_the_cached_rows_only_once_its_transaction_commits(
    use_redis: redis.Redis, django_capture_on_commit_callbacks
) -> None:
    # given the rows read, so cached in this process and in Redis
    assert flag_state(FlagName.API).enabled is False
    assert json.loads(use_redis.get(SHARED_CACHE_KEY)) == ROWS_ALL_OFF

    # when set_flag turns the API flag on, before the commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_flag(FlagName.API, actor_id=None, is_enabled=True)

    # then both copies still hold the old rows, and dropping them is what the commit will run
    assert callbacks == [flags.forget_cached_rows]
    assert json.loads(use_redis.get(SHARED_CACHE_KEY)) == ROWS_ALL_OFF
    assert flag_state(FlagName.API).enabled is False

    # when the transaction commits
    for callback in callbacks:
        callback()

    # then Redis no longer holds the rows, and the next read is the committed row
    assert use_redis.exists(SHARED_CACHE_KEY) == 0
    assert flag_state(FlagName.API) == FlagState(
        "LEADERBOARDS_API_ENABLED", True, FlagSource.DB, 100
    )


@pytest.mark.django_db
def test_set_flag_rolled_back_with_its_transaction_drops_and_changes_nothing(
    use_redis: redis.Redis, django_capture_on_commit_callbacks
) -> None:
    # given the rows read, so cached in this process and in Redis
    assert flag_state(FlagName.API).enabled is False

    # when set_flag runs in a transaction that then fails
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        set_flag(FlagName.API, actor_id=None, is_enabled=True)
        raise RuntimeError("the caller's transaction fails")

    # then no hook was left to run, the copies are intact and the row is unchanged
    assert callbacks == []
    assert json.loads(use_redis.get(SHARED_CACHE_KEY)) == ROWS_ALL_OFF
    assert FeatureFlag.objects.get(name=FlagName.API).is_enabled is False


@pytest.mark.django_db
def test_delete_flag_of_a_missing_flag_schedules_nothing(
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deleted = delete_flag("LEADERBOARDS_NEVER_CREATED_ENABLED", actor_id=None)

    assert deleted is False
    assert callbacks == []


@pytest.mark.django_db
def test_raw_orm_write_is_seen_once_both_cached_copies_expire(
    embedded_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a clock under the test's control, and the flag read (and cached) as off
    now = [1_000.0]
    monkeypatch.setattr(flags, "time", SimpleNamespace(monotonic=lambda: now[0]))
    assert is_flag_enabled(FlagName.COMPUTE) is False

    # when it is turned on by a raw QuerySet.update(), which drops no cached copy (as a write
    # made by another process's shell would not)
    FeatureFlag.objects.filter(name=FlagName.COMPUTE).update(is_enabled=True)

    # then the local copy answers until it is LOCAL_TTL_SECONDS old
    now[0] += flags.LOCAL_TTL_SECONDS - 0.01
    assert is_flag_enabled(FlagName.COMPUTE) is False
    # then the shared copy, which expires within SHARED_TTL_SECONDS
    now[0] += 0.02
    assert is_flag_enabled(FlagName.COMPUTE) is False
    assert 0 < embedded_redis.ttl(SHARED_CACHE_KEY) <= flags.SHARED_TTL_SECONDS
    # then, once it has expired (deleted here) and the local copy too, the database
    embedded_redis.delete(SHARED_CACHE_KEY)
    now[0] += flags.LOCAL_TTL_SECONDS
    assert is_flag_enabled(FlagName.COMPUTE) is True


@pytest.mark.django_db
def test_shared_copy_holds_database_rows_for_at_most_the_shared_ttl(
    use_redis: redis.Redis,
) -> None:
    # when the flags are read
    all_flag_states()

    # then Redis holds the rows, expiring within SHARED_TTL_SECONDS
    assert json.loads(use_redis.get(SHARED_CACHE_KEY)) == ROWS_ALL_OFF
    assert 0 < use_redis.ttl(SHARED_CACHE_KEY) <= flags.SHARED_TTL_SECONDS


@pytest.mark.django_db
def test_environment_override_is_never_written_to_redis(
    use_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the compute flag forced on by the environment (its row is off)
    monkeypatch.setenv("LEADERBOARDS_COMPUTE_ENABLED", "true")
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", "false")

    # when every flag is read, filling the shared cache
    states = all_flag_states()

    # then this process applies the overrides, and Redis holds only the database rows
    assert {name: (state.enabled, state.source) for name, state in states.items()} == {
        "LEADERBOARDS_API_ENABLED": (False, FlagSource.ENV),
        "LEADERBOARDS_CACHE_ENABLED": (False, FlagSource.DB),
        "LEADERBOARDS_COMPUTE_ENABLED": (True, FlagSource.ENV),
    }
    assert use_redis.keys("dc:*") == [SHARED_CACHE_KEY.encode()]
    assert json.loads(use_redis.get(SHARED_CACHE_KEY)) == ROWS_ALL_OFF


@pytest.mark.django_db
def test_set_flag_under_an_environment_override_shares_only_the_database_row(
    use_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch, change_flag
) -> None:
    # given the cache flag forced off by the environment
    monkeypatch.setenv("LEADERBOARDS_CACHE_ENABLED", "false")

    # when its row is turned on at 10 % and every flag is read again
    change_flag(FlagName.CACHE, is_enabled=True, rollout_percent=10)
    state = all_flag_states()["LEADERBOARDS_CACHE_ENABLED"]

    # then this process obeys the environment, and Redis holds the row as stored
    assert state == FlagState("LEADERBOARDS_CACHE_ENABLED", False, FlagSource.ENV, 100)
    assert json.loads(use_redis.get(SHARED_CACHE_KEY)) == {
        **ROWS_ALL_OFF,
        "LEADERBOARDS_CACHE_ENABLED": [True, 10],
    }


# --- Redis down -----------------------------------------------------------------------------------


@pytest.fixture
def redis_down(settings) -> Iterator[None]:
    settings.REDIS_URL = CLOSED_REDIS_URL
    redis_gateway.reset_for_tests()
    flags.forget_local_rows()
    yield
    redis_gateway.reset_for_tests()


def _flag_errors() -> float:
    return metrics.CACHE_ERRORS.labels(operation="flags")._value.get()


@pytest.mark.django_db
def test_flags_are_read_and_changed_while_redis_is_down(
    redis_down: None, django_capture_on_commit_callbacks
) -> None:
    errors_before = _flag_errors()

    # given the compute flag off; when it is read, changed with set_flag, and read again
    assert flag_state(FlagName.COMPUTE).enabled is False
    with django_capture_on_commit_callbacks(execute=True):
        set_flag(FlagName.COMPUTE, actor_id=None, is_enabled=True, rollout_percent=50)
    state = flag_state(FlagName.COMPUTE)

    # then the database answered both times, and the failures were counted, not raised
    assert state == FlagState("LEADERBOARDS_COMPUTE_ENABLED", True, FlagSource.DB, 50)
    assert _flag_errors() > errors_before


@pytest.mark.django_db
def test_dead_redis_is_skipped_after_three_failed_calls(
    redis_down: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given every command sent to a Redis server counted (the server refuses connections)
    sent: list[str] = []
    send = redis.Redis.execute_command

    def counting_send(client: redis.Redis, *args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return send(client, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting_send)

    # when the flags are read 20 times from an empty local copy
    states = []
    for _ in range(20):
        flags.forget_local_rows()
        states.append(flag_state(FlagName.CACHE))

    # then the database answered every read, and Redis was tried three times only (GET, SET,
    # GET), after which the breaker skips it
    assert set(states) == {FlagState("LEADERBOARDS_CACHE_ENABLED", False, FlagSource.DB, 100)}
    assert sent == ["GET", "SET", "GET"]
    assert redis_gateway.breaker().current_state == "open"


# --- Propagation to other processes ---------------------------------------------------------------

_READER_SCRIPT = """
import sys, time
import django
django.setup()
from apps.common.flags import is_flag_enabled
name, limit = sys.argv[1], float(sys.argv[2])
print("ready", is_flag_enabled(name), flush=True)
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    if is_flag_enabled(name):
        print("seen", time.time(), flush=True)
        break
    time.sleep(0.02)
else:
    print("unseen", time.time(), flush=True)
"""

_WRITER_SCRIPT = """
import sys, time
import django
django.setup()
from apps.common import flags
from apps.common.flag_changes import set_flag
from apps.common.models import FeatureFlag
name, how = sys.argv[1], sys.argv[2]
# Worst case for the reader: the shared copy of the old rows was refreshed just before the write.
flags.forget_cached_rows()
flags.database_rows()
if how == "set_flag":
    set_flag(name, actor_id=None, is_enabled=True)
else:
    FeatureFlag.objects.filter(name=name).update(is_enabled=True)
print("committed", time.time(), flush=True)
"""


@pytest.fixture(scope="module")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flags-db") / "template.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=PROJECT_DIR,
        env=_subprocess_environment(DATABASE_URL=f"sqlite:///{path}"),
        check=True,
        timeout=120,
    )
    return path


@pytest.fixture
def shared_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A DATABASE_URL other processes can use: the test database itself on PostgreSQL, a fresh
    copy of a migrated SQLite file otherwise (the SQLite test database is in this process's
    memory)."""
    if connection.vendor == "postgresql":
        database = connection.settings_dict
        credentials = quote(database["USER"] or "", safe="")
        if database["PASSWORD"]:
            credentials += ":" + quote(database["PASSWORD"], safe="")
        return (
            f"postgres://{credentials}@{database['HOST'] or 'localhost'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    template = request.getfixturevalue("migrated_sqlite_file")
    copy = tmp_path / "flags.sqlite3"
    copy.write_bytes(template.read_bytes())
    return f"sqlite:///{copy}"


def _marked_line(stream: IO[str], *markers: str) -> list[str]:
    """The words of the first line starting with one of `markers` (log lines share stdout)."""
    for line in stream:
        words = line.split()
        if words and words[0] in markers:
            return words
    raise AssertionError(f"no line starting with {markers}")


def _marked_line(stream: IO[str], *markers: str) -> list[str]:
    """The words of the first line starting with one of `markers` (log lines share stdout)."""
    for line in stream:
        words = line.split()
        if words and words[0] in markers:
            return words
    raise AssertionError(f"no line starting with {markers}")


def _propagation_delay(database_url: str, redis_url: str, how: str) -> float:
    """Seconds between a writer process committing `how` and a warm reader process seeing it."""
    # The row the migration seeds; an earlier transactional test's flush may have removed it.
    # (Not serialized_rollback: after another transactional test's flush has re-created the
    # content types, restoring the serialized ones collides with them.)
    FeatureFlag.objects.update_or_create(
        name=FlagName.COMPUTE.value, defaults={"is_enabled": False, "rollout_percent": 100}
    )
    environment = _subprocess_environment(DATABASE_URL=database_url, REDIS_URL=redis_url)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER_SCRIPT, FlagName.COMPUTE.value, "30"],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert _marked_line(reader.stdout, "ready") == ["ready", "False"], reader.stderr
        writer = subprocess.run(
            [sys.executable, "-c", _WRITER_SCRIPT, FlagName.COMPUTE.value, how],
            cwd=PROJECT_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        committed_at = float(_marked_line(io.StringIO(writer.stdout), "committed")[1])
        output, errors = reader.communicate(timeout=40)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert reader.returncode == 0, errors
    outcome = _marked_line(io.StringIO(output), "seen", "unseen")
    assert outcome[0] == "seen"
    return float(outcome[1]) - committed_at


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_set_flag_change_reaches_another_process_within_5_seconds(
    use_redis: redis.Redis, redis_url: str, shared_database_url: str
) -> None:
    # given a reader process that has read the flag as off (and shared that row in Redis)
    # when a writer process turns it on with set_flag
    delay = _propagation_delay(shared_database_url, redis_url, how="set_flag")

    # then the reader sees it within 5 s (the change removed the shared copy; the reader's own
    # copy lives at most LOCAL_TTL_SECONDS)
    assert delay < PROPAGATION_LIMIT_SECONDS


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_raw_orm_update_reaches_another_process_within_5_seconds(
    use_redis: redis.Redis, redis_url: str, shared_database_url: str
) -> None:
    # given a reader process that has read the flag as off (and shared that row in Redis)
    # when a writer process turns it on with a raw QuerySet.update(), which drops no cached copy
    delay = _propagation_delay(shared_database_url, redis_url, how="update")

    # then the reader sees it once the shared (3 s) and local (1 s) copies have expired
    assert delay < PROPAGATION_LIMIT_SECONDS
