"""The audit trail of flag changes (contract sections 2 and 5): every change to a flag leaves one
append-only record naming who made it (a user id, or None without a request user), the flag, and
its state before and after.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

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
    assert client.login(username="flag-admin", password="correct-horse-9")
    return client


def _flag_records() -> list[tuple[int | None, dict]]:
    return list(
        AuditRecord.objects.filter(action=AuditAction.FLAG_CHANGED)
        .order_by("id")
        .values_list("actor_id", "details")
    )


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


# --- Every change, and only a change, is recorded -------------------------------------------------


def test_orm_save_that_changes_a_flag_leaves_one_record_without_actor() -> None:
    # given the migrated flag, off at 100 %
    flag = FeatureFlag.objects.get(name=FlagName.COMPUTE)

    # when a script turns it on at 25 %
    flag.is_enabled = True
    flag.rollout_percent = 25
    flag.save()

    # then one record names no actor, the flag, and both states
    record = AuditRecord.objects.get()
    assert record.action == AuditAction.FLAG_CHANGED == "feature_flag_changed"
    assert record.actor_id is None
    assert record.details == {
        "flag": "LEADERBOARDS_COMPUTE_ENABLED",
        "old": OFF_AT_100,
        "new": {"is_enabled": True, "rollout_percent": 25},
    }
    assert record.created_at is not None


def test_save_that_changes_nothing_leaves_no_record() -> None:
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)

    flag.description = "A new description is not a change of the flag's state."
    flag.save()
    FeatureFlag.objects.get(name=FlagName.CACHE).save()

    assert AuditRecord.objects.count() == 0


def test_each_of_several_changes_leaves_its_own_record() -> None:
    flag = FeatureFlag.objects.get(name=FlagName.API)

    flag.is_enabled = True
    flag.save()
    flag.rollout_percent = 5
    flag.save()
    flag.save()  # no change
    flag.is_enabled = False
    flag.save()

    assert [details for _, details in _flag_records()] == [
        {
            "flag": "LEADERBOARDS_API_ENABLED",
            "old": OFF_AT_100,
            "new": {"is_enabled": True, "rollout_percent": 100},
        },
        {
            "flag": "LEADERBOARDS_API_ENABLED",
            "old": {"is_enabled": True, "rollout_percent": 100},
            "new": {"is_enabled": True, "rollout_percent": 5},
        },
        {
            "flag": "LEADERBOARDS_API_ENABLED",
            "old": {"is_enabled": True, "rollout_percent": 5},
            "new": {"is_enabled": False, "rollout_percent": 5},
        },
    ]


def test_creating_and_deleting_a_flag_are_recorded() -> None:
    # given no flag of this name; when one is created and then deleted
    flag = FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_ENABLED", is_enabled=True)
    flag.delete()

    # then both are recorded, without actor
    assert _flag_records() == [
        (
            None,
            {
                "flag": "LEADERBOARDS_EXPERIMENT_ENABLED",
                "old": None,
                "new": {"is_enabled": True, "rollout_percent": 100},
            },
        ),
        (
            None,
            {
                "flag": "LEADERBOARDS_EXPERIMENT_ENABLED",
                "old": {"is_enabled": True, "rollout_percent": 100},
                "new": None,
            },
        ),
    ]


def test_orm_save_naming_a_user_records_that_user_each_time(staff_user: User) -> None:
    # given a script that names its user on every change
    flag = FeatureFlag.objects.get(name=FlagName.COMPUTE)
    flag.is_enabled = True
    flag.updated_by = staff_user
    flag.save()

    # when it changes the flag again, naming the same user (who is already stored as updated_by)
    flag = FeatureFlag.objects.get(name=FlagName.COMPUTE)
    flag.rollout_percent = 50
    flag.updated_by = staff_user
    flag.save()

    # then both records name that user
    assert _flag_records() == [
        (
            staff_user.pk,
            {
                "flag": "LEADERBOARDS_COMPUTE_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": True, "rollout_percent": 100},
            },
        ),
        (
            staff_user.pk,
            {
                "flag": "LEADERBOARDS_COMPUTE_ENABLED",
                "old": {"is_enabled": True, "rollout_percent": 100},
                "new": {"is_enabled": True, "rollout_percent": 50},
            },
        ),
    ]


def test_creating_a_flag_for_a_user_records_that_user(staff_user: User) -> None:
    FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_ENABLED", updated_by=staff_user)

    assert _flag_records() == [
        (
            staff_user.pk,
            {"flag": "LEADERBOARDS_EXPERIMENT_ENABLED", "old": None, "new": OFF_AT_100},
        )
    ]


def test_user_named_for_one_save_is_not_credited_with_the_next(staff_user: User) -> None:
    # given one instance saved once on behalf of a user
    flag = FeatureFlag.objects.get(name=FlagName.API)
    flag.is_enabled = True
    flag.updated_by = staff_user
    flag.save()

    # when the same instance is changed and saved again without naming anyone
    flag.is_enabled = False
    flag.save()

    # then the second change has no actor, and the row no longer names the user
    assert [actor_id for actor_id, _ in _flag_records()] == [staff_user.pk, None]
    assert FeatureFlag.objects.get(pk=flag.pk).updated_by_id is None


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
    stored = FeatureFlag.objects.get(pk=flag.pk)
    assert (stored.is_enabled, stored.rollout_percent, stored.updated_by_id) == (
        True,
        10,
        staff_user.pk,
    )
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
    django_capture_on_commit_callbacks,
) -> None:
    # given a staff account that is neither superuser nor granted any permission
    operator = User.objects.create_user(
        username="operator", password="correct-horse-9", is_staff=True
    )
    client = Client()
    assert client.login(username="operator", password="correct-horse-9")
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)

    # when it opens the flag list and turns the cache flag on
    listing = client.get("/admin/common/featureflag/")
    with django_capture_on_commit_callbacks(execute=True):
        status_code = _post_change_form(client, flag, is_enabled=True)

    # then it could, and the change is audited under its id
    assert listing.status_code == 200
    assert status_code == 302
    assert FeatureFlag.objects.get(pk=flag.pk).is_enabled is True
    assert _flag_records()[-1][0] == operator.pk


def test_the_admin_cannot_rename_a_flag(staff_client: Client) -> None:
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)

    status_code = _post_change_form(staff_client, flag, name="LEADERBOARDS_CACHE_ENABLED_OLD")

    assert status_code == 302
    assert FeatureFlag.objects.filter(name=FlagName.CACHE).exists()


def test_admin_change_of_rollout_above_100_is_refused(staff_client: Client) -> None:
    flag = FeatureFlag.objects.get(name=FlagName.COMPUTE)

    status_code = _post_change_form(staff_client, flag, is_enabled=True, rollout_percent=101)

    assert status_code == 200  # the form is shown again with its error
    assert FeatureFlag.objects.get(pk=flag.pk).rollout_percent == 100
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
            {
                "flag": "LEADERBOARDS_CACHE_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": True, "rollout_percent": 100},
            },
        )
    ]


def test_orm_save_after_an_admin_change_does_not_blame_the_admin(
    staff_client: Client, staff_user: User
) -> None:
    # given a flag last changed by a staff user in the admin
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)
    assert _post_change_form(staff_client, flag, is_enabled=True) == 302

    # when a script without a request user turns it off again
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)
    flag.is_enabled = False
    flag.save()

    # then the second record has no actor, and the flag no longer claims the admin changed it
    assert [actor_id for actor_id, _ in _flag_records()] == [staff_user.pk, None]
    assert FeatureFlag.objects.get(pk=flag.pk).updated_by_id is None


def test_admin_delete_records_the_staff_user(staff_client: Client, staff_user: User) -> None:
    flag = FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_ENABLED")

    response = staff_client.post(f"/admin/common/featureflag/{flag.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not FeatureFlag.objects.filter(pk=flag.pk).exists()
    assert _flag_records()[-1] == (
        staff_user.pk,
        {"flag": "LEADERBOARDS_EXPERIMENT_ENABLED", "old": OFF_AT_100, "new": None},
    )


def test_admin_bulk_delete_action_records_the_staff_user_for_each_flag(
    staff_client: Client, staff_user: User
) -> None:
    first = FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_A_ENABLED")
    second = FeatureFlag.objects.create(name="LEADERBOARDS_EXPERIMENT_B_ENABLED")

    response = staff_client.post(
        "/admin/common/featureflag/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not FeatureFlag.objects.filter(pk__in=[first.pk, second.pk]).exists()
    deletions = [
        (actor_id, details["flag"])
        for actor_id, details in _flag_records()
        if details["new"] is None
    ]
    assert sorted(deletions) == [
        (staff_user.pk, "LEADERBOARDS_EXPERIMENT_A_ENABLED"),
        (staff_user.pk, "LEADERBOARDS_EXPERIMENT_B_ENABLED"),
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


# --- Bulk writes: QuerySet.update(), bulk_update(), bulk_create(), QuerySet.delete() -------------


def test_queryset_update_that_changes_a_flag_leaves_one_record_without_actor() -> None:
    # when a script turns the compute flag on at 25 % with QuerySet.update()
    updated = FeatureFlag.objects.filter(name=FlagName.COMPUTE).update(
        is_enabled=True, rollout_percent=25
    )

    # then one record, shaped as the save() path's, names no actor and both states
    assert updated == 1
    assert _flag_records() == [
        (
            None,
            {
                "flag": "LEADERBOARDS_COMPUTE_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": True, "rollout_percent": 25},
            },
        )
    ]


def test_queryset_update_records_only_the_flags_it_changed() -> None:
    # given the API flag already on
    FeatureFlag.objects.filter(name=FlagName.API).update(is_enabled=True)

    # when every flag is turned on, then every flag is turned on again
    FeatureFlag.objects.update(is_enabled=True)
    FeatureFlag.objects.update(is_enabled=True)

    # then the second write recorded the two flags it changed, the third nothing
    assert [details["flag"] for _, details in _flag_records()] == [
        "LEADERBOARDS_API_ENABLED",
        "LEADERBOARDS_CACHE_ENABLED",
        "LEADERBOARDS_COMPUTE_ENABLED",
    ]


def test_queryset_update_naming_a_user_records_that_user(staff_user: User) -> None:
    FeatureFlag.objects.filter(name=FlagName.CACHE).update(
        rollout_percent=10, updated_by=staff_user
    )

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
    assert FeatureFlag.objects.get(name=FlagName.CACHE).updated_by_id == staff_user.pk


def test_queryset_update_after_an_admin_change_does_not_blame_the_admin(
    staff_client: Client, staff_user: User
) -> None:
    # given a flag last changed by a staff user in the admin
    flag = FeatureFlag.objects.get(name=FlagName.CACHE)
    assert _post_change_form(staff_client, flag, is_enabled=True) == 302
    changed_at = FeatureFlag.objects.get(pk=flag.pk).updated_at

    # when a script without a request user turns it off with QuerySet.update()
    FeatureFlag.objects.filter(pk=flag.pk).update(is_enabled=False)

    # then, as after a save(), the record has no actor, the row no longer names the admin and
    # its updated_at moved
    assert [actor_id for actor_id, _ in _flag_records()] == [staff_user.pk, None]
    stored = FeatureFlag.objects.get(pk=flag.pk)
    assert stored.updated_by_id is None
    assert stored.updated_at > changed_at


def test_bulk_update_records_each_changed_flag() -> None:
    flags = list(FeatureFlag.objects.filter(name__in=[FlagName.API, FlagName.CACHE]))
    for flag in flags:
        flag.rollout_percent = 50

    FeatureFlag.objects.bulk_update(flags, ["rollout_percent"])

    assert _flag_records() == [
        (
            None,
            {
                "flag": name,
                "old": OFF_AT_100,
                "new": {"is_enabled": False, "rollout_percent": 50},
            },
        )
        for name in ("LEADERBOARDS_API_ENABLED", "LEADERBOARDS_CACHE_ENABLED")
    ]


def test_bulk_create_records_each_new_flag(staff_user: User) -> None:
    FeatureFlag.objects.bulk_create(
        [
            FeatureFlag(name="LEADERBOARDS_EXPERIMENT_A_ENABLED", is_enabled=True),
            FeatureFlag(name="LEADERBOARDS_EXPERIMENT_B_ENABLED", updated_by=staff_user),
        ]
    )

    assert _flag_records() == [
        (
            None,
            {
                "flag": "LEADERBOARDS_EXPERIMENT_A_ENABLED",
                "old": None,
                "new": {"is_enabled": True, "rollout_percent": 100},
            },
        ),
        (
            staff_user.pk,
            {"flag": "LEADERBOARDS_EXPERIMENT_B_ENABLED", "old": None, "new": OFF_AT_100},
        ),
    ]


def test_bulk_create_over_stored_flags_records_only_real_changes() -> None:
    # when a stored flag is met with ignore_conflicts, then upserted with update_conflicts
    FeatureFlag.objects.bulk_create(
        [FeatureFlag(name=FlagName.API, is_enabled=True)], ignore_conflicts=True
    )
    FeatureFlag.objects.bulk_create(
        [FeatureFlag(name=FlagName.API, is_enabled=True, rollout_percent=5)],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["is_enabled", "rollout_percent"],
    )

    # then only the upsert changed it, and only the upsert is recorded
    assert _flag_records() == [
        (
            None,
            {
                "flag": "LEADERBOARDS_API_ENABLED",
                "old": OFF_AT_100,
                "new": {"is_enabled": True, "rollout_percent": 5},
            },
        )
    ]


def test_queryset_delete_records_each_flag() -> None:
    """No code of ours: FeatureFlag has a post_delete receiver, so Django deletes row by row."""
    FeatureFlag.objects.filter(name__in=[FlagName.API, FlagName.CACHE]).delete()

    assert _flag_records() == [
        (None, {"flag": name, "old": OFF_AT_100, "new": None})
        for name in ("LEADERBOARDS_API_ENABLED", "LEADERBOARDS_CACHE_ENABLED")
    ]


def test_queryset_update_refused_by_the_database_leaves_no_record() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        FeatureFlag.objects.filter(name=FlagName.API).update(rollout_percent=101)

    assert _flag_records() == []


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
