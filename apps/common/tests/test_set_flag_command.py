"""`manage.py set_flag NAME (--on | --off) [--rollout PERCENT] [--actor USERNAME]`.

Given the three migrated flags (off at 100 %), when the command runs, then the flag is changed
through `set_flag` (audited, cached rows dropped on commit) and its state printed; a refused call
(exit status 1) writes nothing.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.flags import FlagSource, FlagState, flag_state
from apps.common.models import AuditAction, AuditRecord, FeatureFlag, FlagName, User

pytestmark = pytest.mark.django_db

OFF_AT_100 = {"is_enabled": False, "rollout_percent": 100}
ALL_OFF = [
    ("LEADERBOARDS_API_ENABLED", False, 100, None),
    ("LEADERBOARDS_CACHE_ENABLED", False, 100, None),
    ("LEADERBOARDS_COMPUTE_ENABLED", False, 100, None),
]


@pytest.fixture(autouse=True)
def _no_flag_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FlagName:
        monkeypatch.delenv(name.value, raising=False)


@pytest.fixture
def operator() -> User:
    return User.objects.create_user(username="operator", password="correct-horse-9", is_staff=True)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("set_flag", *args, stdout=out, no_color=True)
    return out.getvalue()


def _flags() -> list[tuple[str, bool, int, int | None]]:
    return list(
        FeatureFlag.objects.order_by("name").values_list(
            "name", "is_enabled", "rollout_percent", "updated_by_id"
        )
    )


def _flag_records() -> list[tuple[int | None, dict]]:
    return list(
        AuditRecord.objects.filter(action=AuditAction.FLAG_CHANGED)
        .order_by("id")
        .values_list("actor_id", "details")
    )


def test_on_with_rollout_and_actor_changes_the_flag_and_records_that_user(
    operator: User,
) -> None:
    output = _run("LEADERBOARDS_API_ENABLED", "--on", "--rollout", "25", "--actor", "operator")

    assert output == (
        "LEADERBOARDS_API_ENABLED: on at 25 % (was off at 100 %; recorded as changed by "
        f"operator (id {operator.pk}); every process reads it within 5 seconds)\n"
    )
    assert _flags()[0] == ("LEADERBOARDS_API_ENABLED", True, 25, operator.pk)
    assert _flag_records() == [
        (
            operator.pk,
            {
                "flag": "LEADERBOARDS_API_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": True, "rollout_percent": 25},
            },
        )
    ]


def test_off_without_actor_keeps_the_rollout_and_records_no_user(operator: User) -> None:
    # given the cache flag turned on at 10 % by the operator
    _run("LEADERBOARDS_CACHE_ENABLED", "--on", "--rollout", "10", "--actor", "operator")

    # when a script turns it off without naming anyone
    output = _run("LEADERBOARDS_CACHE_ENABLED", "--off")

    # then the rollout is kept, and the change is recorded without actor
    assert output == (
        "LEADERBOARDS_CACHE_ENABLED: off at 10 % (was on at 10 %; recorded as changed by "
        "no user; every process reads it within 5 seconds)\n"
    )
    assert _flags()[1] == ("LEADERBOARDS_CACHE_ENABLED", False, 10, None)
    assert _flag_records()[-1] == (
        None,
        {
            "flag": "LEADERBOARDS_CACHE_ENABLED",
            "old": {"is_enabled": True, "rollout_percent": 10},
            "new": {"is_enabled": False, "rollout_percent": 10},
        },
    )


def test_setting_the_state_a_flag_has_records_nothing() -> None:
    output = _run("LEADERBOARDS_COMPUTE_ENABLED", "--off", "--rollout", "100")

    assert output == "LEADERBOARDS_COMPUTE_ENABLED: off at 100 % (unchanged; nothing recorded)\n"
    assert _flags() == ALL_OFF
    assert AuditRecord.objects.count() == 0


@pytest.mark.parametrize("rollout", ["0", "100"])
def test_rollout_bounds_0_and_100_are_accepted(rollout: str) -> None:
    _run("LEADERBOARDS_API_ENABLED", "--on", "--rollout", rollout)

    assert _flags()[0] == ("LEADERBOARDS_API_ENABLED", True, int(rollout), None)


def test_change_is_read_at_once_by_this_process(django_capture_on_commit_callbacks) -> None:
    # given the compute flag read (and cached) as off
    assert flag_state(FlagName.COMPUTE).enabled is False

    # when the command turns it on and its transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        _run("LEADERBOARDS_COMPUTE_ENABLED", "--on", "--rollout", "50")

    # then the next read sees the new row
    assert flag_state(FlagName.COMPUTE) == FlagState(
        "LEADERBOARDS_COMPUTE_ENABLED", True, FlagSource.DB, 50
    )


def test_an_environment_override_is_pointed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", "false")

    output = _run("LEADERBOARDS_API_ENABLED", "--on")

    assert output.splitlines()[1] == (
        "Note: LEADERBOARDS_API_ENABLED=false in this environment; where it is set, that "
        "variable decides, not the database."
    )
    assert _flags()[0] == ("LEADERBOARDS_API_ENABLED", True, 100, None)


# --- Refusals: exit status 1, a clear message, nothing written ------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["LEADERBOARDS_EXPERIMENT_ENABLED", "--on"],
            "unknown flag 'LEADERBOARDS_EXPERIMENT_ENABLED' (one of LEADERBOARDS_COMPUTE_ENABLED, "
            "LEADERBOARDS_CACHE_ENABLED, LEADERBOARDS_API_ENABLED); nothing was written",
        ),
        (
            ["leaderboards_api_enabled", "--on"],
            "unknown flag 'leaderboards_api_enabled' (one of LEADERBOARDS_COMPUTE_ENABLED, "
            "LEADERBOARDS_CACHE_ENABLED, LEADERBOARDS_API_ENABLED); nothing was written",
        ),
        (
            ["LEADERBOARDS_API_ENABLED", "--on", "--rollout", "101"],
            "--rollout must be between 0 and 100, not 101; nothing was written",
        ),
        (
            ["LEADERBOARDS_API_ENABLED", "--on", "--rollout", "-1"],
            "--rollout must be between 0 and 100, not -1; nothing was written",
        ),
        (
            ["LEADERBOARDS_API_ENABLED", "--on", "--actor", "nobody"],
            "no user named 'nobody'; nothing was written",
        ),
        (
            ["LEADERBOARDS_API_ENABLED", "--on", "--rollout", "half"],
            "Error: argument --rollout: invalid int value: 'half'",
        ),
        (
            ["LEADERBOARDS_API_ENABLED"],
            "Error: one of the arguments --on --off is required",
        ),
        (
            ["LEADERBOARDS_API_ENABLED", "--on", "--off"],
            "Error: argument --off: not allowed with argument --on",
        ),
    ],
)
def test_refused_call_exits_1_with_a_message_and_writes_nothing(
    args: list[str], message: str, operator: User
) -> None:
    with pytest.raises(CommandError) as refused:
        _run(*args)

    assert str(refused.value) == message
    assert refused.value.returncode == 1
    assert _flags() == ALL_OFF
    assert AuditRecord.objects.count() == 0
