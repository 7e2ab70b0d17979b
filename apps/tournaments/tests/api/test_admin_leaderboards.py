"""Staff debug endpoints: inspect, cache status, invalidate."""

from __future__ import annotations

import pytest

from apps.common import flags
from apps.common.models import AuditRecord, FeatureFlag, FlagName
from apps.tournaments.models import MatchState, TournamentStatus
from apps.tournaments.tests.factories import (
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at, build_round_robin, build_solo_cup

pytestmark = pytest.mark.django_db

INSPECT = "/api/admin/leaderboards/inspect/{}/"
STATUS = "/api/admin/leaderboards/cache/status/"
INVALIDATE = "/api/admin/leaderboards/cache/invalidate/"
BOARD = "/api/tournaments/{}/leaderboard/"


def _five_step_board():
    """A..F end up ordered by each of the five steps in turn; one-off fillers sit below."""
    tournament = TournamentFactory()
    players = {
        name: RegistrationFactory(tournament=tournament, user=UserFactory(username=f"five-{name}"))
        for name in "ABCDEF"
    }
    fillers = iter(range(100))

    def play(name: str, result: str, minute: int) -> None:
        filler = RegistrationFactory(
            tournament=tournament, user=UserFactory(username=f"filler-{next(fillers)}")
        )
        me = players[name]
        winner = {"win": me, "loss": filler, "draw": None}[result]
        MatchFactory(participant1=me, participant2=filler, winner=winner, completed_at=at(minute))

    play("A", "win", 1), play("A", "win", 2), play("A", "draw", 3)  # 7 pts
    play("B", "win", 4), play("B", "win", 5)  # 6 pts, 2 wins
    play("C", "win", 6), *(play("C", "draw", 7) for _ in range(3))  # 6 pts, 1 win, 4 played
    play("D", "win", 10), *(play("D", "draw", 12) for _ in range(3)), play("D", "loss", 13)
    for name in "EF":  # like D, but the win comes later; E and F tie on everything but id
        play(name, "win", 11), *(play(name, "draw", 12) for _ in range(3)), play(name, "loss", 13)
    return tournament, players


def test_inspect_traces_every_step_of_the_cascade(staff_client, flags_on):
    tournament, players = _five_step_board()

    body = staff_client.get(INSPECT.format(tournament.pk)).json()

    top = body["raw_aggregations"][:6]
    assert [row["registration_id"] for row in top] == [players[n].pk for n in "ABCDEF"]
    assert body["tiebreak_trace"][:5] == [
        {"rank_above": 1, "rank_below": 2, "step": "points", "value_above": 7, "value_below": 6},
        {"rank_above": 2, "rank_below": 3, "step": "wins", "value_above": 2, "value_below": 1},
        {
            "rank_above": 3,
            "rank_below": 4,
            "step": "matches_played",
            "value_above": 4,
            "value_below": 5,
        },
        {
            "rank_above": 4,
            "rank_below": 5,
            "step": "earliest_win",
            "value_above": "2031-06-01T10:10:00Z",
            "value_below": "2031-06-01T10:11:00Z",
        },
        {
            "rank_above": 5,
            "rank_below": 6,
            "step": "id",
            "value_above": players["E"].user_id,
            "value_below": players["F"].user_id,
        },
    ]
    assert len(body["tiebreak_trace"]) == len(body["raw_aggregations"]) - 1


def test_inspect_exact_json_for_the_hand_worked_cup(staff_client, flags_on):
    cup = build_solo_cup()
    r, m = cup.registrations, cup.matches

    body = staff_client.get(INSPECT.format(cup.tournament.pk)).json()

    assert body["tournament_id"] == cup.tournament.pk
    assert body["flag_states"] == {
        "LEADERBOARDS_COMPUTE_ENABLED": {"enabled": True, "source": "db"},
        "LEADERBOARDS_CACHE_ENABLED": {"enabled": True, "source": "db"},
        "LEADERBOARDS_API_ENABLED": {"enabled": True, "source": "db"},
    }
    assert body["raw_aggregations"][0] == {
        "registration_id": r["A"].pk,
        "participant_id": cup.users["A"].pk,
        "team_id": None,
        "points": 4,
        "wins": 1,
        "draws": 1,
        "losses": 0,
        "total_matches": 2,
        "match_ids": [m["m1"].pk, m["m2"].pk],
        "earliest_win": "2031-06-01T10:01:00Z",
    }
    c_row = body["raw_aggregations"][1]
    assert c_row["match_ids"] == [m["m2"].pk, m["m3"].pk, m["m5"].pk]
    assert body["cache_metadata"] == {
        "cached": False,
        "cache_key": f"lb:v1:tournament:{cup.tournament.pk}",
        "ttl_seconds": None,
        "last_refresh": None,
    }
    assert body["computed_at"].endswith("Z")


def test_inspect_is_live_and_never_cached(staff_client, flags_on):
    cup = build_solo_cup()

    staff_client.get(INSPECT.format(cup.tournament.pk))
    status = staff_client.get(STATUS).json()

    assert status["cache_keys_count"] == 0


def test_inspect_shows_the_real_ttl(staff_client, flags_on, use_redis):
    cup = build_solo_cup()
    staff_client.get(BOARD.format(cup.tournament.pk))

    metadata = staff_client.get(INSPECT.format(cup.tournament.pk)).json()["cache_metadata"]

    assert metadata["cached"] is True
    assert abs(metadata["ttl_seconds"] - use_redis.ttl(metadata["cache_key"])) <= 1
    assert metadata["last_refresh"].endswith("Z")


def test_inspect_env_flag_source(staff_client, flags_on, monkeypatch):
    cup = build_solo_cup()
    monkeypatch.setenv("LEADERBOARDS_CACHE_ENABLED", "FALSE")

    states = staff_client.get(INSPECT.format(cup.tournament.pk)).json()["flag_states"]

    assert states["LEADERBOARDS_CACHE_ENABLED"] == {"enabled": False, "source": "env"}


def test_inspect_sees_drafts_and_404s_unknown(staff_client, flags_on):
    draft = TournamentFactory(status=TournamentStatus.DRAFT)

    assert staff_client.get(INSPECT.format(draft.pk)).status_code == 200
    missing = staff_client.get(INSPECT.format(10**25))
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "TOURNAMENT_NOT_FOUND"


@pytest.mark.parametrize("url", [INSPECT.format(1), STATUS])
def test_staff_only(player_client, anonymous_client, url):
    denied = player_client.get(url)
    anonymous = anonymous_client.get(url)

    assert denied.status_code == 403
    assert denied.json()["error_code"] == "PERMISSION_DENIED"
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "NOT_AUTHENTICATED"


def test_cache_status_counts_keys_hits_and_ttl_buckets(staff_client, player_client, flags_on):
    first, second = build_round_robin(3), build_round_robin(3)
    for tournament in (first, second, first, first):
        player_client.get(BOARD.format(tournament.pk))

    body = staff_client.get(STATUS).json()

    assert body["cache_enabled"] is True
    assert body["cache_keys_count"] == 2
    assert body["metrics"] == {
        "cache_hit_ratio": 0.5,
        "total_requests": 4,
        "cache_hits": 2,
        "cache_misses": 2,
        "evictions_count": 0,
    }
    distribution = body["ttl_distribution"]
    assert set(distribution) == {
        "expired_count",
        "0_60_seconds",
        "60_180_seconds",
        "180_300_seconds",
        "over_300_seconds",
    }
    assert distribution["180_300_seconds"] == 2
    assert body["checked_at"].endswith("Z")


def test_cache_status_with_redis_reads_fleet_totals(
    staff_client, player_client, flags_on, use_redis
):
    tournament = build_round_robin(3)
    for _ in range(3):
        player_client.get(BOARD.format(tournament.pk))

    body = staff_client.get(STATUS).json()

    assert body["redis_connected"] is True
    assert body["cache_keys_count"] == 1
    assert (body["metrics"]["cache_hits"], body["metrics"]["cache_misses"]) == (2, 1)
    assert isinstance(body["ttl_distribution"]["expired_count"], int)
    assert use_redis.hgetall("dc:stats:v1:cache")[b"hits"] == b"2"


def test_cache_status_never_calls_keys(staff_client, flags_on, use_redis, monkeypatch):
    import redis

    def forbidden(*args, **kwargs):
        raise AssertionError("KEYS must never be called")

    monkeypatch.setattr(redis.Redis, "keys", forbidden)

    assert staff_client.get(STATUS).status_code == 200


def test_invalidate_by_tournament_removes_exactly_what_it_reports(
    staff_client, staff, player_client, flags_on
):
    season = SeasonFactory(slug="2031-spring")
    target = build_round_robin(3, season=season, status=TournamentStatus.COMPLETED)
    bystander = build_round_robin(3)
    player_client.get(BOARD.format(target.pk))
    player_client.get(BOARD.format(bystander.pk))
    player_client.get(f"/api/tournaments/leaderboards/scoped/?scope=season&season={season.slug}")

    response = staff_client.post(INVALIDATE, {"tournament_id": target.pk}, format="json")

    body = response.json()
    assert response.status_code == 200
    assert body["cache_keys_removed"] == sorted(
        [f"lb:v1:season:{season.slug}:*:solo", f"lb:v1:tournament:{target.pk}"]
    )
    assert body["invalidated_count"] == 2
    assert body["invalidated_at"].endswith("Z")
    keys_left = staff_client.get(STATUS).json()["cache_keys_count"]
    assert keys_left == 1  # the bystander's board
    record = AuditRecord.objects.get(action="leaderboard_cache_invalidated")
    assert record.actor_id == staff.pk
    assert record.details["tournament_id"] == target.pk
    assert record.details["cache_keys_removed"] == body["cache_keys_removed"]


def test_next_public_read_after_invalidation_is_a_miss(staff_client, player_client, flags_on):
    tournament = build_round_robin(3)
    player_client.get(BOARD.format(tournament.pk))

    staff_client.post(INVALIDATE, {"scope": "tournament"}, format="json")
    misses_before = staff_client.get(STATUS).json()["metrics"]["cache_misses"]
    player_client.get(BOARD.format(tournament.pk))

    assert staff_client.get(STATUS).json()["metrics"]["cache_misses"] == misses_before + 1


@pytest.mark.parametrize("scope", ["tournament", "season", "all_time", "all"])
def test_invalidate_by_scope(staff_client, player_client, flags_on, scope):
    tournament = build_round_robin(3, season=SeasonFactory(slug="s1"), status="completed")
    player_client.get(BOARD.format(tournament.pk))
    player_client.get("/api/tournaments/leaderboards/scoped/?scope=season&season=s1")
    player_client.get("/api/tournaments/leaderboards/scoped/?scope=all_time")

    removed = staff_client.post(INVALIDATE, {"scope": scope}, format="json").json()

    expected = {
        "tournament": [f"lb:v1:tournament:{tournament.pk}"],
        "season": ["lb:v1:season:s1:*:solo"],
        "all_time": ["lb:v1:all_time:*:solo"],
        "all": sorted(
            [f"lb:v1:tournament:{tournament.pk}", "lb:v1:season:s1:*:solo", "lb:v1:all_time:*:solo"]
        ),
    }[scope]
    assert removed["cache_keys_removed"] == expected


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"tournament_id": 1, "scope": "all"},
        {"scope": "galaxy"},
        {"tournament_id": "seven"},
        {"tournament_id": True},
        {"tournament_id": -3},
        {"tournament_id": 2**70},
        [1, 2],
        {"tournament_id": 1, "extra": 1},
        {"tournament_id": None, "scope": "all"},
        {"tournament_id": 1, "scope": None},
        {"tournament_id": None},
        {"scope": None},
    ],
)
def test_invalidate_rejects_bad_bodies(staff_client, staff, flags_on, payload):
    response = staff_client.post(INVALIDATE, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert response.json()["errors"]
    record = AuditRecord.objects.get(action="leaderboard_cache_invalidated")
    assert (record.actor_id, record.details["outcome"], record.details["status_code"]) == (
        staff.pk,
        "refused",
        400,
    )


def test_invalidate_malformed_json_is_400(staff_client):
    response = staff_client.post(INVALIDATE, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_invalidate_unknown_tournament_is_404(staff_client):
    response = staff_client.post(INVALIDATE, {"tournament_id": 987_654}, format="json")

    assert response.status_code == 404
    assert response.json()["error_code"] == "TOURNAMENT_NOT_FOUND"


def test_invalidate_works_with_the_cache_flag_off(staff_client, player_client, flags_on):
    tournament = build_round_robin(3)
    player_client.get(BOARD.format(tournament.pk))
    FeatureFlag.objects.filter(name=FlagName.CACHE).update(is_enabled=False)
    flags.forget_cached_rows()

    body = staff_client.post(INVALIDATE, {"tournament_id": tournament.pk}, format="json").json()

    assert body["cache_keys_removed"] == [f"lb:v1:tournament:{tournament.pk}"]


def test_invalidate_with_redis_down_is_503(staff_client, settings, flags_on):
    from apps.common import redis_gateway

    tournament = build_round_robin(2)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_gateway.reset_for_tests()

    response = staff_client.post(INVALIDATE, {"tournament_id": tournament.pk}, format="json")

    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
    # nothing was removed, and the call is on record with its answer
    record = AuditRecord.objects.get(action="leaderboard_cache_invalidated")
    assert record.details == {
        "tournament_id": tournament.pk,
        "outcome": "refused",
        "status_code": 503,
        "error_code": "SERVICE_UNAVAILABLE",
        "cache_keys_removed": [],
        "invalidated_count": 0,
    }


def test_eleventh_invalidation_in_an_hour_is_429(staff_client, flags_on):
    statuses = [
        staff_client.post(INVALIDATE, {"scope": "all"}, format="json").status_code
        for _ in range(11)
    ]

    assert statuses == [200] * 10 + [429]


def test_invalidate_is_staff_only(player_client, anonymous_client):
    assert player_client.post(INVALIDATE, {"scope": "all"}, format="json").status_code == 403
    assert anonymous_client.post(INVALIDATE, {"scope": "all"}, format="json").status_code == 401


def test_disputed_match_shows_in_no_match_ids(staff_client, flags_on):
    cup = build_solo_cup()
    assert cup.matches["m4"].state == MatchState.DISPUTED

    body = staff_client.get(INSPECT.format(cup.tournament.pk)).json()

    all_ids = {match_id for row in body["raw_aggregations"] for match_id in row["match_ids"]}
    assert cup.matches["m4"].pk not in all_ids


def test_every_board_key_lives_at_most_the_configured_ttl_and_invalidate_all_leaves_none(
    player_client, staff_client, flags_on, use_redis, settings
):
    # given the TTL set to 120 s and boards of every public scope read (documents, pages and
    # their versions written)
    settings.LEADERBOARD_CACHE_TTL_SECONDS = 120
    tournament = build_round_robin(3)
    for url in (
        BOARD.format(tournament.pk),
        BOARD.format(tournament.pk) + "?page_size=1",
        "/api/tournaments/leaderboards/scoped/?scope=all_time",
    ):
        assert player_client.get(url).status_code == 200

    # then every key under lb:v1: expires, within the configured TTL
    keys = use_redis.keys("lb:v1:*")
    assert keys
    assert all(0 < use_redis.ttl(key) <= 120 for key in keys), {
        key: use_redis.ttl(key) for key in keys
    }

    # and invalidating everything leaves no board key behind
    response = staff_client.post(INVALIDATE, {"scope": "all"}, format="json")
    assert response.status_code == 200
    assert use_redis.keys("lb:v1:*") == []
