"""The edges of HTTP a JSON-only API must still answer in its envelope: query parameters DRF
would treat specially, methods, Accept, request bodies, missing slashes, oversized numbers."""

from __future__ import annotations

import pytest

from apps.tournaments.tests.scenarios import build_round_robin

BOARD = "/api/tournaments/{}/leaderboard/"
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
