"""Logs: one JSON object per stdout line; the request id, its validation and echo; the request
context on every line of a request; user_id after DRF authenticated; no IPs, no query strings."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
import structlog
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient

from apps.common.api.views import ApiView
from apps.common.middleware import (
    REQUEST_ID_HEADER,
    RequestContextMiddleware,
    authenticated_user_id,
    request_id_from,
)
from apps.tournaments.tests.factories import UserFactory
from apps.tournaments.tests.scenarios import build_solo_cup
from deltacrown import logs as observability

CLIENT_ADDRESS = "203.0.113.77"
FORWARDED_ADDRESS = "198.51.100.23"


class ProbeView(ApiView):
    """Logs through both paths inside the view: structlog and the standard library."""

    endpoint_name = "probe"

    def get(self, request: Request) -> Response:
        structlog.get_logger("probe").info("probe_structlog", rows=3)
        logging.getLogger("django.probe").warning("probe stdlib %s", "line")
        return Response({"ok": True})


class FailingProbeView(ApiView):
    endpoint_name = "failing_probe"

    def get(self, request: Request) -> Response:
        raise RuntimeError("probe failure")


def failing_plain_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("plain view failure")


# This module doubles as a URLconf (settings.ROOT_URLCONF = __name__) for the probe views.
urlpatterns = [
    path("probe/", ProbeView.as_view()),
    path("failing-probe/", FailingProbeView.as_view()),
    path("failing-plain/", failing_plain_view),
    path("", include("deltacrown.urls")),
]
handler404 = "apps.common.api.errors.handler404"
handler500 = "apps.common.api.errors.handler500"


def _lines(captured: str) -> list[dict[str, Any]]:
    """Every stdout line, parsed: a line that is not one JSON object fails the test."""
    parsed = []
    for line in captured.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed


def _finished(lines: list[dict[str, Any]]) -> dict[str, Any]:
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert len(finished) == 1, lines
    return finished[0]


def _token_client(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient(REMOTE_ADDR=CLIENT_ADDRESS, HTTP_X_FORWARDED_FOR=FORWARDED_ADDRESS)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def probe_urls(settings) -> None:
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def player(db):
    return UserFactory(username="obs-player", display_name="Visible Name")


def _is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


# --- the request id ----------------------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["abc-123", "A.b_c-9", "x", "a" * 64])
def test_a_valid_incoming_request_id_is_kept(incoming: str) -> None:
    assert request_id_from(incoming) == incoming


@pytest.mark.parametrize(
    "incoming", [None, "", "bad id!", "a" * 65, "abc\n", "abc/def", "é", "id;drop", "a b"]
)
def test_an_absent_or_malformed_request_id_is_replaced_by_a_uuid4(incoming: str | None) -> None:
    replaced = request_id_from(incoming)

    assert _is_uuid4(replaced)
    assert replaced != incoming


def test_every_line_of_a_request_is_json_and_carries_its_request_id(
    probe_urls, player, capsys
) -> None:
    client = _token_client(player)
    capsys.readouterr()

    response = client.get("/probe/", HTTP_X_REQUEST_ID="abc-123")

    lines = _lines(capsys.readouterr().out)
    assert response.status_code == 200
    assert response[REQUEST_ID_HEADER] == "abc-123"
    assert [line["event"] for line in lines] == [
        "probe_structlog",
        "probe stdlib line",
        "request_finished",
    ]
    assert {line["request_id"] for line in lines} == {"abc-123"}
    assert {line["method"] for line in lines} == {"GET"}
    assert {line["path"] for line in lines} == {"/probe/"}
    assert {line["user_id"] for line in lines} == {player.pk}
    assert [line["logger"] for line in lines] == ["probe", "django.probe", "apps.request"]
    assert [line["level"] for line in lines] == ["info", "warning", "info"]
    assert lines[0]["rows"] == 3


def test_a_leaderboard_request_logs_its_id_on_every_line(player, flags_on, capsys) -> None:
    cup = build_solo_cup()
    client = _token_client(player)
    capsys.readouterr()

    response = client.get(
        f"/api/tournaments/{cup.tournament.pk}/leaderboard/", HTTP_X_REQUEST_ID="abc-123"
    )

    lines = _lines(capsys.readouterr().out)
    assert response.status_code == 200
    assert response[REQUEST_ID_HEADER] == "abc-123"
    assert lines, "the request wrote no log line"
    assert all(line["request_id"] == "abc-123" for line in lines), lines
    finished = _finished(lines)
    assert finished["path"] == f"/api/tournaments/{cup.tournament.pk}/leaderboard/"
    assert finished["status"] == 200
    assert finished["user_id"] == player.pk


@pytest.mark.parametrize("incoming", ["bad id!", "a" * 65])
def test_a_malformed_request_id_is_replaced_in_the_header_and_the_logs(
    probe_urls, player, capsys, incoming: str
) -> None:
    client = _token_client(player)
    capsys.readouterr()

    response = client.get("/probe/", HTTP_X_REQUEST_ID=incoming)

    lines = _lines(capsys.readouterr().out)
    sent_back = response[REQUEST_ID_HEADER]
    assert _is_uuid4(sent_back)
    assert {line["request_id"] for line in lines} == {sent_back}
    assert incoming not in json.dumps(lines)


def test_requests_without_an_id_get_distinct_ids(probe_urls, player) -> None:
    client = _token_client(player)

    first = client.get("/probe/")[REQUEST_ID_HEADER]
    second = client.get("/probe/")[REQUEST_ID_HEADER]

    assert _is_uuid4(first) and _is_uuid4(second)
    assert first != second


def test_the_finished_line_has_status_duration_and_the_token_user(player, capsys) -> None:
    client = _token_client(player)
    capsys.readouterr()

    response = client.get("/api/ping/", HTTP_X_REQUEST_ID="ping-1")

    finished = _finished(_lines(capsys.readouterr().out))
    assert response.status_code in (200, 503)  # 503 FEATURE_DISABLED: flags are off here
    assert finished["request_id"] == "ping-1"
    assert finished["method"] == "GET"
    assert finished["path"] == "/api/ping/"
    assert finished["status"] == response.status_code
    assert finished["user_id"] == player.pk
    assert isinstance(finished["duration_ms"], float)
    assert 0 < finished["duration_ms"] < 60_000
    stamp = dt.datetime.fromisoformat(finished["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert finished["timestamp"].endswith("Z")
    assert list(finished)[:5] == ["timestamp", "level", "event", "logger", "request_id"]


def test_an_anonymous_or_bad_token_request_logs_no_user(db, capsys) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    capsys.readouterr()

    bad_token = client.get("/api/ping/")
    anonymous = APIClient().get("/api/ping/")

    finished = [
        line for line in _lines(capsys.readouterr().out) if line["event"] == "request_finished"
    ]
    assert [bad_token.status_code, anonymous.status_code] == [401, 401]
    assert [line["user_id"] for line in finished] == [None, None]


def test_no_ip_query_string_or_name_reaches_the_logs(player, flags_on, capsys) -> None:
    cup = build_solo_cup()
    client = _token_client(player)
    capsys.readouterr()

    client.get(
        f"/api/tournaments/{cup.tournament.pk}/leaderboard/?page=1&email=who%40example.test",
        HTTP_X_REQUEST_ID="no-pii",
    )
    client.get(f"/api/profiles/{player.pk}/?note=secret-note")
    client.get("/no/such/path/?token=leaky")

    output = capsys.readouterr().out
    lines = _lines(output)
    assert len([line for line in lines if line["event"] == "request_finished"]) == 3
    for forbidden in (
        CLIENT_ADDRESS,
        FORWARDED_ADDRESS,
        "127.0.0.1",
        "who%40example.test",
        "who@example.test",
        "secret-note",
        "leaky",
        "page=1",
        "Visible Name",
        "obs-player",
    ):
        assert forbidden not in output, forbidden
    assert all("?" not in line["path"] for line in lines)


def test_a_very_long_path_is_cut_in_the_log(db, capsys) -> None:
    capsys.readouterr()

    response = APIClient().get("/" + "x" * 5000 + "/")

    finished = _finished(_lines(capsys.readouterr().out))
    assert response.status_code == 404
    assert finished["path"] == "/" + "x" * 255
    assert finished["user_id"] is None


def test_the_context_is_cleared_after_each_request(probe_urls, player) -> None:
    client = _token_client(player)
    structlog.contextvars.bind_contextvars(left_over="from before")

    client.get("/probe/", HTTP_X_REQUEST_ID="ctx-1")

    assert structlog.contextvars.get_contextvars() == {}


def test_a_left_over_context_does_not_reach_the_next_request(probe_urls, player, capsys) -> None:
    client = _token_client(player)
    structlog.contextvars.bind_contextvars(request_id="stale", user_id=999)
    capsys.readouterr()

    client.get("/probe/", HTTP_X_REQUEST_ID="fresh")

    lines = _lines(capsys.readouterr().out)
    assert {line["request_id"] for line in lines} == {"fresh"}
    assert 999 not in {line.get("user_id") for line in lines}


def test_a_server_error_is_logged_as_json_with_its_request_id(probe_urls, player, capsys) -> None:
    client = _token_client(player)
    client.raise_request_exception = False
    capsys.readouterr()

    response = client.get("/failing-probe/", HTTP_X_REQUEST_ID="boom-1")

    lines = _lines(capsys.readouterr().out)
    assert response.status_code == 500
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    assert {line["request_id"] for line in lines} == {"boom-1"}
    errors = [line for line in lines if line["event"] == "unhandled_api_error"]
    assert len(errors) == 1
    assert "RuntimeError: probe failure" in errors[0]["exception"]
    finished = _finished(lines)
    assert (finished["level"], finished["status"]) == ("error", 500)
    assert len(lines) == 2


def test_an_exception_outside_drf_is_logged_by_django_with_the_request_id(
    probe_urls, db, capsys
) -> None:
    client = APIClient()
    client.raise_request_exception = False
    capsys.readouterr()

    response = client.get("/failing-plain/", HTTP_X_REQUEST_ID="boom-2")

    lines = _lines(capsys.readouterr().out)
    assert response.status_code == 500
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    assert {line["request_id"] for line in lines} == {"boom-2"}
    [django_error] = [line for line in lines if line["logger"] == "django.request"]
    assert django_error["level"] == "error"
    assert django_error["event"] == "Internal Server Error: /failing-plain/"
    assert "RuntimeError: plain view failure" in django_error["exception"]
    assert _finished(lines)["status"] == 500


def test_operations_endpoints_echo_the_request_id_and_log_one_line(db, capsys) -> None:
    capsys.readouterr()

    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID="probe.health_1")

    finished = _finished(_lines(capsys.readouterr().out))
    assert response[REQUEST_ID_HEADER] == "probe.health_1"
    assert (finished["path"], finished["status"], finished["user_id"]) == ("/healthz", 200, None)


# --- configuration -------------------------------------------------------------------------------


def test_stdlib_loggers_of_django_and_gunicorn_write_json(capsys) -> None:
    structlog.contextvars.bind_contextvars(request_id="bound-1")
    try:
        logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 1234)
        logging.getLogger("django.security").error("a security event")
        logging.getLogger("gunicorn.access").info("an access line with an address 10.0.0.1")
        logging.getLogger("django.server").info('"GET /x?secret=1 HTTP/1.1" 200 2')
    finally:
        structlog.contextvars.clear_contextvars()

    lines = _lines(capsys.readouterr().out)
    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("gunicorn.error", "info", "Booting worker with pid: 1234"),
        ("django.security", "error", "a security event"),
    ]
    assert {line["request_id"] for line in lines} == {"bound-1"}


def test_structlog_follows_the_configured_level(capsys) -> None:
    logger = structlog.get_logger("level-check")
    try:
        observability.configure_structlog("WARNING")
        logger.info("hidden_event")
        logger.warning("shown_event")
    finally:
        observability.configure_structlog(django_settings.LOG_LEVEL)

    assert [line["event"] for line in _lines(capsys.readouterr().out)] == ["shown_event"]


def test_an_unknown_log_level_is_refused_at_startup() -> None:
    environment = {**os.environ, "LOG_LEVEL": "LOUD", "DJANGO_SETTINGS_MODULE": ""}
    result = subprocess.run(
        [sys.executable, "-c", "import deltacrown.settings"],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL" in result.stderr


def test_the_gunicorn_logging_config_renders_its_error_log_as_json(capsys) -> None:
    config = observability.gunicorn_logging_config("info")
    logger_names = set(config["loggers"])

    assert logger_names == {"gunicorn.error", "gunicorn.access"}
    assert config["loggers"]["gunicorn.access"]["handlers"] == []
    formatter = config["formatters"]["json"]["()"]()
    record = logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1, "Listening", (), None)
    line = json.loads(formatter.format(record))
    assert (line["logger"], line["level"], line["event"]) == ("gunicorn.error", "info", "Listening")


def test_the_user_is_never_evaluated_by_the_middleware(rf) -> None:
    """A lazy session user nobody looked at stays unevaluated (no session or user query)."""
    from django.utils.functional import SimpleLazyObject

    def evaluate() -> None:
        raise AssertionError("the middleware evaluated the lazy user")

    request = rf.get("/healthz")
    request.user = SimpleLazyObject(evaluate)

    assert authenticated_user_id(request) is None


def test_the_middleware_clears_the_context_even_when_the_handler_raises(rf) -> None:
    def failing_handler(request):
        structlog.contextvars.bind_contextvars(user_id=5)
        raise RuntimeError("handler failure")

    middleware = RequestContextMiddleware(failing_handler)

    with pytest.raises(RuntimeError):
        middleware(rf.get("/x"))
    assert structlog.contextvars.get_contextvars() == {}
