"""`read_board_page` and the computation: boards for every scope, flags, pages, caching and
invalidation."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.common import metrics
from apps.common.errors import InvalidInputError
from apps.common.models import FeatureFlag, FlagName
from apps.tournaments.boards import BoardRef, Scope
from apps.tournaments.errors import (
    PageNotFoundError,
    ParticipantNotFoundError,
    SeasonNotFoundError,
    TournamentNotFoundError,
)
from apps.tournaments.models import (
    MatchState,
    ParticipationType,
    PendingInvalidation,
    TournamentStatus,
)
from apps.tournaments.services.board_cache import invalidation
from apps.tournaments.services.board_compute import compute_board
from apps.tournaments.services.board_documents import PageSpec
from apps.tournaments.tests.factories import (
    GameFactory,
    MatchFactory,
    RegistrationFactory,
    SeasonFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.reads import body as _body
from apps.tournaments.tests.reads import is_cached, read
from apps.tournaments.tests.scenarios import at, build_round_robin, build_solo_cup

pytestmark = pytest.mark.django_db


def _season(slug: str, game: str | None = None) -> BoardRef:
    return BoardRef(Scope.SEASON, season=slug, game=game, participant_type="solo")


def _all_time(game: str | None = None) -> BoardRef:
    return BoardRef(Scope.ALL_TIME, game=game, participant_type="solo")


def _counter(counter, **labels) -> float:
    return counter.labels(**labels)._value.get()


def test_tournament_board_ranks_the_hand_worked_cup(flags_on):
    cup = build_solo_cup()
    user = cup.users

    body = _body(read(BoardRef.tournament(cup.tournament.pk), PageSpec()))

    assert body["tournament_id"] == cup.tournament.pk
    assert body["participant_type"] == "solo"
    assert body["ruleset"] == "deltacrown-5step"
    assert body["computation_enabled"] is True
    assert body["count"] == 5
    assert (body["next"], body["previous"]) == (None, None)
    order = [(row["participant_id"], row["rank"], row["decided_by"]) for row in body["results"]]
    assert order == [
        (user["A"].pk, 1, None),
        (user["C"].pk, 2, "matches_played"),
        (user["B"].pk, 3, "points"),
        (user["D"].pk, 4, "points"),
        (user["F"].pk, 5, "id"),
    ]
    first = body["results"][0]
    assert first == {
        "rank": 1,
        "participant_id": user["A"].pk,
        "team_id": None,
        "registration_id": cup.registrations["A"].pk,
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
    }


def test_disputed_match_counts_once_it_is_resolved_as_completed(flags_on):
    cup = build_solo_cup()
    disputed = cup.matches["m4"]

    disputed.state = MatchState.COMPLETED
    disputed.winner = cup.registrations["D"]
    disputed.completed_at = at(9)
    disputed.save()

    body = _body(read(BoardRef.tournament(cup.tournament.pk), PageSpec()))
    d_row = next(row for row in body["results"] if row["participant_id"] == cup.users["D"].pk)
    assert (d_row["wins"], d_row["points"], d_row["score_for"]) == (1, 3, 5)


def test_team_tournament_rows_carry_team_ids(flags_on):
    tournament = TournamentFactory(participation_type=ParticipationType.TEAM)
    red, blue = TeamFactory(), TeamFactory()
    one = RegistrationFactory(tournament=tournament, user=None, team=red)
    two = RegistrationFactory(tournament=tournament, user=None, team=blue)
    MatchFactory(participant1=one, participant2=two, winner=two, completed_at=at(1))

    body = _body(read(BoardRef.tournament(tournament.pk), PageSpec()))

    assert [(row["team_id"], row["participant_id"]) for row in body["results"]] == [
        (blue.pk, None),
        (red.pk, None),
    ]
    assert body["participant_type"] == "team"


def test_head_to_head_ruleset_uses_the_mini_table(flags_on):
    tournament = TournamentFactory(tiebreak_ruleset="head-to-head")
    a, b = (RegistrationFactory(tournament=tournament) for _ in range(2))
    c = RegistrationFactory(tournament=tournament)
    # a and b both end on 3 points; b beat a directly, a has the better score difference.
    MatchFactory(participant1=b, participant2=a, score1=1, score2=0, winner=b, completed_at=at(1))
    MatchFactory(participant1=a, participant2=c, score1=9, score2=0, winner=a, completed_at=at(2))
    MatchFactory(participant1=c, participant2=b, score1=1, score2=0, winner=c, completed_at=at(3))

    body = _body(read(BoardRef.tournament(tournament.pk), PageSpec()))

    assert body["ruleset"] == "head-to-head"
    # All three on 3 points: the mini-table of all three is a cycle (3 each); score
    # difference decides: a +8, b 0, c -8.
    assert [row["registration_id"] for row in body["results"]] == [a.pk, b.pk, c.pk]
    assert [row["decided_by"] for row in body["results"]] == [
        None,
        "score_difference",
        "score_difference",
    ]


def test_pages_cut_the_board_with_links(flags_on):
    tournament = build_round_robin(5)
    spec = PageSpec(
        page=2, page_size=2, base_url="http://testserver/x/", query=(("page_size", "2"),)
    )

    body = _body(read(BoardRef.tournament(tournament.pk), spec))

    assert body["count"] == 5
    assert [row["rank"] for row in body["results"]] == [3, 4]
    assert body["next"] == "http://testserver/x/?page_size=2&page=3"
    assert body["previous"] == "http://testserver/x/?page_size=2&page=1"


def test_page_past_the_last_is_not_found_but_page_one_of_empty_is_fine(flags_on):
    tournament = build_round_robin(3)
    empty = TournamentFactory()

    with pytest.raises(PageNotFoundError):
        read(BoardRef.tournament(tournament.pk), PageSpec(page=2, page_size=3))
    body = _body(read(BoardRef.tournament(empty.pk), PageSpec()))
    assert (body["count"], body["results"], body["next"]) == (0, [], None)
    with pytest.raises(PageNotFoundError):
        read(BoardRef.tournament(empty.pk), PageSpec(page=2))


def test_unknown_and_draft_tournaments_are_not_found_for_non_staff(flags_on):
    draft = TournamentFactory(status=TournamentStatus.DRAFT)

    with pytest.raises(TournamentNotFoundError):
        read(BoardRef.tournament(999_999), PageSpec())
    with pytest.raises(TournamentNotFoundError):
        read(BoardRef.tournament(draft.pk), PageSpec())
    staff_body = _body(read(BoardRef.tournament(draft.pk), PageSpec(viewer_is_staff=True)))
    assert staff_body["tournament_id"] == draft.pk
    with pytest.raises(TournamentNotFoundError):  # the staff read cached it; still hidden
        read(BoardRef.tournament(draft.pk), PageSpec())


def test_compute_off_returns_an_empty_board_and_stores_nothing(flags_on):
    cup = build_solo_cup()
    FeatureFlag.objects.filter(name=FlagName.COMPUTE).update(is_enabled=False)
    from apps.common import flags

    flags.forget_cached_rows()

    result = read(BoardRef.tournament(cup.tournament.pk), PageSpec())

    body = _body(result)
    assert body["computation_enabled"] is False
    assert (body["count"], body["results"]) == (0, [])
    assert result.cached is False
    assert not is_cached(BoardRef.tournament(cup.tournament.pk))


def test_cache_hit_after_miss_and_counters(flags_on):
    tournament = build_round_robin(4)
    hits = _counter(metrics.CACHE_HITS, scope="tournament")
    misses = _counter(metrics.CACHE_MISSES, scope="tournament")

    first = read(BoardRef.tournament(tournament.pk), PageSpec())
    second = read(BoardRef.tournament(tournament.pk), PageSpec())

    assert (first.cached, second.cached) == (False, True)
    assert first.body == second.body
    assert first.etag == second.etag
    assert _counter(metrics.CACHE_HITS, scope="tournament") == hits + 1
    assert _counter(metrics.CACHE_MISSES, scope="tournament") == misses + 1


def test_cache_off_computes_every_time(flags_on):
    tournament = build_round_robin(4)
    FeatureFlag.objects.filter(name=FlagName.CACHE).update(is_enabled=False)
    from apps.common import flags

    flags.forget_cached_rows()

    results = [read(BoardRef.tournament(tournament.pk), PageSpec()) for _ in range(2)]

    assert [result.cached for result in results] == [False, False]
    assert not is_cached(BoardRef.tournament(tournament.pk))


def test_result_commit_is_seen_by_the_next_read(transactional_db, flags_on):
    """Real commits (no test transaction around them): invalidation runs on commit."""
    cup = build_solo_cup()
    before = read(BoardRef.tournament(cup.tournament.pk), PageSpec())
    assert read(BoardRef.tournament(cup.tournament.pk), PageSpec()).cached is True

    with transaction.atomic():
        MatchFactory(
            participant1=cup.registrations["F"],
            participant2=cup.registrations["A"],
            winner=cup.registrations["F"],
            completed_at=at(30),
        )
        inside = read(BoardRef.tournament(cup.tournament.pk), PageSpec())
        assert inside.cached is True  # not committed yet: nothing invalidated

    after = read(BoardRef.tournament(cup.tournament.pk), PageSpec())
    assert after.cached is False
    assert after.etag != before.etag
    f_row = next(
        row for row in _body(after)["results"] if row["participant_id"] == cup.users["F"].pk
    )
    assert f_row["wins"] == 1


def test_rolled_back_write_invalidates_nothing(transactional_db, flags_on):
    cup = build_solo_cup()
    read(BoardRef.tournament(cup.tournament.pk), PageSpec())

    with pytest.raises(RuntimeError), transaction.atomic():
        MatchFactory(
            participant1=cup.registrations["F"],
            participant2=cup.registrations["A"],
            winner=cup.registrations["F"],
            completed_at=at(30),
        )
        raise RuntimeError("abandon the write")

    assert read(BoardRef.tournament(cup.tournament.pk), PageSpec()).cached is True


def test_confirming_a_registration_moves_the_board(transactional_db, flags_on):
    tournament = build_round_robin(3)
    pending = RegistrationFactory(tournament=tournament, status="pending")
    assert _body(read(BoardRef.tournament(tournament.pk), PageSpec()))["count"] == 3

    pending.status = "confirmed"
    pending.save()

    assert _body(read(BoardRef.tournament(tournament.pk), PageSpec()))["count"] == 4


def _season_world():
    season = SeasonFactory(slug="2031-summer")
    game = GameFactory(slug="valorant")
    anna, ben = UserFactory(username="anna"), UserFactory(username="ben")
    for minute, (winner, loser) in enumerate([(anna, ben), (anna, ben), (ben, anna)]):
        tournament = TournamentFactory(season=season, game=game, status=TournamentStatus.COMPLETED)
        w = RegistrationFactory(tournament=tournament, user=winner)
        lo = RegistrationFactory(tournament=tournament, user=loser)
        MatchFactory(participant1=w, participant2=lo, winner=w, completed_at=at(minute))
    return season, game, anna, ben


def test_season_board_sums_tournaments_and_adds_tournaments_played(flags_on):
    season, _, anna, ben = _season_world()

    body = _body(read(_season(season.slug), PageSpec()))

    assert body["scope"] == "season"
    assert body["season"] == season.slug
    assert body["tournament_id"] is None
    assert body["ruleset"] == "deltacrown-5step"
    assert [
        (row["participant_id"], row["points"], row["tournaments_played"], row["registration_id"])
        for row in body["results"]
    ] == [(anna.pk, 6, 3, None), (ben.pk, 3, 3, None)]


def test_season_and_game_lookups_fail_clearly(flags_on):
    _season_world()

    with pytest.raises(SeasonNotFoundError):
        read(_season("no-such-season"), PageSpec())
    with pytest.raises(InvalidInputError) as error:
        read(_all_time("no-such-game"), PageSpec())
    assert list(error.value.errors) == ["game"]


def test_all_time_board_for_one_game(flags_on):
    _, game, anna, ben = _season_world()
    other = TournamentFactory(game=GameFactory(slug="chess"), status=TournamentStatus.COMPLETED)
    w = RegistrationFactory(tournament=other, user=ben)
    lo = RegistrationFactory(tournament=other, user=anna)
    MatchFactory(participant1=w, participant2=lo, winner=w, completed_at=at(50))

    everything = _body(read(_all_time(None), PageSpec()))
    one_game = _body(read(_all_time(game.slug), PageSpec()))

    assert [row["points"] for row in everything["results"]] == [6, 6]
    assert [row["participant_id"] for row in one_game["results"]] == [anna.pk, ben.pk]
    assert everything["scope"] == "all_time"
    assert "season" not in everything


def test_history_lists_solo_and_roster_tournaments_newest_first(flags_on):
    anna = UserFactory(username="anna")
    older = build_round_robin(3, starts_at=at(0))
    RegistrationFactory(tournament=older, user=anna)
    team_cup = TournamentFactory(participation_type=ParticipationType.TEAM, starts_at=at(100))
    squad = TeamFactory(members=[anna])
    mine = RegistrationFactory(tournament=team_cup, user=None, team=squad)
    theirs = RegistrationFactory(tournament=team_cup, user=None, team=TeamFactory())
    MatchFactory(participant1=mine, participant2=theirs, winner=mine, completed_at=at(101))
    undated = TournamentFactory(starts_at=None)
    RegistrationFactory(tournament=undated, user=anna)
    cancelled_entry = TournamentFactory(starts_at=at(200))
    RegistrationFactory(tournament=cancelled_entry, user=anna, status="cancelled")

    body = _body(read(BoardRef.history(anna.pk), PageSpec()))

    assert body["participant_id"] == anna.pk
    assert [row["tournament_id"] for row in body["results"]] == [
        team_cup.pk,
        older.pk,
        undated.pk,
    ]
    team_row = body["results"][0]
    assert team_row == {
        "tournament_id": team_cup.pk,
        "team_id": squad.pk,
        "registration_id": mine.pk,
        "rank": 1,
        "field_size": 2,
        "points": 3,
        "wins": 1,
        "draws": 0,
        "losses": 0,
        "matches_played": 1,
        "tournament_status": "live",
        "tournament_ended_at": None,
    }
    assert body["results"][1]["field_size"] == 4
    # Registered, never played: 0 points like the player with two losses, but fewer matches.
    assert body["results"][1]["rank"] == 3


def test_a_roster_on_a_solo_registration_puts_no_one_else_in_that_tournament(flags_on):
    # given a solo tournament whose registration of bob also lists carol on a roster (the import
    # format does not forbid it)
    bob, carol = UserFactory(username="bob"), UserFactory(username="carol")
    solo = build_round_robin(2)
    entry = RegistrationFactory(tournament=solo, user=bob)
    entry.roster.set([carol])

    # when each asks for their history
    carols = _body(read(BoardRef.history(carol.pk), PageSpec()))
    bobs = _body(read(BoardRef.history(bob.pk), PageSpec()))

    # then the tournament is bob's only: carol did not play in it
    assert carols["results"] == []
    assert [row["registration_id"] for row in bobs["results"]] == [entry.pk]


def test_history_hides_drafts_from_non_staff_and_filters_by_status(flags_on):
    anna = UserFactory(username="anna")
    for status in ("draft", "live", "completed"):
        RegistrationFactory(tournament=TournamentFactory(status=status), user=anna)

    public = _body(read(BoardRef.history(anna.pk), PageSpec()))
    staff = _body(read(BoardRef.history(anna.pk), PageSpec(viewer_is_staff=True)))
    completed = _body(read(BoardRef.history(anna.pk), PageSpec(statuses=frozenset({"completed"}))))

    assert sorted(row["tournament_status"] for row in public["results"]) == ["completed", "live"]
    assert len(staff["results"]) == 3
    assert [row["tournament_status"] for row in completed["results"]] == ["completed"]


def test_history_of_unknown_user_is_not_found(flags_on):
    with pytest.raises(ParticipantNotFoundError):
        read(BoardRef.history(987_654), PageSpec())


def test_query_counts_do_not_grow_with_the_board(django_assert_num_queries):
    small, large = build_round_robin(4), build_round_robin(12)

    for tournament in (small, large):
        with django_assert_num_queries(2):
            compute_board(BoardRef.tournament(tournament.pk))

    head_small = build_round_robin(4, tiebreak_ruleset="head-to-head")
    head_large = build_round_robin(12, tiebreak_ruleset="head-to-head")
    for tournament in (head_small, head_large):
        with django_assert_num_queries(3):
            compute_board(BoardRef.tournament(tournament.pk))


def test_history_query_count_does_not_grow_with_tournaments(django_assert_num_queries):
    anna = UserFactory(username="anna")
    few = [build_round_robin(3) for _ in range(2)]
    for tournament in few:
        RegistrationFactory(tournament=tournament, user=anna)
    with django_assert_num_queries(4):
        compute_board(BoardRef.history(anna.pk))

    for _ in range(4):
        RegistrationFactory(
            tournament=build_round_robin(4, tiebreak_ruleset="head-to-head"), user=anna
        )
    with django_assert_num_queries(5):
        document = compute_board(BoardRef.history(anna.pk))
    assert len(document.rows) == 6


def test_a_change_redis_missed_is_applied_by_the_next_drain(
    transactional_db, flags_on, use_redis, settings
):
    """Redis unreachable at commit time: the change stays recorded, the process stops trusting
    the cache (reads come from SQL), and its next drain deletes the board cached before."""
    from apps.common import redis_gateway
    from apps.tournaments.services.board_cache.keys import board_key

    cup = build_solo_cup()
    board = BoardRef.tournament(cup.tournament.pk)
    read(board, PageSpec())
    key = board_key(board.name)
    assert use_redis.exists(key)
    real_url = settings.REDIS_URL
    PendingInvalidation.objects.all().delete()  # the set-up's own changes, already applied

    # when a result is committed while Redis cannot be reached
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_gateway.reset_for_tests()
    MatchFactory(
        participant1=cup.registrations["F"],
        participant2=cup.registrations["A"],
        winner=cup.registrations["F"],
        completed_at=at(30),
    )
    settings.REDIS_URL = real_url
    redis_gateway.reset_for_tests()

    # then the stale board is still in Redis, but this process reads from SQL
    assert use_redis.exists(key)
    assert PendingInvalidation.objects.count() == 1
    assert invalidation.is_cache_trusted() is False
    page = read(board, PageSpec())
    assert page.cached is False
    assert _f_wins(_body(page), cup) == 1

    # and its next drain applies the change and trusts the cache again
    assert invalidation.drain() == 1
    assert not use_redis.exists(key)
    assert PendingInvalidation.objects.count() == 0
    assert invalidation.is_cache_trusted() is True
    assert _f_wins(_body(read(board, PageSpec())), cup) == 1


def _f_wins(body: dict, cup) -> int:
    return next(
        row["wins"] for row in body["results"] if row["participant_id"] == cup.users["F"].pk
    )


def test_cached_season_read_runs_no_sql(flags_on, django_assert_num_queries):
    season, _, _, _ = _season_world()
    read(_season(season.slug), PageSpec())

    with django_assert_num_queries(0):
        assert read(_season(season.slug), PageSpec()).cached is True


def test_deleting_a_season_drops_its_cached_boards(transactional_db, flags_on):
    season = SeasonFactory(slug="2031-gone")
    read(_season(season.slug), PageSpec())

    season.delete()

    with pytest.raises(SeasonNotFoundError):
        read(_season("2031-gone"), PageSpec())


def test_season_and_all_time_query_counts_do_not_grow(django_assert_num_queries):
    season = SeasonFactory(slug="2031-counted")
    boards = [
        BoardRef(Scope.SEASON, season=season.slug, participant_type="solo"),
        BoardRef(Scope.ALL_TIME, participant_type="solo"),
    ]
    for size in (1, 4):
        for _ in range(size):
            build_round_robin(size + 2, season=season, status=TournamentStatus.COMPLETED)
        for board in boards:
            lookups = 1 if board.scope is Scope.SEASON else 0  # the season's id
            with django_assert_num_queries(1 + lookups):
                document = compute_board(board)
            assert document.rows
