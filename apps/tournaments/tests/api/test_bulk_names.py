"""Names in bulk: `GET /api/profiles/?ids=...` and `GET /api/teams/?ids=...`.

Ascending ids, unknown ids left out, 1 to 200 distinct positive integers (else 400 naming `ids`),
authenticated users only, a public rate budget per endpoint, on whatever the API flag says.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.models import MAX_ID, User
from apps.tournaments.models import Team
from apps.tournaments.tests.factories import TeamFactory, UserFactory

PROFILES = "/api/profiles/"
TEAMS = "/api/teams/"
BOTH = pytest.mark.parametrize("url", [PROFILES, TEAMS], ids=["profiles", "teams"])


def _ids(*values: object) -> str:
    return ",".join(str(value) for value in values)


def _assert_bad_ids(response) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error_code"] == "VALIDATION_ERROR"
    assert list(body["errors"]) == ["ids"]
    assert body["detail"].startswith("Invalid ids: ")
    assert body["detail"] == f"Invalid ids: {body['errors']['ids'][0]}"


# --- the answers ---------------------------------------------------------------------------------


def test_profiles_come_ascending_and_unknown_ids_are_left_out(player_client):
    # given
    first = UserFactory(username="bulk-first", display_name="First")
    second = UserFactory(username="bulk-second", display_name="Second")
    unknown = second.pk + 1000

    # when
    response = player_client.get(PROFILES, {"ids": _ids(unknown, second.pk, first.pk)})

    # then
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"id": first.pk, "display_name": "First"},
            {"id": second.pk, "display_name": "Second"},
        ]
    }


def test_teams_come_ascending_and_unknown_ids_are_left_out(player_client):
    # given
    crown = TeamFactory(name="Crown Squad", tag="CRN")
    comets = TeamFactory(name="Comets", tag="CMT")
    unknown = comets.pk + 1000

    # when
    response = player_client.get(TEAMS, {"ids": _ids(comets.pk, unknown, crown.pk)})

    # then
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"id": crown.pk, "name": "Crown Squad", "tag": "CRN"},
            {"id": comets.pk, "name": "Comets", "tag": "CMT"},
        ]
    }


def test_repeated_ids_are_answered_once(player_client):
    named = UserFactory(username="bulk-repeated", display_name="Repeated")
    team = TeamFactory(name="Twice", tag="TWC")

    profiles = player_client.get(PROFILES, {"ids": _ids(named.pk, named.pk, f"0{named.pk}")})
    teams = player_client.get(TEAMS, {"ids": _ids(team.pk, team.pk)})

    assert profiles.json() == {"results": [{"id": named.pk, "display_name": "Repeated"}]}
    assert teams.json() == {"results": [{"id": team.pk, "name": "Twice", "tag": "TWC"}]}


def test_profiles_carry_the_display_name_only_never_the_username_or_email(player_client):
    # given: one user with a display name, one without
    named = UserFactory(username="bulk-login", display_name="Shown", email="login@example.test")
    quiet = UserFactory(username="bulk-quiet-login", display_name="")

    # when
    response = player_client.get(PROFILES, {"ids": _ids(named.pk, quiet.pk)})

    # then
    results = response.json()["results"]
    assert [set(row) for row in results] == [{"id", "display_name"}] * 2
    assert results[1] == {"id": quiet.pk, "display_name": ""}
    for secret in (b"bulk-login", b"bulk-quiet-login", b"login@example.test"):
        assert secret not in response.content


def test_teams_carry_exactly_id_name_and_tag(player_client):
    team = TeamFactory(name="Keys", tag="KEY")

    results = player_client.get(TEAMS, {"ids": str(team.pk)}).json()["results"]

    assert [set(row) for row in results] == [{"id", "name", "tag"}]


@BOTH
def test_only_unknown_ids_give_an_empty_list(player_client, url):
    response = player_client.get(url, {"ids": _ids(MAX_ID, MAX_ID - 1)})

    assert response.status_code == 200
    assert response.json() == {"results": []}


# --- the ids parameter ---------------------------------------------------------------------------


@BOTH
def test_200_distinct_ids_are_accepted_and_201_refused(player_client, url):
    users = [UserFactory(username=f"bulk-many-{n}") for n in range(3)]
    known = [user.pk for user in users]
    unknown = [MAX_ID - n for n in range(200 - len(known))]

    accepted = player_client.get(url, {"ids": _ids(*known, *unknown)})
    refused = player_client.get(url, {"ids": _ids(*known, *unknown, MAX_ID - 500)})

    assert accepted.status_code == 200
    if url == PROFILES:
        assert [row["id"] for row in accepted.json()["results"]] == sorted(known)
    _assert_bad_ids(refused)
    assert refused.json()["errors"]["ids"] == ["Give at most 200 distinct ids; got 201."]


@BOTH
def test_200_distinct_ids_with_repeats_are_accepted(player_client, url):
    ids = list(range(1, 201))

    response = player_client.get(url, {"ids": _ids(*ids, *ids)})

    assert response.status_code == 200


@BOTH
def test_ten_thousand_ids_are_a_400_not_a_500(player_client, url):
    response = player_client.get(url, {"ids": _ids(*range(1, 10_001))})

    _assert_bad_ids(response)
    assert response.json()["errors"]["ids"] == ["Give at most 200 distinct ids; got 10000."]


@BOTH
@pytest.mark.parametrize("value", [str(2**63), _ids(1, 2**63), str(2**70), "9" * 5000])
def test_ids_beyond_2_63_are_a_400(player_client, url, value):
    response = player_client.get(url, {"ids": value})

    _assert_bad_ids(response)
    assert len(response.content) < 1000  # a huge id is not echoed back


@BOTH
@pytest.mark.parametrize(
    "value",
    ["", "a", "1,,2", "-1", "0", "1,0", "1,", ",1", " 1", "1.0", "1;2", "+1", "1 2", "0x1"],
)
def test_malformed_ids_are_a_400_naming_ids(player_client, url, value):
    _assert_bad_ids(player_client.get(url, {"ids": value}))


def test_a_refused_id_is_answered_in_the_error_envelope(player_client):
    response = player_client.get(PROFILES, {"ids": "1,0"})

    message = f"Every id must be an integer between 1 and {MAX_ID}; got 0."
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "VALIDATION_ERROR",
        "detail": f"Invalid ids: {message}",
        "errors": {"ids": [message]},
    }


@BOTH
def test_missing_ids_is_a_400_naming_ids(player_client, url):
    response = player_client.get(url)

    _assert_bad_ids(response)
    assert response.json()["errors"]["ids"] == ["This parameter is required."]


@BOTH
def test_other_parameters_are_ignored(player_client, url):
    response = player_client.get(url, {"ids": "1", "page": "x"})

    assert response.status_code == 200


# --- access ------------------------------------------------------------------------------------


@BOTH
def test_anonymous_callers_get_401(anonymous_client, url):
    response = anonymous_client.get(url, {"ids": "1"})

    assert response.status_code == 401
    assert response.json()["error_code"] == "NOT_AUTHENTICATED"
    assert response["WWW-Authenticate"] == "Token"


@BOTH
def test_answered_with_the_api_flag_off(player_client, url):
    # given: no flags_on, so the public endpoints are switched off
    assert player_client.get("/api/ping/").status_code == 503
    team = TeamFactory(name="Flagless", tag="FLG")
    user = UserFactory(username="bulk-flagless", display_name="Flagless")

    # when
    response = player_client.get(url, {"ids": _ids(team.pk, user.pk)})

    # then
    assert response.status_code == 200
    assert response.json()["results"]


@BOTH
def test_staff_use_the_same_endpoint(staff_client, url):
    assert staff_client.get(url, {"ids": "1"}).status_code == 200


@BOTH
def test_other_methods_are_405(player_client, url):
    response = player_client.post(url + "?ids=1", {}, format="json")

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


# --- the rate limit ------------------------------------------------------------------------------


@BOTH
def test_the_third_call_over_a_budget_of_two_is_429(player_client, url, settings):
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "public": 2}

    admitted = [player_client.get(url, {"ids": "1"}) for _ in range(2)]
    refused = player_client.get(url, {"ids": "1"})

    assert [response.status_code for response in admitted] == [200, 200]
    assert [response["X-RateLimit-Remaining"] for response in admitted] == ["1", "0"]
    assert all(response["X-RateLimit-Limit"] == "2" for response in admitted)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert refused["Retry-After"] == str(body["retry_after_seconds"])
    assert refused["X-RateLimit-Limit"] == "2"
    assert refused["X-RateLimit-Remaining"] == "0"
    expected_reset = time.time() + body["retry_after_seconds"]
    assert abs(int(refused["X-RateLimit-Reset"]) - expected_reset) <= 2


def test_the_two_endpoints_have_separate_budgets(player_client, client_for, settings):
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "public": 2}

    profiles = [player_client.get(PROFILES, {"ids": "1"}).status_code for _ in range(3)]
    teams = [player_client.get(TEAMS, {"ids": "1"}).status_code for _ in range(3)]
    single = player_client.get("/api/profiles/1/")
    other_user = client_for(UserFactory(username="bulk-other")).get(PROFILES, {"ids": "1"})

    assert profiles == [200, 200, 429]
    assert teams == [200, 200, 429]
    assert single.status_code != 429  # the single-name endpoints stay unlimited
    assert "X-RateLimit-Limit" not in single
    assert other_user.status_code == 200


@BOTH
def test_refused_queries_count_against_the_budget(player_client, url, settings):
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "public": 2}

    statuses = [player_client.get(url, {"ids": value}).status_code for value in ("a", "", "1")]

    assert statuses == [400, 400, 429]


# --- the queries -------------------------------------------------------------------------------


def _lookup_queries(client, url: str, ids: str) -> list[str]:
    """The SQL of one request, without the authentication's own token lookup."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"ids": ids})
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries if "authtoken" not in query["sql"]]


@pytest.mark.parametrize(
    ("url", "model"), [(PROFILES, User), (TEAMS, Team)], ids=["profiles", "teams"]
)
def test_one_query_whatever_the_number_of_ids(player_client, url, model):
    # given
    for n in range(5):
        UserFactory(username=f"bulk-query-{n}")
        TeamFactory()
    player_client.get(url, {"ids": "1"})  # warm up anything done once per process

    # when
    one = _lookup_queries(player_client, url, "1")
    many = _lookup_queries(player_client, url, _ids(*range(1, 201)))

    # then
    assert len(one) == len(many) == 1
    assert f'FROM "{model._meta.db_table}"' in many[0]


@BOTH
def test_a_refused_query_runs_no_lookup(player_client, url):
    with CaptureQueriesContext(connection) as captured:
        response = player_client.get(url, {"ids": "0"})

    assert response.status_code == 400
    assert [q for q in captured.captured_queries if "authtoken" not in q["sql"]] == []
