"""The read path's Redis traffic: a cached GET costs one round trip (the rate-limit script and
the page read, pipelined by `store.count_and_read_page`), a refused query only the count."""

from __future__ import annotations

import pytest
import redis

from apps.common.models import FeatureFlag, FlagName
from apps.tournaments.services.board_cache import store
from apps.tournaments.tests.scenarios import build_round_robin

FLAG_KEY_PREFIX = "dc:flags:"  # the flag rows' shared copy: read at most every few seconds


def _touches_flags_only(commands: list[tuple]) -> bool:
    return all(str(args[1]).startswith(FLAG_KEY_PREFIX) for args in commands if len(args) > 1)


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The Redis round trips of the rate limit and the board cache: the command names of each
    pipeline execute or single command, in order (the flags' shared copy left out)."""
    seen: list[list[str]] = []
    execute_pipeline = redis.client.Pipeline.execute
    execute_command = redis.Redis.execute_command

    def pipeline(self, *args, **kwargs):
        commands = [command[0] for command in self.command_stack]
        if not _touches_flags_only(commands):
            seen.append([str(command[0]) for command in commands])
        return execute_pipeline(self, *args, **kwargs)

    def single(self, *args, **kwargs):
        if not _touches_flags_only([args]):
            seen.append([str(args[0])])
        return execute_command(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)
    monkeypatch.setattr(redis.Redis, "execute_command", single)
    return seen


@pytest.fixture
def board_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Board names read from Redis in a round trip of their own (not with the rate limit)."""
    reads: list[str] = []
    original = store.read

    def read(board, page_field):
        reads.append(board.name)
        return original(board, page_field)

    monkeypatch.setattr(store, "read", read)
    return reads


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/tournaments/{tid}/leaderboard/",
        "/api/tournaments/leaderboards/scoped/?scope=tournament&tournament_id={tid}&page_size=2",
        "/api/tournaments/leaderboards/scoped/?scope=all_time",
    ],
)
def test_a_cached_get_costs_one_redis_round_trip(
    path, use_redis, flags_on, player_client, round_trips, board_reads
):
    # given a board already in the cache
    tournament = build_round_robin(4)
    url = path.format(tid=tournament.pk)
    first = player_client.get(url)
    assert first.status_code == 200
    round_trips.clear()
    board_reads.clear()

    # when the same page is asked for again
    second = player_client.get(url)

    # then the rate-limit script and the page read went out together, and nothing else
    assert second.status_code == 200
    assert second.content == first.content
    assert round_trips == [["EVALSHA", "GET", "HMGET"]]
    assert board_reads == []


@pytest.mark.django_db
def test_the_first_read_of_a_board_starts_its_version_and_still_serves(
    use_redis, flags_on, player_client, round_trips
):
    tournament = build_round_robin(3)

    response = player_client.get(f"/api/tournaments/{tournament.pk}/leaderboard/")

    # the read found no version, started one, and the computed page was stored under it
    assert response.status_code == 200
    assert round_trips[0] == ["EVALSHA", "GET", "HMGET"]
    assert ["SET", "GET"] in round_trips
    assert use_redis.get(f"lb:v1:ver:tournament:{tournament.pk}") is not None
    assert response["ETag"].startswith('"v-')


@pytest.mark.django_db
def test_invalid_parameters_read_nothing_but_still_count(
    use_redis, flags_on, player_client, round_trips
):
    tournament = build_round_robin(2)
    url = f"/api/tournaments/{tournament.pk}/leaderboard/?page_size=0"

    first = player_client.get(url)
    second = player_client.get(url)

    assert (first.status_code, second.status_code) == (400, 400)
    assert second.json()["error_code"] == "VALIDATION_ERROR"
    assert round_trips == [["EVALSHA"], ["EVALSHA"]]
    assert int(first["X-RateLimit-Remaining"]) - int(second["X-RateLimit-Remaining"]) == 1


@pytest.mark.django_db
def test_compute_off_reads_no_cache_even_on_the_rate_limit_trip(
    use_redis, flags_on, player_client, round_trips
):
    tournament = build_round_robin(2)
    FeatureFlag.objects.filter(name=FlagName.COMPUTE.value).update(is_enabled=False)
    from apps.common import flags

    flags.forget_local_rows()
    use_redis.flushdb()

    response = player_client.get(f"/api/tournaments/{tournament.pk}/leaderboard/")

    assert response.status_code == 200
    assert response.json()["computation_enabled"] is False
    assert all(trip == ["EVALSHA"] or "HMGET" not in trip for trip in round_trips)
    assert use_redis.keys("lb:v1:*") == []


@pytest.mark.django_db
def test_a_flushed_script_cache_is_reloaded_and_the_request_counted(
    use_redis, flags_on, player_client
):
    tournament = build_round_robin(2)
    url = f"/api/tournaments/{tournament.pk}/leaderboard/"
    first = player_client.get(url)

    use_redis.script_flush()
    second = player_client.get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == first.content
    assert int(first["X-RateLimit-Remaining"]) - int(second["X-RateLimit-Remaining"]) == 1
