"""The Django admin login's throttle (django-axes, apps.common.admin_login): 5 failures for one
account or from one address within 15 minutes lock it for 15 minutes, the right password
included; every failure and refusal is logged with hashes, never the password or the address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from structlog.testing import capture_logs

from apps.common.admin_login import client_address, private_hash
from apps.common.models import User

PASSWORD = "correct-horse-9"
LOGIN = "/admin/login/"
HOME = "/admin/"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(username="ops-lead", password=PASSWORD, is_staff=True)


def _login(username: str, password: str, address: str = "203.0.113.7", **headers: str):
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        LOGIN, {"username": username, "password": password, "next": HOME}, **headers
    )
    return client, response


def _logged_in(client: Client) -> bool:
    return client.get(HOME).status_code == 200


def _age_attempts(minutes: int) -> None:
    """Move every recorded failure `minutes` into the past (as if that much time went by)."""
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=minutes)
        attempt.save(update_fields=["attempt_time"])


def test_the_right_password_logs_in(staff):
    client, response = _login("ops-lead", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_four_failures_then_the_right_password_logs_in(staff):
    for _ in range(4):
        _, failed = _login("ops-lead", "wrong")
        assert failed.status_code == 200  # the login form again, with its error

    client, response = _login("ops-lead", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_a_successful_login_does_not_reset_the_count(staff):
    for _ in range(4):
        _login("ops-lead", "wrong")
    assert _login("ops-lead", PASSWORD)[1].status_code == 302

    _, fifth_failure = _login("ops-lead", "wrong")
    _, response = _login("ops-lead", PASSWORD)

    assert (fifth_failure.status_code, response.status_code) == (429, 429)


def test_the_sixth_login_is_refused_even_with_the_right_password(staff):
    statuses = [_login("ops-lead", "wrong")[1].status_code for _ in range(5)]

    client, response = _login("ops-lead", PASSWORD)

    assert statuses == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "900"
    assert response.json() == {
        "error_code": "RATE_LIMIT_EXCEEDED",
        "detail": "Too many failed logins for this account or from this address; "
        "logins are refused for up to 15 minutes.",
        "retry_after_seconds": 900,
    }
    assert not _logged_in(client)


def test_the_account_is_locked_from_every_address(staff):
    for number in range(5):
        _login("ops-lead", "wrong", address=f"198.51.100.{number}")

    _, response = _login("ops-lead", PASSWORD, address="192.0.2.99")

    assert response.status_code == 429


def test_one_address_failing_for_five_accounts_is_locked_for_any_account(staff):
    for number in range(5):
        _login(f"guess-{number}", "wrong", address="203.0.113.50")

    _, from_there = _login("ops-lead", PASSWORD, address="203.0.113.50")
    elsewhere, from_elsewhere = _login("ops-lead", PASSWORD, address="203.0.113.51")

    assert from_there.status_code == 429
    assert from_elsewhere.status_code == 302
    assert _logged_in(elsewhere)


def test_the_lock_lasts_15_minutes_from_the_lock_and_refusals_do_not_extend_it(staff):
    for _ in range(5):
        _login("ops-lead", "wrong")

    _age_attempts(minutes=10)
    _, still_locked = _login("ops-lead", PASSWORD)
    _age_attempts(minutes=4)
    _, a_minute_left = _login("ops-lead", PASSWORD)
    _age_attempts(minutes=2)
    client, after = _login("ops-lead", PASSWORD)

    assert (still_locked.status_code, a_minute_left.status_code) == (429, 429)
    assert after.status_code == 302
    assert _logged_in(client)


def test_staff_unlock_an_account_with_axes_reset_username(staff):
    for _ in range(5):
        _login("ops-lead", "wrong", address="198.51.100.1")
    assert _login("ops-lead", PASSWORD, address="198.51.100.2")[1].status_code == 429

    call_command("axes_reset_username", "ops-lead")

    client, response = _login("ops-lead", PASSWORD, address="198.51.100.2")
    assert response.status_code == 302
    assert _logged_in(client)


def test_staff_unlock_an_address_with_axes_reset_ip(staff):
    for number in range(5):
        _login(f"guess-{number}", "wrong", address="203.0.113.60")

    call_command("axes_reset_ip", "203.0.113.60")

    assert _login("ops-lead", PASSWORD, address="203.0.113.60")[1].status_code == 302


def test_failures_and_refusals_are_logged_with_hashes_only(staff):
    with capture_logs() as logs:
        for _ in range(5):
            _login("ops-lead", "wrong-secret", address="203.0.113.7")
        _login("ops-lead", PASSWORD, address="203.0.113.7")

    events = [entry for entry in logs if entry["event"].startswith("admin_login_")]
    # the lock is logged while the fifth failure is being recorded, before its own line
    assert [entry["event"] for entry in events] == [
        *["admin_login_failed"] * 4,
        "admin_login_locked",
        "admin_login_failed",
        "admin_login_refused",
    ]
    for entry in events:
        assert entry["account_hash"] == private_hash("ops-lead")
        assert entry["address_hash"] == private_hash("203.0.113.7")
        text = repr(entry)
        for secret in ("ops-lead", "203.0.113.7", "wrong-secret", PASSWORD):
            assert secret not in text


def test_the_address_is_the_connection_without_trusted_proxies(rf, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.1.1.1")

    assert client_address(request) == "10.0.0.5"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "198.51.100.9", "198.51.100.9"),
        (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # a client's own entry is not trusted
        (2, "6.6.6.6, 198.51.100.9, 10.0.0.2", "198.51.100.9"),
        (2, "198.51.100.9", "10.0.0.5"),  # fewer entries than proxies: the connection's
    ],
)
def test_behind_proxies_the_address_is_the_one_the_outermost_proxy_wrote(
    rf, settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == expected


def test_a_forged_forwarded_header_does_not_escape_the_address_lock(staff):
    for number in range(5):
        _login(
            f"guess-{number}",
            "wrong",
            address="203.0.113.70",
            HTTP_X_FORWARDED_FOR=f"6.6.6.{number}",
        )

    _, response = _login("ops-lead", PASSWORD, address="203.0.113.70")

    assert response.status_code == 429
