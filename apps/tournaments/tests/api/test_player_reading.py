"""A board as a player reads it (contract section 9): a window around a competitor (`around`,
`size`, `me`), a friends' board (`ids`), the board as of an instant (`as_of`), movement
(`compare_to`) and `is_final`, on the tournament board and every scope of the scoped board.
Expected rows are worked out by hand in each test's comment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from apps.common.models import User
from apps.common.timestamps import iso_utc
from apps.tournaments.models import ParticipationType, Registration, TournamentStatus
from apps.tournaments.tests.factories import (
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at

BOARD = "/api/tournaments/{}/leaderboard/"
SCOPED = "/api/tournaments/leaderboards/scoped/"
BOARD_KEYS = {
    "tournament_id",
    "participant_type",
    "ruleset",
    "computed_at",
    "computation_enabled",
    "is_final",
    "count",
    "next",
    "previous",
    "results",
}


@dataclass
class Ladder:
    """`size` players; the lower seat beats every higher seat, so seat k is ranked k + 1."""

    tournament_id: int
    users: list[User]
    registrations: list[Registration]

    def user_at_rank(self, rank: int) -> int:
        return self.users[rank - 1].pk


def build_ladder(size: int, **tournament_fields: object) -> Ladder:
    tournament = TournamentFactory(**tournament_fields)
    users = [UserFactory(username=f"ladder{tournament.pk}-{seat}") for seat in range(size)]
    registrations = [RegistrationFactory(tournament=tournament, user=user) for user in users]
    number = 0
    for i, first in enumerate(registrations):
        for second in registrations[i + 1 :]:
            number += 1
            MatchFactory(
                participant1=first,
                participant2=second,
                score1=1,
                score2=0,
                winner=first,
                completed_at=at(number),
            )
    return Ladder(tournament.pk, users, registrations)


def _ranks(body: dict) -> list[int]:
    return [row["rank"] for row in body["results"]]


def _errors(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error_code"] == "VALIDATION_ERROR"
    return body["errors"]


# --- around ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rank", "size", "expected"),
    [
        (5, 5, [3, 4, 5, 6, 7]),  # two above, two below
        (2, 5, [1, 2, 3, 4, 5]),  # near the top: shifted down (the contract's example)
        (1, 5, [1, 2, 3, 4, 5]),
        (9, 5, [5, 6, 7, 8, 9]),  # at the bottom: shifted up
        (8, 5, [5, 6, 7, 8, 9]),
        (5, 4, [4, 5, 6, 7]),  # (4 - 1) // 2 = 1 row above
        (5, 1, [5]),
        (5, 101, [1, 2, 3, 4, 5, 6, 7, 8, 9]),  # the board is smaller than the window
        (3, None, [1, 2, 3, 4, 5, 6, 7, 8, 9]),  # default size 11
    ],
)
def test_a_window_around_a_competitor(player_client, flags_on, rank, size, expected):
    ladder = build_ladder(9)
    query = f"?around={ladder.user_at_rank(rank)}" + (f"&size={size}" if size else "")

    response = player_client.get(BOARD.format(ladder.tournament_id) + query)

    body = response.json()
    assert response.status_code == 200
    assert _ranks(body) == expected
    assert body["around"] == ladder.user_at_rank(rank)
    assert (body["count"], body["next"], body["previous"]) == (9, None, None)
    assert set(body) == BOARD_KEYS | {"around"}


def test_around_me_on_a_solo_board_is_my_row(client_for, flags_on):
    ladder = build_ladder(6)
    me = ladder.users[3]  # rank 4

    body = client_for(me).get(BOARD.format(ladder.tournament_id) + "?around=me&size=3").json()

    assert _ranks(body) == [3, 4, 5]
    assert body["around"] == me.pk


def test_around_a_competitor_without_a_row_is_404(player_client, flags_on):
    ladder = build_ladder(3)
    stranger = UserFactory()

    by_id = player_client.get(BOARD.format(ladder.tournament_id) + f"?around={stranger.pk}")
    me = player_client.get(BOARD.format(ladder.tournament_id) + "?around=me")

    assert by_id.status_code == me.status_code == 404
    assert by_id.json() == {
        "error_code": "PARTICIPANT_NOT_FOUND",
        "detail": f"No competitor with id {stranger.pk} on this board.",
    }
    assert me.json()["detail"] == "You have no row on this board."


def _team_tournament() -> tuple[int, list[int], User]:
    """Three teams; team 0 beats 1 and 2, team 1 beats 2: ranks follow the team order. The
    returned user is on team 1's roster."""
    tournament = TournamentFactory(participation_type=ParticipationType.TEAM)
    member = UserFactory(username=f"member{tournament.pk}")
    teams = [TeamFactory(members=[member] if n == 1 else [UserFactory()]) for n in range(3)]
    entries = [RegistrationFactory(tournament=tournament, user=None, team=team) for team in teams]
    for number, (first, second) in enumerate(
        [(entries[0], entries[1]), (entries[0], entries[2]), (entries[1], entries[2])], start=1
    ):
        MatchFactory(participant1=first, participant2=second, winner=first, completed_at=at(number))
    return tournament.pk, [team.pk for team in teams], member


def test_around_me_on_a_team_board_is_my_team(client_for, flags_on):
    tournament_id, team_ids, member = _team_tournament()

    body = client_for(member).get(BOARD.format(tournament_id) + "?around=me&size=1").json()

    assert body["around"] == team_ids[1]
    assert [row["team_id"] for row in body["results"]] == [team_ids[1]]
    assert body["results"][0]["rank"] == 2


def test_around_a_team_id_on_a_team_board(player_client, flags_on):
    tournament_id, team_ids, _ = _team_tournament()

    body = player_client.get(BOARD.format(tournament_id) + f"?around={team_ids[2]}&size=2").json()

    assert [row["team_id"] for row in body["results"]] == [team_ids[1], team_ids[2]]


def test_around_me_off_every_roster_of_a_team_board_is_404(player_client, flags_on):
    tournament_id, _, _ = _team_tournament()

    response = player_client.get(BOARD.format(tournament_id) + "?around=me")

    assert response.status_code == 404
    assert response.json()["error_code"] == "PARTICIPANT_NOT_FOUND"


def test_me_on_a_season_or_all_time_team_board_is_400(player_client, flags_on):
    SeasonFactory(slug="s1")
    for scope in ("season&season=s1", "all_time"):
        response = player_client.get(f"{SCOPED}?scope={scope}&participant_type=team&around=me")

        assert _errors(response) == {
            "around": ["me names a player, not a team: on a team board give a team id."]
        }


def test_around_me_on_season_and_all_time_solo_boards(client_for, flags_on):
    season = SeasonFactory(slug="s2")
    ladder = build_ladder(5, season=season)
    me = client_for(ladder.users[4])

    for query in ("scope=season&season=s2", "scope=all_time", "scope=tournament"):
        url = f"{SCOPED}?{query}&tournament_id={ladder.tournament_id}&around=me&size=2"
        body = me.get(url).json()
        assert _ranks(body) == [4, 5], query
        assert body["around"] == ladder.users[4].pk


# --- ids ------------------------------------------------------------------------------------


def test_a_friends_board_keeps_whole_board_ranks_and_lists_the_missing(player_client, flags_on):
    ladder = build_ladder(6)
    friends = [ladder.user_at_rank(5), ladder.user_at_rank(2), 999_999, ladder.user_at_rank(5)]
    query = "?ids=" + ",".join(str(each) for each in friends)

    body = player_client.get(BOARD.format(ladder.tournament_id) + query).json()

    assert _ranks(body) == [2, 5]  # rank order, repeats ignored
    assert body["missing_ids"] == [999_999]
    assert (body["count"], body["next"], body["previous"]) == (6, None, None)
    assert set(body) == BOARD_KEYS | {"missing_ids"}


def test_ids_on_a_team_board_are_team_ids(player_client, flags_on):
    tournament_id, team_ids, member = _team_tournament()

    unknown = max(team_ids) + 1000

    body = player_client.get(
        BOARD.format(tournament_id) + f"?ids={team_ids[2]},{team_ids[0]},{unknown}"
    ).json()

    assert [row["team_id"] for row in body["results"]] == [team_ids[0], team_ids[2]]
    assert body["missing_ids"] == [unknown]
    assert member.pk  # rows of a team board are named by team ids, not their members' ids


def test_ids_on_scoped_boards(player_client, flags_on):
    season = SeasonFactory(slug="s3")
    ladder = build_ladder(4, season=season)
    wanted = f"{ladder.user_at_rank(4)},{ladder.user_at_rank(1)}"

    for query in ("scope=season&season=s3", "scope=all_time"):
        body = player_client.get(f"{SCOPED}?{query}&ids={wanted}").json()
        assert _ranks(body) == [1, 4], (query, body)
        assert body["missing_ids"] == []


# --- exclusions and hostile values --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("around=1&page=1", "page"),
        ("around=1&page_size=10", "page_size"),
        ("ids=1&page=2", "page"),
        ("ids=1&page_size=10", "page_size"),
        ("around=1&ids=1", "ids"),
        ("size=5", "size"),
        ("around=1&size=0", "size"),
        ("around=1&size=102", "size"),
        ("around=1&size=", "size"),
        ("around=0", "around"),
        ("around=-3", "around"),
        ("around=you", "around"),
        ("around=9223372036854775808", "around"),
        ("around=" + "9" * 5000, "around"),
        ("ids=", "ids"),
        ("ids=1,,2", "ids"),
        ("ids=a", "ids"),
        ("ids=9223372036854775808", "ids"),
        ("ids=" + ",".join(str(n) for n in range(1, 102)), "ids"),
        ("ids=" + ",".join(str(n) for n in range(1, 10_001)), "ids"),
        ("as_of=2026-06-01T18:00:00", "as_of"),
        ("as_of=2026-06-01", "as_of"),
        ("as_of=yesterday", "as_of"),
        ("as_of=9999-12-31T23:00:00-05:00", "as_of"),
        ("compare_to=2026-13-01T00:00:00Z", "compare_to"),
        ("as_of=2026-06-01T00:00:00Z&compare_to=2026-06-02T00:00:00Z", "compare_to"),
    ],
)
def test_each_bad_combination_or_value_is_a_400_naming_its_parameter(
    player_client, flags_on, query, field
):
    ladder = build_ladder(3)

    for url in (BOARD.format(ladder.tournament_id) + "?", f"{SCOPED}?scope=all_time&"):
        errors = _errors(player_client.get(url + query))
        assert list(errors) == [field], (url, errors)


def test_a_hundred_ids_and_a_window_of_101_are_accepted(player_client, flags_on):
    ladder = build_ladder(3)
    url = BOARD.format(ladder.tournament_id)

    hundred = player_client.get(url + "?ids=" + ",".join(str(n) for n in range(1, 101)))
    widest = player_client.get(url + f"?around={ladder.user_at_rank(1)}&size=101")

    assert (hundred.status_code, widest.status_code) == (200, 200)


# --- as_of and compare_to -------------------------------------------------------------------


@pytest.fixture
def reversal():
    """A, B, C (ids ascending) and four results:
    m1 at(1) C beats B; m2 at(2) B beats A; m3 at(3) A beats C; m4 at(4) A beats B.

    Now:           A 6 pts (2 W, 3 played), C 3 (1 W, 2 played), B 3 (1 W, 3 played) -> A, C, B
    As of at(2)+:  C 3 (1 played), B 3 (2 played), A 0                                -> C, B, A
    As of at(1)+:  C 3, A 0 (0 played), B 0 (1 played)                                -> C, A, B
    Before at(1):  nobody has played: by id                                           -> A, B, C
    """
    tournament = TournamentFactory()
    a, b, c = (UserFactory(username=f"rev{tournament.pk}-{name}") for name in "abc")
    ra, rb, rc = (RegistrationFactory(tournament=tournament, user=user) for user in (a, b, c))
    MatchFactory(participant1=rc, participant2=rb, winner=rc, completed_at=at(1))
    MatchFactory(participant1=rb, participant2=ra, winner=rb, completed_at=at(2))
    MatchFactory(participant1=ra, participant2=rc, winner=ra, completed_at=at(3))
    MatchFactory(participant1=ra, participant2=rb, winner=ra, completed_at=at(4))
    return tournament, {"A": a.pk, "B": b.pk, "C": c.pk}


def _order(body: dict, ids: dict[str, int]) -> str:
    names = {value: key for key, value in ids.items()}
    return "".join(names[row["participant_id"]] for row in body["results"])


@pytest.mark.parametrize(
    ("instant", "order"),
    [
        (at(2) + dt.timedelta(seconds=30), "CBA"),
        (at(2), "CBA"),  # completed exactly at the instant: counted
        (at(2) - dt.timedelta(microseconds=1), "CAB"),
        (at(1) + dt.timedelta(seconds=30), "CAB"),
        (at(0), "ABC"),
        (at(10), "ACB"),
        (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "ACB"),
    ],
)
def test_the_board_as_of_an_instant(player_client, flags_on, reversal, instant, order):
    tournament, ids = reversal

    response = player_client.get(BOARD.format(tournament.pk), {"as_of": iso_utc(instant)})

    body = response.json()
    assert response.status_code == 200
    assert _order(body, ids) == order
    assert body["as_of"] == iso_utc(instant)
    assert set(body) == BOARD_KEYS | {"as_of"}


def test_as_of_with_an_offset_is_reported_in_utc(player_client, flags_on, reversal):
    tournament, ids = reversal
    local = (at(2) + dt.timedelta(seconds=30)).astimezone(dt.timezone(dt.timedelta(hours=6)))

    body = player_client.get(BOARD.format(tournament.pk), {"as_of": local.isoformat()}).json()

    assert body["as_of"] == iso_utc(at(2) + dt.timedelta(seconds=30))
    assert _order(body, ids) == "CBA"


def test_as_of_counts_the_points_of_that_instant(player_client, flags_on, reversal):
    tournament, _ = reversal
    as_of = iso_utc(at(2) + dt.timedelta(seconds=30))

    rows = player_client.get(BOARD.format(tournament.pk), {"as_of": as_of}).json()["results"]

    assert [(row["points"], row["wins"], row["matches_played"]) for row in rows] == [
        (3, 1, 1),
        (3, 1, 2),
        (0, 0, 1),
    ]
    assert [row["last_updated_at"] for row in rows] == [
        iso_utc(at(1)),
        iso_utc(at(2)),
        iso_utc(at(2)),
    ]


def test_movement_since_an_instant(player_client, flags_on, reversal):
    tournament, _ = reversal
    earlier = iso_utc(at(2) + dt.timedelta(seconds=30))

    body = player_client.get(BOARD.format(tournament.pk), {"compare_to": earlier}).json()

    # now A, C, B; then C, B, A
    assert [(row["rank"], row["previous_rank"], row["rank_change"]) for row in body["results"]] == [
        (1, 3, 2),
        (2, 1, -1),
        (3, 2, -1),
    ]
    assert body["compare_to"] == earlier
    assert set(body) == BOARD_KEYS | {"compare_to"}


def test_movement_between_two_past_instants_on_a_window(client_for, flags_on, reversal):
    tournament, ids = reversal
    b = User.objects.get(pk=ids["B"])
    query = {
        "as_of": iso_utc(at(2) + dt.timedelta(seconds=30)),  # C, B, A
        "compare_to": iso_utc(at(1) + dt.timedelta(seconds=30)),  # C, A, B
        "around": "me",
        "size": "1",
    }

    body = client_for(b).get(BOARD.format(tournament.pk), query).json()

    assert [(row["rank"], row["previous_rank"], row["rank_change"]) for row in body["results"]] == [
        (2, 3, 1)
    ]
    assert set(body) == BOARD_KEYS | {"around", "as_of", "compare_to"}


def test_movement_on_a_friends_board_of_a_season(player_client, flags_on):
    season = SeasonFactory(slug="s4")
    ladder = build_ladder(3, season=season)  # matches at(1), at(2), at(3)
    # before any match: by id (seat order, the same as now): no movement
    query = {
        "scope": "season",
        "season": "s4",
        "ids": f"{ladder.user_at_rank(3)},{ladder.user_at_rank(2)}",
        "compare_to": iso_utc(at(0)),
    }

    body = player_client.get(SCOPED, query).json()

    assert [(row["rank"], row["rank_change"]) for row in body["results"]] == [(2, 0), (3, 0)]


def test_rows_carry_movement_keys_only_with_compare_to(player_client, flags_on, reversal):
    tournament, _ = reversal

    row = player_client.get(BOARD.format(tournament.pk)).json()["results"][0]

    assert "previous_rank" not in row and "rank_change" not in row


def test_an_as_of_page_has_links_that_keep_the_instant(player_client, flags_on):
    ladder = build_ladder(3)
    as_of = iso_utc(at(1))

    body = player_client.get(
        BOARD.format(ladder.tournament_id), {"as_of": as_of, "page_size": 1}
    ).json()

    assert body["next"] == (
        f"http://testserver/api/tournaments/{ladder.tournament_id}/leaderboard/"
        "?as_of=2031-06-01T10%3A01%3A00Z&page_size=1&page=2"
    )


# --- is_final -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "final"), [(TournamentStatus.COMPLETED, True), (TournamentStatus.LIVE, False)]
)
def test_a_tournament_board_is_final_once_the_tournament_is_completed(
    player_client, flags_on, status, final
):
    ladder = build_ladder(2, status=status)

    body = player_client.get(BOARD.format(ladder.tournament_id)).json()
    scoped = player_client.get(
        SCOPED, {"scope": "tournament", "tournament_id": ladder.tournament_id}
    ).json()

    assert body["is_final"] is scoped["is_final"] is final


def _season_board(client, slug: str) -> dict:
    return client.get(SCOPED, {"scope": "season", "season": slug}).json()


def test_a_season_board_is_final_when_it_ended_and_all_its_tournaments_completed(
    player_client, flags_on
):
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    ended = SeasonFactory(slug="ended", ends_on=yesterday)
    build_ladder(2, season=ended, status=TournamentStatus.COMPLETED)
    build_ladder(2, season=ended, status=TournamentStatus.CANCELLED)  # not counted
    open_one = SeasonFactory(slug="open", ends_on=yesterday)
    build_ladder(2, season=open_one, status=TournamentStatus.COMPLETED)
    build_ladder(2, season=open_one, status=TournamentStatus.LIVE)
    running = SeasonFactory(slug="running", ends_on=timezone.now().date())
    build_ladder(2, season=running, status=TournamentStatus.COMPLETED)
    SeasonFactory(slug="endless", ends_on=None)

    finals = {slug: _season_board(player_client, slug)["is_final"] for slug in
              ("ended", "open", "running", "endless")}  # fmt: skip
    all_time = player_client.get(SCOPED, {"scope": "all_time"}).json()

    assert finals == {"ended": True, "open": False, "running": False, "endless": False}
    assert all_time["is_final"] is False


def test_ending_a_season_makes_its_cached_board_final(
    player_client, flags_on, django_capture_on_commit_callbacks
):
    season = SeasonFactory(slug="closing", ends_on=timezone.now().date() + dt.timedelta(days=3))
    ladder = build_ladder(2, season=season, status=TournamentStatus.COMPLETED)
    assert _season_board(player_client, "closing")["is_final"] is False  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        season.ends_on = timezone.now().date() - dt.timedelta(days=1)
        season.save()

    assert _season_board(player_client, "closing")["is_final"] is True
    assert ladder.tournament_id  # the board had rows to cache


def test_completing_a_tournament_makes_its_cached_board_final(
    player_client, flags_on, django_capture_on_commit_callbacks
):
    ladder = build_ladder(2)
    url = BOARD.format(ladder.tournament_id)
    assert player_client.get(url).json()["is_final"] is False  # now cached

    tournament = ladder.registrations[0].tournament
    with django_capture_on_commit_callbacks(execute=True):
        tournament.status = TournamentStatus.COMPLETED
        tournament.save()

    assert player_client.get(url).json()["is_final"] is True


# --- ETags and 304s -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"around": "me", "size": "3"},
        {"ids": "1,2,3"},
        {"as_of": "2031-06-01T10:02:00Z"},
        {"compare_to": "2031-06-01T10:01:00Z"},
        {"as_of": "2031-06-01T10:02:00Z", "compare_to": "2031-06-01T10:01:00Z", "ids": "1"},
    ],
)
@pytest.mark.parametrize("scoped", [None, {"scope": "all_time"}, {"scope": "tournament"}])
def test_every_reading_has_an_etag_and_answers_304(client_for, flags_on, query, scoped):
    ladder = build_ladder(4)
    client = client_for(ladder.users[1])
    url = BOARD.format(ladder.tournament_id) if scoped is None else SCOPED
    base = {} if scoped is None else {**scoped, "tournament_id": ladder.tournament_id}

    first = client.get(url, {**base, **query})
    again = client.get(url, {**base, **query}, HTTP_IF_NONE_MATCH=first["ETag"])
    plain = client.get(url, base)

    assert first.status_code == 200
    assert again.status_code == 304
    assert first["ETag"] != plain["ETag"]


# --- the cache: readings are slices of cached documents; past states go with their board -------


def _hash_fields(tournament_id: int) -> set[str]:
    from apps.common.redis_gateway import redis_client
    from apps.tournaments.boards import BoardRef
    from apps.tournaments.services.board_cache.keys import board_key

    raw = redis_client().hkeys(board_key(BoardRef.tournament(tournament_id).name))
    return {field.decode() if isinstance(field, bytes) else field for field in raw}


def test_a_past_state_is_a_document_of_the_board_and_goes_with_it(
    player_client, flags_on, reversal
):
    from apps.tournaments.boards import EvictionReason
    from apps.tournaments.services.board_cache import invalidation

    tournament, _ = reversal
    instant = at(2) + dt.timedelta(seconds=30)
    url = BOARD.format(tournament.pk)
    player_client.get(url, {"compare_to": iso_utc(instant)})

    fields = _hash_fields(tournament.pk)
    invalidation.invalidate_tournament(tournament.pk, EvictionReason.MANUAL)

    assert {"ver", "doc", f"doc@{iso_utc(instant)}"} <= fields
    assert _hash_fields(tournament.pk) == set()


def test_windows_and_friends_lists_are_cut_from_the_cached_document(
    player_client, flags_on, monkeypatch
):
    from apps.tournaments.services import leaderboard_service

    ladder = build_ladder(6)
    url = BOARD.format(ladder.tournament_id)
    player_client.get(url)  # computes and caches the document
    computed: list[object] = []
    original = leaderboard_service.compute_board
    monkeypatch.setattr(
        leaderboard_service,
        "compute_board",
        lambda *args, **kwargs: computed.append(args) or original(*args, **kwargs),
    )

    readings = [
        player_client.get(url, {"around": ladder.user_at_rank(rank), "size": 3})
        for rank in range(1, 7)
    ] + [player_client.get(url, {"ids": f"{ladder.user_at_rank(2)},{ladder.user_at_rank(6)}"})]

    assert [response.status_code for response in readings] == [200] * 7
    assert computed == []


def test_a_full_board_hash_serves_new_past_states_without_storing_them(
    player_client, flags_on, reversal, monkeypatch
):
    from apps.tournaments.services.board_cache import store

    monkeypatch.setattr(store, "MAX_PAGES_PER_BOARD", 3)
    tournament, ids = reversal
    url = BOARD.format(tournament.pk)
    player_client.get(url)  # ver, doc, and the page: 3 fields

    body = player_client.get(url, {"as_of": iso_utc(at(1) + dt.timedelta(seconds=30))}).json()

    assert _order(body, ids) == "CAB"
    assert not any(field.startswith("doc@") for field in _hash_fields(tournament.pk))
