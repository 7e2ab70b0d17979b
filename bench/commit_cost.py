"""What committing one result costs, invalidation included.

    python bench/commit_cost.py --database-url postgres://postgres@127.0.0.1:5432/bench_commit \\
        --redis-url redis://127.0.0.1:6379/7 [--commits 300] [--rounds 5]

Saves one match result at a time (`Match.save()` in its own transaction, as the Django admin
does) and times each commit from the start of the transaction until its after-commit work has
run: the write, the announcement and its outbox row, and the invalidation of the boards the
result feeds (with one board cached before each commit, so there is always a key to delete).
Prints the median and p95 per round and the median of the round medians.

It uses only the models and settings every version of the service has, so the same file run
from an older checkout (copied there) measures that version on the same data: the ratio between
the two, measured back to back on one machine, is what docs/performance.md reports. The
database, whose name must start with `bench_`, is dropped and created; the Redis database is
flushed, so give it one of its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

OWNED_DATABASE_PREFIX = "bench_"


def _recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.startswith(OWNED_DATABASE_PREFIX):
        raise SystemExit(f"the database name must start with {OWNED_DATABASE_PREFIX!r}: {name!r}")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    _recreate_database(options.database_url)
    os.environ.update(
        {
            "DATABASE_URL": options.database_url,
            "REDIS_URL": options.redis_url,
            "DJANGO_SETTINGS_MODULE": "deltacrown.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.test.client import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(options.redis_url).flushdb()

    from apps.common.models import FeatureFlag, User
    from apps.tournaments.models import Game, Match, Registration, Tournament

    # A queryset update, not `set_flag`: the older versions this file also measures lack it.
    FeatureFlag.objects.update(is_enabled=True, rollout_percent=100)
    game = Game.objects.create(slug="bench", name="Bench")
    tournament = Tournament.objects.create(name="Commit cost", game=game, status="live")
    players = [User.objects.create(username=f"commit-{n}") for n in range(8)]
    seats = [
        Registration.objects.create(tournament=tournament, user=player, status="confirmed")
        for player in players
    ]
    match = Match.objects.create(
        tournament=tournament, participant1=seats[0], participant2=seats[1], state="scheduled"
    )
    reader = User.objects.create(username="commit-reader")
    token = Token.objects.create(user=reader).key
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    board_url = f"/api/tournaments/{tournament.pk}/leaderboard/"
    from django.conf import settings

    settings.LEADERBOARD_RATE_LIMITS = {"public": 10**9, "admin": 10**9, "invalidate": 10**9}

    round_medians = []
    for round_number in range(1, options.rounds + 1):
        timings = []
        for number in range(options.commits):
            assert client.get(board_url).status_code == 200  # the board is cached again
            started = time.perf_counter()
            with transaction.atomic():
                match.score1 = number % 7
                match.state = "completed"
                match.completed_at = timezone.now()
                match.winner_id = match.participant1_id if number % 2 else match.participant2_id
                match.save()
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        median = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        round_medians.append(median)
        print(f"round {round_number}: median {median:.3f} ms, p95 {p95:.3f} ms")
    overall = statistics.median(round_medians)
    print(f"commit of one result: median of round medians {overall:.3f} ms")


if __name__ == "__main__":
    main()
