"""/metrics, /healthz and /readyz: the seven metrics of contract section 7, what moves them, their
labels (never ids), the bearer token, the seed's three PromQL queries, readiness per dependency."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.common import metrics, operations
from apps.common.middleware import routed_endpoint_names
from apps.tournaments.boards import EvictionReason, Scope
from apps.tournaments.tests.factories import UserFactory
from apps.tournaments.tests.scenarios import build_solo_cup

SEVEN_METRICS = {
    "leaderboard_requests_total": "counter",
    "leaderboard_cache_hits_total": "counter",
    "leaderboard_cache_misses_total": "counter",
    "leaderboard_cache_evictions_total": "counter",
    "leaderboard_cache_errors_total": "counter",
    "leaderboard_service_latency_seconds": "histogram",
    "leaderboard_api_latency_seconds": "histogram",
}
SEVEN_LABELS = {
    "leaderboard_requests_total": {"endpoint", "status_code"},
    "leaderboard_cache_hits_total": {"scope"},
    "leaderboard_cache_misses_total": {"scope"},
    "leaderboard_cache_evictions_total": {"reason"},
    "leaderboard_cache_errors_total": {"operation"},
    "leaderboard_service_latency_seconds": {"scope", "cached"},
    "leaderboard_api_latency_seconds": {"endpoint"},
}
PUBLIC_ENDPOINTS = {"tournament_leaderboard", "participant_history", "scoped_leaderboard"}
NAME_ENDPOINTS = {"profile_name", "team_name", "tournament_metadata"}
UNKNOWN_ID = 987654321


def _parse(text: str) -> dict[str, list[Sample]]:
    """Exposition text -> {name as exposed (a counter's with _total): samples}. The parser names
    a counter's family without `_total`; its samples keep it."""
    families = {}
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        families[name] = list(family.samples)
    return families


def _types(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))


def _total(samples: list[Sample], sample_name: str, **labels: str) -> float:
    return sum(
        sample.value
        for sample in samples
        if sample.name == sample_name
        and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def _scrape(client: APIClient | None = None) -> str:
    response = (client or APIClient()).get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def _requests_total(**labels: str) -> float:
    return _total(
        _parse(_scrape())["leaderboard_requests_total"], "leaderboard_requests_total", **labels
    )


def _token_client(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def player(db):
    return UserFactory(username="metrics-player")


@pytest.fixture
def staff(db):
    return UserFactory(username="metrics-staff", is_staff=True)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- exposition ------------------------------------------------------------------------------


FIRST_SCRAPE_SCRIPT = """
import sys
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/metrics")
with open(sys.argv[1], "wb") as out:
    out.write(str(response.status_code).encode() + b"\\n" + response.content)
"""


@pytest.mark.slow
def test_the_first_scrape_in_multiprocess_mode_has_all_seven_metrics(tmp_path: Path) -> None:
    """A fresh process in gunicorn's mode (PROMETHEUS_MULTIPROC_DIR set), scraped before it
    served anything: every metric is exported, with samples, from the known label values."""
    multiprocess_dir = tmp_path / "multiproc"
    multiprocess_dir.mkdir()
    output = tmp_path / "scrape.txt"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deltacrown.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(multiprocess_dir),
        "METRICS_BEARER_TOKEN": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", FIRST_SCRAPE_SCRIPT, str(output)],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    status, text = output.read_text().split("\n", 1)
    assert status == "200"
    families = _parse(text)
    for name, kind in SEVEN_METRICS.items():
        assert families.get(name), f"{name} has no sample in the first scrape"
        assert _types(text)[name] == kind
    requests = families["leaderboard_requests_total"]
    assert {sample.labels["endpoint"] for sample in requests} == routed_endpoint_names()
    assert {sample.labels["status_code"] for sample in requests} == {"200", "500"}
    assert all(sample.value == 0 for sample in requests)
    assert sorted(path.name.split("_")[0] for path in multiprocess_dir.iterdir()) == [
        "counter",
        "histogram",
    ]


def test_the_scrape_has_all_seven_metrics_with_their_types_and_labels(db) -> None:
    text = _scrape()
    families = _parse(text)
    types = _types(text)

    for name, kind in SEVEN_METRICS.items():
        assert families.get(name), f"{name} missing"
        assert types[name] == kind
        label_names = {
            key for sample in families[name] for key in sample.labels if key not in ("le",)
        }
        assert label_names == SEVEN_LABELS[name], name


def test_the_routed_api_endpoints_are_the_ones_with_an_endpoint_name() -> None:
    names = routed_endpoint_names()

    assert PUBLIC_ENDPOINTS | NAME_ENDPOINTS | {"ping"} <= names
    assert all(re.fullmatch(r"[a-z][a-z_]*", name) for name in names)


# --- what moves leaderboard_requests_total ------------------------------------------------------


def test_requests_total_counts_api_endpoints_and_not_operations_or_unknown_paths(
    player, staff, flags_on
) -> None:
    cup = build_solo_cup()
    client = _token_client(player)
    staff_client = _token_client(staff)
    before = _requests_total()

    for path in ("/metrics", "/healthz", "/readyz", "/api/schema/", "/api/docs/", "/admin/"):
        client.get(path)
    staff_client.get("/admin/")
    client.get("/no/such/path/")
    client.get(f"/api/tournaments/{cup.tournament.pk}/leaderboard/extra/")
    not_counted = _requests_total() - before

    board = client.get(f"/api/tournaments/{cup.tournament.pk}/leaderboard/")
    ping = client.get("/api/ping/")
    unknown = client.get(f"/api/tournaments/{UNKNOWN_ID}/leaderboard/")
    anonymous = APIClient().get(f"/api/profiles/{player.pk}/")
    counted = _requests_total() - before

    assert not_counted == 0
    assert [board.status_code, ping.status_code] == [200, 200]
    assert [unknown.status_code, anonymous.status_code] == [404, 401]
    assert counted == 4


def test_requests_total_and_api_latency_are_labelled_by_endpoint_and_status(
    player, flags_on
) -> None:
    cup = build_solo_cup()
    client = _token_client(player)
    path = f"/api/tournaments/{cup.tournament.pk}/leaderboard/"
    before = _parse(_scrape())

    client.get(path)
    client.get(path)
    client.get(path, {"page": "0"})
    client.get(f"/api/tournaments/{UNKNOWN_ID}/leaderboard/")
    client.get(f"/api/profiles/{player.pk}/")
    after = _parse(_scrape())

    def moved(name: str, sample_name: str, **labels: str) -> float:
        return _total(after[name], sample_name, **labels) - _total(
            before[name], sample_name, **labels
        )

    requests = "leaderboard_requests_total"
    board = {"endpoint": "tournament_leaderboard"}
    assert moved(requests, requests, status_code="200", **board) == 2
    assert moved(requests, requests, status_code="400", **board) == 1
    assert moved(requests, requests, status_code="404", **board) == 1
    assert moved(requests, requests, endpoint="profile_name", status_code="200") == 1
    latency = "leaderboard_api_latency_seconds"
    assert moved(latency, f"{latency}_count", **board) == 4
    assert moved(latency, f"{latency}_count", endpoint="profile_name") == 1
    assert moved(latency, f"{latency}_sum", **board) > 0


def test_label_values_never_carry_ids(player, flags_on) -> None:
    cup = build_solo_cup()
    client = _token_client(player)
    client.get(f"/api/tournaments/{cup.tournament.pk}/leaderboard/")
    client.get(f"/api/tournaments/{UNKNOWN_ID}/leaderboard/")
    client.get(f"/api/tournaments/{UNKNOWN_ID}/metadata/")
    client.get(f"/api/profiles/{UNKNOWN_ID}/")
    client.get(f"/api/teams/{UNKNOWN_ID}/")
    client.get(f"/api/tournaments/leaderboards/participant/{UNKNOWN_ID}/history/")

    text = _scrape()
    allowed = {
        "scope": {scope.value for scope in Scope},
        "cached": set(metrics.CACHED_VALUES),
        "reason": {reason.value for reason in EvictionReason},
        "operation": {operation.value for operation in metrics.RedisOperation},
    }
    for name, samples in _parse(text).items():
        if not name.startswith("leaderboard_"):
            continue
        for sample in samples:
            for key, value in sample.labels.items():
                if key == "endpoint":  # names of view classes (other tests route their own)
                    assert re.fullmatch(r"[a-z][a-z_]*", value), sample
                elif key == "status_code":
                    assert re.fullmatch(r"[1-5][0-9][0-9]", value), sample
                elif key == "le":
                    assert value == "+Inf" or float(value) <= 5.0, sample
                else:
                    assert value in allowed[key], sample
    assert str(UNKNOWN_ID) not in text
    own_lines = [line for line in text.splitlines() if line.startswith("leaderboard_")]
    assert not [line for line in own_lines if f'"{cup.tournament.pk}"' in line]
    assert not [line for line in own_lines if f'"{player.pk}"' in line]


# --- the bearer token ----------------------------------------------------------------------------


def test_metrics_require_the_bearer_token_when_one_is_configured(settings, db) -> None:
    settings.METRICS_BEARER_TOKEN = "scrape-secret"

    missing = APIClient().get("/metrics")
    wrong = APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-secret")
    token_scheme = APIClient().get("/metrics", HTTP_AUTHORIZATION="Token scrape-secret")
    right = APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    for refused in (missing, wrong, token_scheme):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == "Bearer"
        assert refused.json()["error_code"] == "NOT_AUTHENTICATED"
        assert b"leaderboard_" not in refused.content
    assert right.status_code == 200
    assert set(SEVEN_METRICS) <= set(_parse(right.content.decode()))


def test_metrics_are_open_without_a_configured_token(settings, db) -> None:
    settings.METRICS_BEARER_TOKEN = ""

    assert APIClient().get("/metrics").status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_operations_endpoints_refuse_other_methods_in_the_envelope(db, path: str) -> None:
    response = APIClient().post(path)

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "GET, HEAD"


# --- the seed's three PromQL queries ------------------------------------------------------------


def test_the_seed_queries_find_their_metrics_and_labels_with_data(
    player, flags_on, monkeypatch
) -> None:
    """What the three queries of the seed select exists, with data after some traffic:
    hit ratio over leaderboard_cache_{hits,misses}_total; cached P95 over
    leaderboard_service_latency_seconds_bucket{cached="true"} by `le`; 5xx ratio over
    leaderboard_requests_total by status_code=~"5.."."""
    cup = build_solo_cup()
    client = _token_client(player)
    path = f"/api/tournaments/{cup.tournament.pk}/leaderboard/"
    before = _parse(_scrape())

    first = client.get(path)  # computed (a miss)
    second = client.get(path)  # served from the cache (a hit)
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", "false")
    disabled = client.get(path)  # 503 FEATURE_DISABLED: a 5xx
    after = _parse(_scrape())

    def moved(name: str, sample_name: str, **labels: str) -> float:
        return _total(after[name], sample_name, **labels) - _total(
            before[name], sample_name, **labels
        )

    assert [first.status_code, second.status_code, disabled.status_code] == [200, 200, 503]
    # 1. sum(rate(hits)) / (sum(rate(hits)) + sum(rate(misses)))
    hits, misses = "leaderboard_cache_hits_total", "leaderboard_cache_misses_total"
    assert moved(hits, hits, scope="tournament") == 1
    assert moved(misses, misses, scope="tournament") == 1
    # 2. histogram_quantile(0.95,
    #      rate(leaderboard_service_latency_seconds_bucket{cached="true"}[5m]))
    latency = "leaderboard_service_latency_seconds"
    cached_buckets = [
        sample
        for sample in after[latency]
        if sample.name == f"{latency}_bucket" and sample.labels.get("cached") == "true"
    ]
    assert cached_buckets
    assert {"+Inf", "0.1"} <= {sample.labels["le"] for sample in cached_buckets}
    inf = {"le": "+Inf", "cached": "true", "scope": "tournament"}
    assert moved(latency, f"{latency}_bucket", **inf) == 1
    assert moved(latency, f"{latency}_bucket", cached="false", le="+Inf", scope="tournament") == 1
    # 3. sum(rate(requests{status_code=~"5.."})) / sum(rate(requests))
    requests = "leaderboard_requests_total"
    five_xx = [
        sample
        for sample in after[requests]
        if sample.name == requests and re.fullmatch(r"5..", sample.labels["status_code"])
    ]
    assert sum(sample.value for sample in five_xx) >= 1
    assert moved(requests, requests, endpoint="tournament_leaderboard", status_code="503") == 1
    assert moved(requests, requests) == 3


# --- /healthz and /readyz ------------------------------------------------------------------------


def test_healthz_answers_without_touching_dependencies(settings, db) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = APIClient().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_the_database_and_no_redis_configured(embedded_redis, db) -> None:
    response = APIClient().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": True}}


@pytest.mark.redis
def test_readyz_checks_redis_when_it_is_configured(use_redis, db) -> None:
    response = APIClient().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": True, "redis": True}}


@pytest.fixture
def redis_stopped(settings) -> Iterator[str]:
    """REDIS_URL points at a closed port: Redis is down."""
    from apps.common import flags, redis_gateway

    url = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.REDIS_URL = url
    redis_gateway.reset_for_tests()
    flags.forget_local_rows()
    yield url
    redis_gateway.reset_for_tests()


def test_readyz_names_redis_when_it_is_down_while_boards_still_answer(
    redis_stopped, player, flags_on
) -> None:
    cup = build_solo_cup()
    client = _token_client(player)

    ready = APIClient().get("/readyz")
    board = client.get(f"/api/tournaments/{cup.tournament.pk}/leaderboard/")

    assert ready.status_code == 503
    body = ready.json()
    assert body["error_code"] == "SERVICE_UNAVAILABLE"
    assert "redis" in body["detail"]
    assert "database" not in body["detail"]
    assert body["failed"] == ["redis"]
    assert body["checks"] == {"database": True, "redis": False}
    assert board.status_code == 200
    assert [row["rank"] for row in json.loads(board.content)["results"]] == [1, 2, 3, 4, 5]


def test_readyz_names_the_database_when_it_is_down(embedded_redis, db, monkeypatch) -> None:
    class UnreachableDatabase:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(operations, "connection", UnreachableDatabase())

    response = APIClient().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["error_code"] == "SERVICE_UNAVAILABLE"
    assert body["detail"] == "Not ready: database unreachable."
    assert body["failed"] == ["database"]


# --- the documented commands ---------------------------------------------------------------------

GUIDE = Path(django_settings.BASE_DIR) / "docs" / "leaderboards" / "observability_guide.md"
RUNBOOK = Path(django_settings.BASE_DIR) / "docs" / "runbooks" / "phase_e_leaderboards.md"


def _documented_curls(path: Path) -> list[tuple[str, int]]:
    """Every `curl ...  # expect NNN` line of a document: (command, expected status)."""
    found = []
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"(curl .+?)\s+# expect (\d{3})", line.strip())
        if match:
            found.append((match.group(1), int(match.group(2))))
    return found


def _run_documented_curl(command: str, variables: dict[str, str]):
    """Send what the curl command sends (method, headers, body, path) through the test client."""
    for name, value in variables.items():
        command = command.replace(f"${name}", value)
    words = shlex.split(command)
    headers: dict[str, str] = {}
    method, body, url = "GET", "", ""
    index = 1
    while index < len(words):
        word = words[index]
        if word == "-s":
            index += 1
        elif word in ("-H", "-X", "-d"):
            value = words[index + 1]
            if word == "-H":
                name, _, header_value = value.partition(":")
                headers[name.strip()] = header_value.strip()
            elif word == "-X":
                method = value
            else:
                body = value
            index += 2
        elif word.startswith("http://"):
            url = word
            index += 1
        else:
            raise AssertionError(f"the test cannot replay curl argument {word!r}")
    parts = urlsplit(url)
    assert parts.netloc == "127.0.0.1:8000", command
    assert "$" not in command, f"unknown variable in {command}"
    content_type = headers.pop("Content-Type", "application/octet-stream")
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return APIClient().generic(method, path, body, content_type=content_type, **meta)


def test_the_guides_commands_answer_as_documented(settings, db) -> None:
    settings.METRICS_BEARER_TOKEN = "documented-token"
    commands = _documented_curls(GUIDE)

    assert len(commands) >= 5
    for command, expected in commands:
        response = _run_documented_curl(command, {"METRICS_BEARER_TOKEN": "documented-token"})
        assert response.status_code == expected, command
        if "/metrics" in command and expected == 200:
            assert set(SEVEN_METRICS) <= set(_parse(response.content.decode()))


@pytest.mark.redis
def test_the_runbooks_commands_answer_as_documented(use_redis, player, staff, flags_on) -> None:
    cup = build_solo_cup()
    variables = {
        "STAFF_TOKEN": Token.objects.get_or_create(user=staff)[0].key,
        "TOURNAMENT_ID": str(cup.tournament.pk),
        "TOKEN": Token.objects.get_or_create(user=player)[0].key,
    }
    commands = _documented_curls(RUNBOOK)

    assert len(commands) >= 5
    for command, expected in commands:
        response = _run_documented_curl(command, variables)
        assert response.status_code == expected, (command, response.content[:300])
