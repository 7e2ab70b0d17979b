"""The audit trail of flag changes (contract sections 2 and 5).

Every path that changes a flag (the Django admin, the commands) goes through
`apps.common.flag_changes.set_flag` / `delete_flag`, which leave one append-only record per change
of the flag's state (`is_enabled`, `rollout_percent`; creation and deletion included) naming who
made it (a user id, or None for a script), the flag, and its state before and after. A raw ORM
write bypasses them and is not audited (a documented decision).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from structlog.testing import capture_logs

from apps.common.audit import record_audit
from apps.common.flag_changes import delete_flag, set_flag
from apps.common.flags import FlagSource, flag_state
from apps.common.models import (
    AppendOnlyError,
    AuditAction,
    AuditRecord,
    FeatureFlag,
    FlagName,
    User,
)

pytestmark = pytest.mark.django_db

OFF_AT_100 = {"is_enabled": False, "rollout_percent": 100}
ON_AT_100 = {"is_enabled": True, "rollout_percent": 100}
EXPERIMENT = "LEADERBOARDS_EXPERIMENT_ENABLED"


@pytest.fixture(autouse=True)
def _no_flag_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FlagName:
        monkeypatch.delenv(name.value, raising=False)


@pytest.fixture
def staff_user() -> User:
    return User.objects.create_superuser(
        username="flag-admin", email="flag-admin@example.test", password="correct-horse-9"
    )


@pytest.fixture
def staff_client(staff_user: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(username="flag-admin"))
    return client


@pytest.fixture
def operator() -> User:
    """A staff account that is neither superuser nor granted any permission."""
    return User.objects.create_user(username="operator", password="correct-horse-9", is_staff=True)


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(username="operator"))
    return client


def _flag_records() -> list[tuple[int | None, dict]]:
    return list(
        AuditRecord.objects.filter(action=AuditAction.FLAG_CHANGED)
        .order_by("id")
        .values_list("actor_id", "details")
    )


def _stored(name: str) -> tuple[bool, int, int | None]:
    """The stored flag's is_enabled, rollout_percent and updated_by id."""
    flag = FeatureFlag.objects.get(name=name)
    return (flag.is_enabled, flag.rollout_percent, flag.updated_by_id)


def _description(name: str) -> str:
    return FeatureFlag.objects.get(name=name).description


def _post_change_form(client: Client, flag: FeatureFlag, **fields: object) -> int:
    data = {
        "name": flag.name,
        "rollout_percent": str(flag.rollout_percent),
        "description": flag.description,
        "_save": "Save",
    }
    if flag.is_enabled:
        data["is_enabled"] = "on"
    for field, value in fields.items():
        if field == "is_enabled":
            if value:
                data["is_enabled"] = "on"
            else:
                data.pop("is_enabled", None)
        else:
            data[field] = str(value)
    response = client.post(f"/admin/common/featureflag/{flag.pk}/change/", data)
    return response.status_code


# --- set_flag / delete_flag: every change, and only a change, is recorded -------------------------


def test_set_flag_by_a_script_leaves_one_record_without_actor() -> None:
    # given the migrated flag, off at 100 %
    # when a script turns it on at 25 %
    flag = set_flag(FlagName.COMPUTE, actor_id=None, is_enabled=True, rollout_percent=25)

    # then the row is changed, and one record names no actor, the flag, and both states
    assert (flag.is_enabled, flag.rollout_percent, flag.updated_by_id) == (True, 25, None)
    assert _stored(FlagName.COMPUTE) == (True, 25, None)
    record = AuditRecord.objects.get()
    assert record.action == AuditAction.FLAG_CHANGED == "feature_flag_changed"
    assert record.actor_id is None
    assert record.details == {
        "flag": "LEADERBOARDS_COMPUTE_ENABLED",
        "old": OFF_AT_100,
        "new": {"is_enabled": True, "rollout_percent": 25},
    }
    assert record.created_at is not None


def test_set_flag_records_the_actor_and_stores_them_as_updated_by(staff_user: User) -> None:
    set_flag(FlagName.CACHE, actor_id=staff_user.pk, rollout_percent=10)

    assert _stored(FlagName.CACHE) == (False, 10, staff_user.pk)
    assert _flag_records() == [
        (
            staff_user.pk,
            {
                "flag": "LEADERBOARDS_CACHE_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": False, "rollout_percent": 10},
            },
        )
    ]


def test_set_flag_that_changes_nothing_leaves_no_record(staff_user: User) -> None:
    # when the flag is set to the state it has, and then only its description changes
    set_flag(FlagName.CACHE, actor_id=staff_user.pk, is_enabled=False, rollout_percent=100)
    set_flag(FlagName.CACHE, actor_id=staff_user.pk, description="Not a change of the state.")

    # then nothing is recorded, and the description is stored
    assert AuditRecord.objects.count() == 0
    assert _stored(FlagName.CACHE) == (False, 100, staff_user.pk)
    assert _description(FlagName.CACHE) == "Not a change of the state."


def test_set_flag_keeps_the_fields_it_is_not_given() -> None:
    # given the API flag on at 5 % with a description
    set_flag(FlagName.API, actor_id=None, is_enabled=True, rollout_percent=5, description="Canary")

    # when only the rollout is raised, then only the switch is turned off
    set_flag(FlagName.API, actor_id=None, rollout_percent=50)
    after_rollout = _stored(FlagName.API)
    set_flag(FlagName.API, actor_id=None, is_enabled=False)

    # then each call changed only what it was given
    assert after_rollout == (True, 50, None)
    assert _stored(FlagName.API) == (False, 50, None)
    assert _description(FlagName.API) == "Canary"


def test_each_of_several_changes_leaves_its_own_record() -> None:
    set_flag(FlagName.API, actor_id=None, is_enabled=True)
    set_flag(FlagName.API, actor_id=None, rollout_percent=5)
    set_flag(FlagName.API, actor_id=None, rollout_percent=5)  # no change
    set_flag(FlagName.API, actor_id=None, is_enabled=False)

    assert [details for _, details in _flag_records()] == [
        {"flag": "LEADERBOARDS_API_ENABLED", "old": OFF_AT_100, "new": ON_AT_100},
        {
            "flag": "LEADERBOARDS_API_ENABLED",
            "old": ON_AT_100,
            "new": {"is_enabled": True, "rollout_percent": 5},
        },
        {
            "flag": "LEADERBOARDS_API_ENABLED",
            "old": {"is_enabled": True, "rollout_percent": 5},
            "new": {"is_enabled": False, "rollout_percent": 5},
        },
    ]


def test_set_flag_creates_a_missing_flag_with_the_model_defaults(staff_user: User) -> None:
    flag = set_flag(EXPERIMENT, actor_id=staff_user.pk)

    assert _stored(EXPERIMENT) == (False, 100, staff_user.pk)
    assert _description(EXPERIMENT) == ""
    assert flag.pk == FeatureFlag.objects.get(name=EXPERIMENT).pk
    assert _flag_records() == [
        (staff_user.pk, {"flag": EXPERIMENT, "old": None, "new": OFF_AT_100})
    ]


def test_delete_flag_removes_the_flag_and_records_who(staff_user: User) -> None:
    # given a flag created on at 100 % by a script
    set_flag(EXPERIMENT, actor_id=None, is_enabled=True)

    # when a staff user deletes it
    deleted = delete_flag(EXPERIMENT, actor_id=staff_user.pk)

    # then it is gone, and both the creation and the deletion are recorded
    assert deleted is True
    assert FeatureFlag.objects.filter(name=EXPERIMENT).exists() is False
    assert _flag_records() == [
        (None, {"flag": EXPERIMENT, "old": None, "new": ON_AT_100}),
        (staff_user.pk, {"flag": EXPERIMENT, "old": ON_AT_100, "new": None}),
    ]


def test_delete_flag_of_a_missing_flag_returns_false_and_records_nothing() -> None:
    deleted = delete_flag(EXPERIMENT, actor_id=None)

    assert deleted is False
    assert AuditRecord.objects.count() == 0
    assert FeatureFlag.objects.count() == 3


def test_script_change_after_a_user_change_does_not_credit_that_user(staff_user: User) -> None:
    # given a flag last changed by a staff user
    set_flag(FlagName.COMPUTE, actor_id=staff_user.pk, is_enabled=True)

    # when a script turns it off again
    set_flag(FlagName.COMPUTE, actor_id=None, is_enabled=False)

    # then the second record has no actor, and the row no longer names the user
    assert [actor_id for actor_id, _ in _flag_records()] == [staff_user.pk, None]
    assert _stored(FlagName.COMPUTE) == (False, 100, None)


@pytest.mark.parametrize("rollout_percent", [101, 1000, -1])
def test_set_flag_with_a_rollout_outside_0_to_100_is_refused_and_writes_nothing(
    rollout_percent: int, django_capture_on_commit_callbacks
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(ValidationError) as refused,
    ):
        set_flag(FlagName.COMPUTE, actor_id=None, is_enabled=True, rollout_percent=rollout_percent)

    assert list(refused.value.message_dict) == ["rollout_percent"]
    assert _stored(FlagName.COMPUTE) == (False, 100, None)
    assert AuditRecord.objects.count() == 0
    assert callbacks == []


def test_set_flag_refused_for_a_new_flag_creates_nothing() -> None:
    with pytest.raises(ValidationError):
        set_flag(EXPERIMENT, actor_id=None, is_enabled=True, rollout_percent=101)

    assert FeatureFlag.objects.filter(name=EXPERIMENT).exists() is False
    assert AuditRecord.objects.count() == 0


def test_set_flag_naming_a_user_that_does_not_exist_is_refused() -> None:
    missing_user_id = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1

    with pytest.raises(ValidationError) as refused:
        set_flag(FlagName.API, actor_id=missing_user_id, is_enabled=True)

    assert list(refused.value.message_dict) == ["updated_by"]
    assert _stored(FlagName.API) == (False, 100, None)
    assert AuditRecord.objects.count() == 0


def test_change_rolled_back_with_the_callers_transaction_leaves_no_record(
    staff_user: User,
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        set_flag(FlagName.API, actor_id=staff_user.pk, is_enabled=True)
        delete_flag(FlagName.CACHE, actor_id=staff_user.pk)
        raise RuntimeError("the caller's transaction fails")

    assert _stored(FlagName.API) == (False, 100, None)
    assert FeatureFlag.objects.filter(name=FlagName.CACHE).exists() is True
    assert AuditRecord.objects.count() == 0


def test_flag_change_is_logged_as_well_as_stored(staff_user: User) -> None:
    with capture_logs() as logs:
        set_flag(FlagName.API, actor_id=staff_user.pk, rollout_percent=25)

    assert [entry for entry in logs if entry["event"] == "feature_flag_changed"] == [
        {
            "event": "feature_flag_changed",
            "log_level": "info",
            "actor_id": staff_user.pk,
            "flag": "LEADERBOARDS_API_ENABLED",
            "old": OFF_AT_100,
            "new": {"is_enabled": False, "rollout_percent": 25},
        }
    ]


def test_record_audit_stores_the_action_actor_and_details() -> None:
    record = record_audit(AuditAction.CACHE_INVALIDATED, 7, scope="season", keys=3)

    stored = AuditRecord.objects.get(pk=record.pk)
    assert (stored.action, stored.actor_id, stored.details) == (
        "leaderboard_cache_invalidated",
        7,
        {"scope": "season", "keys": 3},
    )


# --- The Django admin -----------------------------------------------------------------------------


def test_admin_change_records_the_staff_user_and_takes_effect_at_once(
    staff_client: Client, staff_user: User, django_capture_on_commit_callbacks
) -> None:
    # given the compute flag, read (and cached) as off
    flag = FeatureFlag.objects.get(name=FlagName.COMPUTE)
    assert flag_state(FlagName.COMPUTE).enabled is False

    # when a staff user turns it on at 10 % in the admin change form (and the request commits)
    with django_capture_on_commit_callbacks(execute=True):
        status_code = _post_change_form(staff_client, flag, is_enabled=True, rollout_percent=10)

    # then the flag is changed, the record names that user, and this process reads the new state
    assert status_code == 302
    assert _stored(FlagName.COMPUTE) == (True, 10, staff_user.pk)
    assert _description(FlagName.COMPUTE) == flag.description
    assert _flag_records() == [
        (
            staff_user.pk,
            {
                "flag": "LEADERBOARDS_COMPUTE_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": True, "rollout_percent": 10},
            },
        )
    ]
    state = flag_state(FlagName.COMPUTE)
    assert (state.enabled, state.rollout_percent, state.source) == (True, 10, FlagSource.DB)


def test_a_staff_user_without_model_permissions_toggles_flags_in_the_admin(
    operator: User, operator_client: Client, django_capture_on_commit_callbacks
) -> None:
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)

    # when the operator opens the flag list and turns the cache flag on
    listing = operator_client.get("/admin/common/featureflag/")
    with django_capture_on_commit_callbacks(execute=True):
        status_code = _post_change_form(operator_client, flag, is_enabled=True)

    # then it could, and the change is audited under its id
    assert listing.status_code == 200
    assert status_code == 302
    assert _stored(FlagName.CACHE) == (True, 100, operator.pk)
    assert _flag_records() == [
        (
            operator.pk,
            {"flag": "LEADERBOARDS_CACHE_ENABLED", "old": OFF_AT_100, "new": ON_AT_100},
        )
    ]


def test_a_staff_user_without_model_permissions_cannot_add_or_delete_flags(
    operator_client: Client,
) -> None:
    flag = FeatureFlag.objects.get(name=FlagName.API)

    # when a staff user without permissions posts the add form and confirms a deletion
    add = operator_client.post(
        "/admin/common/featureflag/add/",
        {"name": EXPERIMENT, "rollout_percent": "100", "description": "", "_save": "Save"},
    )
    delete = operator_client.post(f"/admin/common/featureflag/{flag.pk}/delete/", {"post": "yes"})

    # then both are forbidden, and nothing is written
    assert (add.status_code, delete.status_code) == (403, 403)
    assert FeatureFlag.objects.count() == 3
    assert AuditRecord.objects.count() == 0


def test_a_user_who_is_not_staff_cannot_open_the_flags() -> None:
    # given a logged-in player (not staff)
    User.objects.create_user(username="player", password="correct-horse-9")
    client = Client()
    client.force_login(User.objects.get(username="player"))
    flag = FeatureFlag.objects.get(name=FlagName.API)

    # when it opens the flag list and posts the change form
    listing = client.get("/admin/common/featureflag/")
    status_code = _post_change_form(client, flag, is_enabled=True)

    # then both are sent to the admin login page, and nothing is written
    assert (listing.status_code, status_code) == (302, 302)
    assert listing["Location"].startswith("/admin/login/")
    assert _stored(FlagName.API) == (False, 100, None)
    assert AuditRecord.objects.count() == 0


def test_admin_add_records_the_staff_user(staff_client: Client, staff_user: User) -> None:
    response = staff_client.post(
        "/admin/common/featureflag/add/",
        {
            "name": EXPERIMENT,
            "is_enabled": "on",
            "rollout_percent": "20",
            "description": "An experiment.",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert _stored(EXPERIMENT) == (True, 20, staff_user.pk)
    assert _description(EXPERIMENT) == "An experiment."
    assert _flag_records() == [
        (
            staff_user.pk,
            {
                "flag": EXPERIMENT,
                "old": None,
                "new": {"is_enabled": True, "rollout_percent": 20},
            },
        )
    ]


def test_the_admin_cannot_rename_a_flag(staff_client: Client) -> None:
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)

    status_code = _post_change_form(staff_client, flag, name="LEADERBOARDS_CACHE_ENABLED_OLD")

    assert status_code == 302
    assert list(FeatureFlag.objects.order_by("name").values_list("name", flat=True)) == [
        "LEADERBOARDS_API_ENABLED",
        "LEADERBOARDS_CACHE_ENABLED",
        "LEADERBOARDS_COMPUTE_ENABLED",
    ]


def test_admin_change_of_rollout_above_100_is_refused(staff_client: Client) -> None:
    flag = FeatureFlag.objects.get(name=FlagName.COMPUTE)

    status_code = _post_change_form(staff_client, flag, is_enabled=True, rollout_percent=101)

    assert status_code == 200  # the form is shown again with its error
    assert _stored(FlagName.COMPUTE) == (False, 100, None)
    assert AuditRecord.objects.count() == 0


def test_admin_list_edit_records_the_staff_user(staff_client: Client, staff_user: User) -> None:
    # given the three flags on the change list, in name order (API, CACHE, COMPUTE)
    flags = list(FeatureFlag.objects.order_by("name"))
    data = {
        "form-TOTAL_FORMS": "3",
        "form-INITIAL_FORMS": "3",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, flag in enumerate(flags):
        data[f"form-{index}-id"] = str(flag.pk)
        data[f"form-{index}-rollout_percent"] = str(flag.rollout_percent)
    # when the staff user ticks only the cache flag
    data["form-1-is_enabled"] = "on"
    response = staff_client.post("/admin/common/featureflag/", data)

    # then exactly that change is recorded under their id
    assert response.status_code == 302
    assert _flag_records() == [
        (
            staff_user.pk,
            {"flag": "LEADERBOARDS_CACHE_ENABLED", "old": OFF_AT_100, "new": ON_AT_100},
        )
    ]


def test_script_change_after_an_admin_change_does_not_blame_the_admin(
    staff_client: Client, staff_user: User
) -> None:
    # given a flag last changed by a staff user in the admin
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)
    assert _post_change_form(staff_client, flag, is_enabled=True) == 302

    # when a script without a request user turns it off again with set_flag
    set_flag(FlagName.CACHE, actor_id=None, is_enabled=False)

    # then the second record has no actor, and the flag no longer claims the admin changed it
    assert [actor_id for actor_id, _ in _flag_records()] == [staff_user.pk, None]
    assert _stored(FlagName.CACHE) == (False, 100, None)


def test_admin_delete_records_the_staff_user(staff_client: Client, staff_user: User) -> None:
    flag = FeatureFlag.objects.create(name=EXPERIMENT)

    response = staff_client.post(f"/admin/common/featureflag/{flag.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert FeatureFlag.objects.filter(pk=flag.pk).exists() is False
    assert _flag_records() == [
        (staff_user.pk, {"flag": EXPERIMENT, "old": OFF_AT_100, "new": None})
    ]


def test_admin_bulk_delete_action_records_the_staff_user_for_each_flag(
    staff_client: Client, staff_user: User
) -> None:
    first = FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_A_ENABLED")
    second = FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_B_ENABLED", is_enabled=True)

    response = staff_client.post(
        "/admin/common/featureflag/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert FeatureFlag.objects.filter(pk__in=[first.pk, second.pk]).exists() is False
    assert sorted(_flag_records(), key=lambda record: record[1]["flag"]) == [
        (
            staff_user.pk,
            {"flag": "LEADERBOARDS_EXPERIMENT_A_ENABLED", "old": OFF_AT_100, "new": None},
        ),
        (
            staff_user.pk,
            {"flag": "LEADERBOARDS_EXPERIMENT_B_ENABLED", "old": ON_AT_100, "new": None},
        ),
    ]


def test_audit_records_cannot_be_changed_or_deleted_in_the_admin(
    staff_client: Client,
) -> None:
    record = AuditRecord.objects.create(action=AuditAction.FLAG_CHANGED, details={"flag": "X"})

    change = staff_client.post(
        f"/admin/common/auditrecord/{record.pk}/change/", {"action": "feature_flag_changed"}
    )
    delete = staff_client.post(f"/admin/common/auditrecord/{record.pk}/delete/", {"post": "yes"})

    assert (change.status_code, delete.status_code) == (403, 403)
    assert AuditRecord.objects.get(pk=record.pk).details == {"flag": "X"}


# --- Append-only ----------------------------------------------------------------------------------


@pytest.fixture
def audit_record() -> AuditRecord:
    return AuditRecord.objects.create(
        actor_id=7, action=AuditAction.FLAG_CHANGED, details={"flag": "LEADERBOARDS_API_ENABLED"}
    )


def test_saved_audit_record_cannot_be_saved_again(audit_record: AuditRecord) -> None:
    audit_record.actor_id = 8

    with pytest.raises(AppendOnlyError):
        audit_record.save()

    assert AuditRecord.objects.get(pk=audit_record.pk).actor_id == 7


def test_audit_record_cannot_be_deleted(audit_record: AuditRecord) -> None:
    with pytest.raises(AppendOnlyError):
        audit_record.delete()

    assert AuditRecord.objects.filter(pk=audit_record.pk).exists()


def test_audit_records_cannot_be_updated_or_deleted_in_bulk(audit_record: AuditRecord) -> None:
    with pytest.raises(AppendOnlyError):
        AuditRecord.objects.filter(pk=audit_record.pk).update(actor_id=8)
    with pytest.raises(AppendOnlyError):
        AuditRecord.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditRecord.objects.update_or_create(pk=audit_record.pk, defaults={"actor_id": 8})

    stored = AuditRecord.objects.get(pk=audit_record.pk)
    assert (stored.actor_id, stored.details) == (7, {"flag": "LEADERBOARDS_API_ENABLED"})


def test_new_record_reusing_an_existing_id_does_not_overwrite_it(
    audit_record: AuditRecord,
) -> None:
    # given a stored record; when a new instance with the same primary key is saved
    impostor = AuditRecord(
        pk=audit_record.pk,
        actor_id=8,
        action=AuditAction.CACHE_INVALIDATED,
        created_at=audit_record.created_at,
        details={},
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()

    # then the stored record is untouched
    stored = AuditRecord.objects.get(pk=audit_record.pk)
    assert (stored.actor_id, stored.action, stored.details) == (
        7,
        "feature_flag_changed",
        {"flag": "LEADERBOARDS_API_ENABLED"},
    )
