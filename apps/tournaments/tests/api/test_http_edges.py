"""The edges of HTTP a JSON-only API must still answer in its envelope: query parameters DRF
would treat specially, methods, Accept, request bodies (hostile ones too), missing slashes,
oversized numbers, hidden tournaments, CORS (contract section 4, "HTTP edges")."""

from __future__ import annotations

import json

import pytest

from apps.common import flags
from apps.common.models import AuditAction, AuditRecord, FeatureFlag, FlagName
from apps.tournaments.models import TournamentStatus
from apps.tournaments.tests.factories import TournamentFactory
from apps.tournaments.tests.scenarios import build_round_robin

BOARD = "/api/tournaments/{}/leaderboard/"
SCOPED = "/api/tournaments/leaderboards/scoped/"
INVALIDATE = "/api/admin/leaderboards/cache/invalidate/"


@pytest.mark.parametrize("value", ["x", "json", "api", "true"])
def test_a_format_parameter_is_ignored_like_any_unknown_parameter(
    player_client, anonymous_client, flags_on, value
):
    tournament = build_round_robin(2)
    url = BOARD.format(tournament.pk) + f"?format={value}"

    anonymous = anonymous_client.get(url)
    player = player_client.get(url)

    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert player.status_code == 200
    assert player.json()["count"] == 2


def test_options_is_a_method_not_allowed(player_client, flags_on):
    tournament = build_round_robin(2)

    response = player_client.options(BOARD.format(tournament.pk))

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_any_accept_header_gets_json(player_client, staff_client, flags_on):
    tournament = build_round_robin(2)

    board = player_client.get(BOARD.format(tournament.pk), HTTP_ACCEPT="text/html")
    status = staff_client.get("/api/admin/leaderboards/cache/status/", HTTP_ACCEPT="image/png")

    assert (board.status_code, board["Content-Type"]) == (200, "application/json")
    assert board.json()["count"] == 2
    assert (status.status_code, status["Content-Type"]) == (200, "application/json")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("scope=all", "application/x-www-form-urlencoded"), ("scope all", "text/plain")],
)
def test_a_body_that_is_not_json_is_a_validation_error(staff_client, flags_on, body, content_type):
    response = staff_client.post(INVALIDATE, body, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert "JSON" in response.json()["errors"]["body"][0]


def test_an_api_path_without_its_slash_is_a_json_404_naming_the_path(player_client, flags_on):
    tournament = build_round_robin(2)
    path = BOARD.format(tournament.pk).rstrip("/")

    get = player_client.get(path)
    post = player_client.post(INVALIDATE.rstrip("/"), {"scope": "all"}, format="json")

    assert get.status_code == 404
    assert get.json() == {
        "error_code": "NOT_FOUND",
        "detail": f"No such path; the API's paths end with a slash: {path}/",
    }
    assert post.status_code == 404
    assert post.json()["error_code"] == "NOT_FOUND"


def test_the_admin_still_redirects_to_its_slashed_path(client):
    response = client.get("/admin")

    assert response.status_code == 301
    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("page", ["123456789012345678901234", "9" * 5000, "9223372036854775808"])
def test_a_page_number_of_any_length_past_the_last_is_404(player_client, flags_on, page):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk) + f"?page={page}")

    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"


def test_leading_zeros_do_not_make_a_page_huge(player_client, flags_on):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk) + "?page=" + "0" * 30 + "1")

    assert response.status_code == 200
    assert response.json()["count"] == 2


@pytest.mark.parametrize("page", ["99999999999999999999999999", "7"])
def test_a_page_past_the_last_is_quoted_as_sent(player_client, flags_on, page):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk) + f"?page={page}")

    assert response.json()["detail"] == f"Page {page} is past the last page (1)."


def test_a_very_long_page_is_quoted_shortened(player_client, flags_on):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk) + "?page=" + "9" * 5000)

    assert response.json()["detail"] == (
        f"Page {'9' * 20}... (5000 characters) is past the last page (1)."
    )


def test_an_unknown_choice_is_quoted_with_the_valid_values_in_plain_words(player_client, flags_on):
    response = player_client.get(SCOPED + "?scope=" + "x" * 300)

    message = response.json()["errors"]["scope"][0]
    assert response.status_code == 400
    assert message == (
        f"'{'x' * 20}... (300 characters)' is not a valid choice; "
        "valid values: tournament, season, all_time."
    )


# --- Request bodies: bounded, parsed safely, refusals audited --------------------------------


def _invalidation_audits() -> list[dict]:
    return list(
        AuditRecord.objects.filter(action=AuditAction.CACHE_INVALIDATED)
        .order_by("pk")
        .values_list("details", flat=True)
    )


def _post_raw(client, body: bytes, content_type: str = "application/json"):
    return client.generic("POST", INVALIDATE, body, content_type=content_type)


HOSTILE_BODIES = {
    "nested 1,100 levels": b"[" * 1100 + b"]" * 1100,
    "nested 100,000 levels, unclosed": b"{" * 60_000,
    "nested 33 levels": b'{"scope": ' + b"[" * 33 + b"]" * 33 + b"}",
    "not UTF-8": b'{"scope": "\xff\xfe"}',
    "not JSON": b'{"scope": ',
    "NaN": b'{"tournament_id": NaN}',
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_a_hostile_body_is_a_400_in_the_envelope_and_audited(staff_client, flags_on, name):
    response = _post_raw(staff_client, HOSTILE_BODIES[name])

    body = response.json()
    assert response.status_code == 400
    assert body["error_code"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"body"}
    assert "Traceback" not in response.content.decode()
    assert "codec" not in body["detail"] and "Expecting" not in body["detail"]
    assert [audit["outcome"] for audit in _invalidation_audits()] == ["refused"]
    assert _invalidation_audits()[0]["status_code"] == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 40 + b"]" * 40, "The JSON body is nested deeper than 32 levels."),
        (b'{"scope": "all"', "The request body is not valid JSON: expecting ',' delimiter"),
        (
            b'{"scope": ',
            "The request body is not valid JSON: expecting value at line 1, column 11.",
        ),
        (b'{"scope": "\xffall"}', "The request body is not UTF-8 text (byte 12 is not)."),
        (b'{"tournament_id": Infinity}', "The request body is not valid JSON: NaN and Infinity"),
    ],
)
def test_a_refused_body_is_described_in_plain_words(staff_client, flags_on, body, message):
    response = _post_raw(staff_client, body)

    assert response.json()["errors"]["body"][0].startswith(message)
    assert response.json()["detail"].startswith("Invalid body: " + message)


def test_brackets_inside_strings_do_not_count_as_nesting(staff_client, flags_on):
    tournament = build_round_robin(2)
    body = json.dumps({"tournament_id": tournament.pk, "note": "[" * 100}).encode()

    response = _post_raw(staff_client, body)

    # the body is read (32 levels are not exceeded); the unknown key is what is refused
    assert response.status_code == 400
    assert set(response.json()["errors"]) != {"body"}


def test_a_body_nested_exactly_32_levels_is_read(staff_client, flags_on):
    body = b'{"scope": ' + b"[" * 31 + b"]" * 31 + b"}"

    response = _post_raw(staff_client, body)

    # read and then refused for what it says (scope is not a list), not for its depth
    assert response.status_code == 400
    assert "scope" in response.json()["errors"]


def test_a_body_over_64_kib_is_a_413_in_the_envelope_and_audited(staff_client, flags_on):
    body = json.dumps({"scope": "all", "padding": "x" * (64 * 1024)}).encode()

    response = _post_raw(staff_client, body)

    assert response.status_code == 413
    assert response.json() == {
        "error_code": "VALIDATION_ERROR",
        "detail": "Invalid body: The request body is over the limit of 64 KiB.",
        "errors": {"body": ["The request body is over the limit of 64 KiB."]},
    }
    assert [(a["outcome"], a["status_code"]) for a in _invalidation_audits()] == [("refused", 413)]


def test_a_body_of_2_6_mb_is_refused_without_reading_it_whole(staff_client, flags_on):
    response = _post_raw(staff_client, b"[" + b"1," * 1_300_000 + b"1]")

    assert response.status_code == 413
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_a_body_just_under_the_limit_is_read(staff_client, flags_on):
    prefix = b'{"scope": "all", "padding": "'
    body = prefix + b"x" * (64 * 1024 - len(prefix) - 2) + b'"}'
    assert len(body) == 64 * 1024

    response = _post_raw(staff_client, body)

    assert response.status_code == 400  # read; `padding` is not a key this endpoint takes
    assert "padding" in json.dumps(response.json()["errors"])


def test_ten_hostile_calls_leave_ten_audit_records(staff_client, flags_on):
    bodies = [
        b"[" * 1100 + b"]" * 1100,
        b"[" + b"1," * 40_000 + b"1]",
        b"\xff",
        b"{",
        b"[" * 33 + b"]" * 33,
        b'{"scope": "everything"}',
        b'{"tournament_id": -1}',
        b"{}",
        b"null",
        b'{"tournament_id": 1e400}',
    ]

    statuses = [_post_raw(staff_client, body).status_code for body in bodies]

    assert all(status in (400, 404, 413) for status in statuses)
    assert len(_invalidation_audits()) == len(bodies)


def test_a_player_sending_a_hostile_body_is_403_not_500(player_client, flags_on):
    response = _post_raw(player_client, b"[" * 1100 + b"]" * 1100)

    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


# --- A hidden (draft) tournament is answered exactly like a missing one ----------------------


def _set_flag(flag: FlagName, enabled: bool) -> None:
    FeatureFlag.objects.filter(name=flag.value).update(is_enabled=enabled)
    flags.forget_cached_rows()


TOURNAMENT_URLS = [
    "/api/tournaments/{}/leaderboard/",
    "/api/tournaments/{}/leaderboard/?page=2&page_size=5",
    "/api/tournaments/{}/metadata/",
    SCOPED + "?scope=tournament&tournament_id={}",
]


@pytest.mark.parametrize("computation", [True, False], ids=["compute-on", "compute-off"])
@pytest.mark.parametrize("url", TOURNAMENT_URLS)
def test_a_draft_and_a_missing_tournament_answer_the_same_bytes(
    player_client, flags_on, url, computation
):
    _set_flag(FlagName.COMPUTE, computation)
    draft = TournamentFactory(status=TournamentStatus.DRAFT)
    missing = draft.pk + 1000

    hidden = player_client.get(url.format(draft.pk))
    absent = player_client.get(url.format(missing))

    assert hidden.status_code == absent.status_code == 404
    assert hidden["Content-Type"] == absent["Content-Type"]
    assert hidden.content.replace(str(draft.pk).encode(), b"ID") == absent.content.replace(
        str(missing).encode(), b"ID"
    )
    assert hidden.json() == {
        "error_code": "TOURNAMENT_NOT_FOUND",
        "detail": f"No tournament with id {draft.pk}.",
    }


# --- Methods: a JSON 405 whose Allow lists what the route answers -----------------------------

OPERATIONS_ROUTES = ["/healthz", "/readyz", "/metrics", "/api/schema/", "/api/docs/"]
OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@pytest.mark.parametrize("method", OTHER_METHODS)
@pytest.mark.parametrize("path", OPERATIONS_ROUTES)
def test_operations_and_docs_routes_answer_other_methods_with_a_json_405(client, db, path, method):
    response = client.generic(method, path, b'{"a": 1}', content_type="application/json")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", OPERATIONS_ROUTES)
def test_operations_and_docs_routes_answer_get_and_head(client, db, path):
    assert client.get(path).status_code == 200
    assert client.head(path).status_code == 200


def test_a_post_with_a_session_but_no_csrf_token_is_a_json_405_on_operations(db):
    from django.test import Client

    from apps.tournaments.tests.factories import UserFactory

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory(is_staff=True))

    response = browser.post("/healthz", {"x": "1"})

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_an_admin_form_post_without_its_csrf_token_is_a_json_403(db):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error_code": "PERMISSION_DENIED",
        "detail": "CSRF verification failed: CSRF cookie not set.",
    }


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/tournaments/1/leaderboard/", "GET, HEAD"),
        ("/api/tournaments/leaderboards/scoped/", "GET, HEAD"),
        ("/api/ping/", "GET, HEAD"),
        (INVALIDATE, "POST"),
        ("/api/admin/leaderboards/cache/status/", "GET, HEAD"),
    ],
)
def test_allow_lists_only_the_methods_the_route_answers(staff_client, flags_on, path, allow):
    wrong = staff_client.generic("PATCH", path)
    options = staff_client.options(path)

    assert wrong.status_code == options.status_code == 405
    assert wrong["Allow"] == options["Allow"] == allow
    assert options.json()["error_code"] == "METHOD_NOT_ALLOWED"


# --- CORS (django-cors-headers) ----------------------------------------------------------------

APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def cors_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP_ORIGIN]


def _preflight(client, origin: str, method: str = "GET", headers: str = "authorization"):
    return client.options(
        BOARD.format(1),
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_a_preflight_from_an_allowed_origin_is_answered(anonymous_client, cors_origins):
    response = _preflight(anonymous_client, APP_ORIGIN, headers="authorization,if-none-match")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    allowed_headers = response["Access-Control-Allow-Headers"].split(", ")
    assert {"authorization", "if-none-match", "x-request-id"} <= set(allowed_headers)
    assert response["Access-Control-Allow-Methods"] == "GET, HEAD, POST"
    assert response["Access-Control-Max-Age"] == "86400"
    assert "Access-Control-Allow-Credentials" not in response


def test_a_preflight_from_another_origin_gets_no_cors_headers(anonymous_client, cors_origins):
    response = _preflight(anonymous_client, "https://evil.example.net")

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert not [name for name in response.headers if name.lower().startswith("access-control")]


def test_with_no_origins_configured_no_preflight_is_answered(anonymous_client, settings):
    settings.CORS_ALLOWED_ORIGINS = []

    response = _preflight(anonymous_client, APP_ORIGIN)

    assert response.status_code == 405
    assert "Access-Control-Allow-Origin" not in response


def test_an_allowed_origin_can_read_the_board_and_its_headers(
    player_client, flags_on, cors_origins
):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk), HTTP_ORIGIN=APP_ORIGIN)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = set(response["Access-Control-Expose-Headers"].split(", "))
    assert exposed == {
        "etag",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-request-id",
    }
    assert "origin" in response["Vary"].lower()


def test_an_allowed_origin_reads_errors_too(anonymous_client, cors_origins):
    response = anonymous_client.get(BOARD.format(1), HTTP_ORIGIN=APP_ORIGIN)

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_another_origin_gets_the_answer_without_cors_headers(player_client, flags_on, cors_origins):
    tournament = build_round_robin(2)

    response = player_client.get(
        BOARD.format(tournament.pk), HTTP_ORIGIN="https://app.example.com.evil.net"
    )

    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control")]


def test_cors_covers_the_api_only(client, db, cors_origins):
    response = client.get("/healthz", HTTP_ORIGIN=APP_ORIGIN)

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_an_unknown_game_names_the_known_games_in_plain_words(player_client, flags_on):
    from apps.tournaments.tests.factories import GameFactory

    GameFactory(slug="valorant")
    GameFactory(slug="efootball")

    response = player_client.get(SCOPED + "?scope=all_time&game=fifa")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "game": ["Unknown game 'fifa'; known games: efootball, valorant."]
    }
