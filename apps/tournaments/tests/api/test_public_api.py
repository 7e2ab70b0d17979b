"""The public leaderboard endpoints over HTTP: exact JSON, pagination, errors, ETag, flags."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError

from apps.common import flags
from apps.common.models import FeatureFlag, FlagName
from apps.tournaments.models import TournamentStatus
from apps.tournaments.tests.factories import (
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at, build_round_robin, build_solo_cup

pytestmark = pytest.mark.django_db

BOARD = "/api/tournaments/{}/leaderboard/"
HISTORY = "/api/tournaments/leaderboards/participant/{}/history/"
SCOPED = "/api/tournaments/leaderboards/scoped/"


def _set_flag(flag: FlagName, enabled: bool) -> None:
    FeatureFlag.objects.filter(name=flag.value).update(is_enabled=enabled)
    flags.forget_cached_rows()


def test_tournament_board_exact_json(player_client, flags_on):
    cup = build_solo_cup()
    u, r = cup.users, cup.registrations

    response = player_client.get(BOARD.format(cup.tournament.pk) + "?page_size=2")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    computed_at = body.pop("computed_at")
    assert computed_at.endswith("Z")
    tid = cup.tournament.pk
    assert body == {
        "tournament_id": tid,
        "participant_type": "solo",
        "ruleset": "deltacrown-5step",
        "computation_enabled": True,
        "is_final": False,
        "count": 5,
        "next": f"http://testserver/api/tournaments/{tid}/leaderboard/?page_size=2&page=2",
        "previous": None,
        "results": [
            {
                "rank": 1,
                "participant_id": u["A"].pk,
                "team_id": None,
                "registration_id": r["A"].pk,
                "points": 4,
                "wins": 1,
                "draws": 1,
                "losses": 0,
                "matches_played": 2,
                "score_for": 3,
                "score_against": 2,
                "earliest_win_at": "2031-06-01T10:01:00Z",
                "last_updated_at": "2031-06-01T10:02:00Z",
                "decided_by": None,
            },
            {
                "rank": 2,
                "participant_id": u["C"].pk,
                "team_id": None,
                "registration_id": r["C"].pk,
                "points": 4,
                "wins": 1,
                "draws": 1,
                "losses": 1,
                "matches_played": 3,
                "score_for": 6,
                "score_against": 1,
                "earliest_win_at": "2031-06-01T10:04:00Z",
                "last_updated_at": "2031-06-01T10:04:00Z",
                "decided_by": "matches_played",
            },
        ],
    }


def test_last_page_and_page_past_the_end(player_client, flags_on):
    tournament = build_round_robin(5)
    url = BOARD.format(tournament.pk)

    last = player_client.get(url + "?page=3&page_size=2").json()
    past = player_client.get(url + "?page=4&page_size=2")

    assert [row["rank"] for row in last["results"]] == [5]
    assert last["next"] is None
    assert last["previous"].endswith("?page_size=2&page=2")
    assert past.status_code == 404
    assert past.json()["error_code"] == "NOT_FOUND"


def test_empty_board_page_one_is_200(player_client, flags_on):
    tournament = TournamentFactory()

    body = player_client.get(BOARD.format(tournament.pk)).json()

    assert (body["count"], body["results"], body["next"], body["previous"]) == (0, [], None, None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=", "page"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=ten", "page_size"),
    ],
)
def test_malformed_paging_is_400_naming_the_field(player_client, flags_on, query, field):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk) + "?" + query)

    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "VALIDATION_ERROR"
    assert list(body["errors"]) == [field]
    assert body["detail"]


def test_page_size_200_is_accepted(player_client, flags_on):
    tournament = build_round_robin(3)

    response = player_client.get(BOARD.format(tournament.pk) + "?page_size=200")

    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_anonymous_and_bad_token_get_401_with_www_authenticate(anonymous_client, flags_on):
    tournament = build_round_robin(2)

    anonymous = anonymous_client.get(BOARD.format(tournament.pk))
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    bad = anonymous_client.get(BOARD.format(tournament.pk))

    for response in (anonymous, bad):
        assert response.status_code == 401
        assert response.json()["error_code"] == "NOT_AUTHENTICATED"
        assert response["WWW-Authenticate"] == "Token"


def test_unknown_draft_and_huge_tournament_ids_are_404(player_client, staff_client, flags_on):
    draft = TournamentFactory(status=TournamentStatus.DRAFT)

    for tournament_id in (987_654, draft.pk, 2**64, 10**40):
        response = player_client.get(BOARD.format(tournament_id))
        assert response.status_code == 404
        assert response.json()["error_code"] == "TOURNAMENT_NOT_FOUND"
    assert staff_client.get(BOARD.format(draft.pk)).status_code == 200


def test_negative_ids_and_unknown_paths_are_404_not_found(player_client, flags_on):
    for path in ("/api/tournaments/-1/leaderboard/", "/api/nothing-here/", "/nope"):
        response = player_client.get(path)
        assert response.status_code == 404
        assert response.json()["error_code"] == "NOT_FOUND"


def test_wrong_method_is_405(player_client, flags_on):
    tournament = build_round_robin(2)

    response = player_client.post(BOARD.format(tournament.pk), {}, format="json")

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_api_flag_off_is_503_feature_disabled(player_client, flags_on):
    tournament = build_round_robin(2)
    _set_flag(FlagName.API, False)

    for url in (BOARD.format(tournament.pk), HISTORY.format(1), SCOPED + "?scope=all_time"):
        response = player_client.get(url)
        assert response.status_code == 503
        assert response.json() == {
            "error_code": "FEATURE_DISABLED",
            "detail": response.json()["detail"],
            "retry_after_seconds": 300,
        }
        assert response["Retry-After"] == "300"


def test_api_flag_off_leaves_name_resolution_and_admin_alone(player_client, staff_client, flags_on):
    tournament = build_round_robin(2)
    _set_flag(FlagName.API, False)

    assert player_client.get(f"/api/tournaments/{tournament.pk}/metadata/").status_code == 200
    inspect = staff_client.get(f"/api/admin/leaderboards/inspect/{tournament.pk}/")
    assert inspect.status_code == 200


def test_env_override_beats_the_database(player_client, flags_on, monkeypatch):
    tournament = build_round_robin(2)
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", "false")

    assert player_client.get(BOARD.format(tournament.pk)).status_code == 503


def test_compute_off_gives_empty_boards_everywhere(player_client, player, flags_on):
    tournament = build_round_robin(3)
    SeasonFactory(slug="2031-winter")
    _set_flag(FlagName.COMPUTE, False)

    for url in (
        BOARD.format(tournament.pk),
        HISTORY.format(player.pk),
        SCOPED + "?scope=all_time",
        SCOPED + "?scope=season&season=2031-winter",
        SCOPED + f"?scope=tournament&tournament_id={tournament.pk}",
    ):
        body = player_client.get(url).json()
        assert (body["computation_enabled"], body["count"], body["results"]) == (False, 0, [])


def test_etag_gives_304_and_changes_with_page_size_and_flag(player_client, flags_on):
    tournament = build_round_robin(4)
    url = BOARD.format(tournament.pk)
    first = player_client.get(url)
    etag = first["ETag"]

    not_modified = player_client.get(url, HTTP_IF_NONE_MATCH=etag)
    other_size = player_client.get(url + "?page_size=2")
    other_page = player_client.get(url + "?page_size=2&page=2")
    _set_flag(FlagName.COMPUTE, False)
    computation_off = player_client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert len({etag, other_size["ETag"], other_page["ETag"], computation_off["ETag"]}) == 4
    assert computation_off.status_code == 200


@pytest.mark.parametrize("flag_off", [FlagName.CACHE, FlagName.COMPUTE])
@pytest.mark.parametrize(
    "path", [BOARD.format("{tid}"), SCOPED + "?scope=all_time", SCOPED + "?scope=season&season={s}"]
)
def test_etag_is_stable_and_gives_304_when_boards_are_computed_live(
    transactional_db, player_client, flags_on, flag_off, path
):
    # given a board that is computed on every request (cache off) or empty (compute off)
    tournament = build_round_robin(3, season=SeasonFactory(slug="2031-etag"), status="completed")
    _set_flag(flag_off, False)
    url = path.format(tid=tournament.pk, s="2031-etag")
    first = player_client.get(url)

    # when the client polls again with the ETag it holds
    again = player_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    # then nothing changed, so nothing is sent (computed_at alone does not change the ETag)
    assert first.status_code == 200
    assert (again.status_code, again["ETag"]) == (304, first["ETag"])

    # and a result that changes the board changes the ETag (with computation on)
    if flag_off is FlagName.CACHE:
        first_side, second_side = tournament.registrations.all()[:2]
        MatchFactory(
            participant1=second_side,
            participant2=first_side,
            winner=second_side,
            completed_at=at(99),
        )
        changed = player_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert changed.status_code == 200
        assert changed["ETag"] != first["ETag"]


def test_etag_changes_after_a_result(transactional_db, player_client, flags_on):
    tournament = build_round_robin(3)
    url = BOARD.format(tournament.pk)
    etag = player_client.get(url)["ETag"]
    first, second = tournament.registrations.all()[:2]

    MatchFactory(participant1=second, participant2=first, winner=second, completed_at=at(99))

    response = player_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_rate_limit_headers_on_success(player_client, flags_on):
    tournament = build_round_robin(2)

    response = player_client.get(BOARD.format(tournament.pk))

    assert response["X-RateLimit-Limit"] == "100"
    assert response["X-RateLimit-Remaining"] == "99"
    assert int(response["X-RateLimit-Reset"]) > 0


def test_rate_limit_429_envelope_and_headers(player_client, client_for, flags_on, settings):
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "public": 3}
    tournament = build_round_robin(2)
    url = BOARD.format(tournament.pk)

    statuses = [player_client.get(url).status_code for _ in range(3)]
    refused = player_client.get(url)
    other_endpoint = player_client.get(SCOPED + "?scope=all_time")
    other_user = client_for(UserFactory(username="someone-else")).get(url)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    body = refused.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert 3500 <= body["retry_after_seconds"] <= 3600
    assert refused["Retry-After"] == str(body["retry_after_seconds"])
    assert refused["X-RateLimit-Limit"] == "3"
    assert refused["X-RateLimit-Remaining"] == "0"
    # On a 429 the reset is when the next request is admitted: now + Retry-After.
    expected_reset = time.time() + body["retry_after_seconds"]
    assert abs(int(refused["X-RateLimit-Reset"]) - expected_reset) <= 2
    assert other_endpoint.status_code == 200
    assert other_user.status_code == 200


def test_not_modified_responses_count_against_the_limit(player_client, flags_on, settings):
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "public": 2}
    tournament = build_round_robin(2)
    url = BOARD.format(tournament.pk)
    etag = player_client.get(url)["ETag"]

    assert player_client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert player_client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 429


def test_history_endpoint(player_client, player, flags_on):
    tournament = build_round_robin(2, status=TournamentStatus.COMPLETED)
    RegistrationFactory(tournament=tournament, user=player)

    body = player_client.get(HISTORY.format(player.pk)).json()
    filtered = player_client.get(HISTORY.format(player.pk) + "?tournament_status=live").json()
    bad = player_client.get(HISTORY.format(player.pk) + "?tournament_status=finished")
    unknown = player_client.get(HISTORY.format(10**30))

    assert body["participant_id"] == player.pk
    assert [item["tournament_id"] for item in body["results"]] == [tournament.pk]
    assert body["results"][0]["tournament_status"] == "completed"
    assert filtered["results"] == []
    assert bad.status_code == 400
    assert "completed" in bad.json()["errors"]["tournament_status"][0]
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "PARTICIPANT_NOT_FOUND"


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("", 400, "VALIDATION_ERROR", "scope"),
        ("scope=galaxy", 400, "VALIDATION_ERROR", "scope"),
        ("scope=tournament", 400, "VALIDATION_ERROR", "tournament_id"),
        ("scope=tournament&tournament_id=x", 400, "VALIDATION_ERROR", "tournament_id"),
        ("scope=season", 400, "VALIDATION_ERROR", "season"),
        ("scope=all_time&participant_type=duo", 400, "VALIDATION_ERROR", "participant_type"),
        ("scope=all_time&game=no-such-game", 400, "VALIDATION_ERROR", "game"),
        ("scope=season&season=no-such-season", 404, "SEASON_NOT_FOUND", None),
        ("scope=tournament&tournament_id=987654", 404, "TOURNAMENT_NOT_FOUND", None),
        # another scope's parameter: ignored when well-formed, a 400 when not
        ("scope=all_time&tournament_id=True", 400, "VALIDATION_ERROR", "tournament_id"),
        ("scope=season&season=s1&tournament_id=0", 400, "VALIDATION_ERROR", "tournament_id"),
        ("scope=all_time&season=not%20a%20slug", 400, "VALIDATION_ERROR", "season"),
    ],
)
def test_scoped_errors(player_client, flags_on, query, status, code, field):
    response = player_client.get(SCOPED + "?" + query)

    assert response.status_code == status
    body = response.json()
    assert body["error_code"] == code
    if field:
        assert field in body["errors"]


def test_scoped_ignores_another_scopes_well_formed_parameter(player_client, flags_on):
    plain = player_client.get(SCOPED + "?scope=all_time")
    extra = player_client.get(SCOPED + "?scope=all_time&tournament_id=5&season=2031-winter")

    assert (plain.status_code, extra.status_code) == (200, 200)
    assert extra.json()["results"] == plain.json()["results"]
    assert "season" not in extra.json()


def test_scoped_tournament_scope_adds_scope_and_tournaments_played(player_client, flags_on):
    tournament = build_round_robin(3)

    body = player_client.get(SCOPED + f"?scope=tournament&tournament_id={tournament.pk}").json()

    assert body["scope"] == "tournament"
    assert body["tournament_id"] == tournament.pk
    assert [row["tournaments_played"] for row in body["results"]] == [1, 1, 1]
    assert all(row["registration_id"] is not None for row in body["results"])


def test_scoped_season_board(player_client, flags_on):
    season = SeasonFactory(slug="2031-autumn")
    tournament = build_round_robin(3, season=season, status=TournamentStatus.COMPLETED)

    body = player_client.get(SCOPED + f"?scope=season&season={season.slug}&page_size=2").json()

    assert (body["scope"], body["season"], body["tournament_id"]) == ("season", season.slug, None)
    assert body["count"] == 3
    assert body["next"] == (
        "http://testserver/api/tournaments/leaderboards/scoped/"
        f"?scope=season&season={season.slug}&participant_type=solo&page_size=2&page=2"
    )
    assert body["results"][0]["registration_id"] is None
    assert body["results"][0]["tournaments_played"] == 1
    assert tournament.pk


def test_database_unreachable_is_503_in_the_envelope(player_client, flags_on, monkeypatch):
    tournament = build_round_robin(2)

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("apps.tournaments.services.leaderboard_service.compute_board", unreachable)
    response = player_client.get(BOARD.format(tournament.pk))

    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"


def test_database_unreachable_during_authentication_is_503(player_client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(
        "rest_framework.authentication.TokenAuthentication.authenticate_credentials", unreachable
    )
    response = player_client.get(BOARD.format(1))

    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"


def test_name_resolution_endpoints(player_client, flags_on):
    from apps.tournaments.tests.factories import TeamFactory

    named = UserFactory(username="named", display_name="Named Player")
    team = TeamFactory(name="Crown Squad", tag="CRN")
    tournament = TournamentFactory(name="Spring Open", status=TournamentStatus.COMPLETED)
    draft = TournamentFactory(status=TournamentStatus.DRAFT)

    assert player_client.get(f"/api/profiles/{named.pk}/").json() == {
        "id": named.pk,
        "display_name": "Named Player",
    }
    assert player_client.get(f"/api/teams/{team.pk}/").json() == {
        "id": team.pk,
        "name": "Crown Squad",
        "tag": "CRN",
    }
    metadata = player_client.get(f"/api/tournaments/{tournament.pk}/metadata/").json()
    assert metadata == {
        "id": tournament.pk,
        "name": "Spring Open",
        "game": tournament.game.slug,
        "season": None,
        "status": "completed",
        "participation_type": "solo",
        "format": "round_robin",
        "starts_at": "2031-06-01T10:00:00Z",
        "ends_at": None,
    }
    assert player_client.get(f"/api/tournaments/{draft.pk}/metadata/").status_code == 404
    for path in ("/api/profiles/{}/", "/api/teams/{}/", "/api/tournaments/{}/metadata/"):
        assert player_client.get(path.format(2**70)).status_code == 404


def test_openapi_schema_and_docs_are_public(anonymous_client):
    schema = anonymous_client.get("/api/schema/")
    docs = anonymous_client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/tournaments/{tournament_id}/leaderboard/" in schema.content
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_unknown_game_is_400_on_the_tournament_scope_too(player_client, flags_on):
    tournament = build_round_robin(2)

    response = player_client.get(
        SCOPED + f"?scope=tournament&tournament_id={tournament.pk}&game=nope"
    )

    assert response.status_code == 400
    assert "game" in response.json()["errors"]


def test_profile_without_display_name_never_shows_the_username(player_client):
    quiet = UserFactory(username="quiet-login", display_name="")

    body = player_client.get(f"/api/profiles/{quiet.pk}/").json()

    assert body == {"id": quiet.pk, "display_name": ""}


def test_an_unmapped_api_exception_keeps_a_code_that_matches_its_status():
    from rest_framework import exceptions

    from apps.common.api.errors import exception_handler

    generic = exception_handler(exceptions.APIException("boom"), {})
    unavailable = exceptions.APIException("down")
    unavailable.status_code = 503

    assert (generic.status_code, generic.data["error_code"]) == (500, "INTERNAL_ERROR")
    assert exception_handler(unavailable, {}).data["error_code"] == "SERVICE_UNAVAILABLE"
