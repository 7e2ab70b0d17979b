"""The load test's data set and API tokens, written straight into the server's database.

    python loadtest/setup_data.py build --database-url URL --redis-url URL \
        [--clients 300] [--profile contract|small] [--manifest loadtest/.data/manifest.json]
    python loadtest/setup_data.py commit-result --database-url URL --redis-url URL \
        --tournament-id N        # one scheduled match becomes a result, through Match.save()

A plain script with `django.setup()` (no management command, nothing in the app changes). It
refuses any database whose name does not start with `loadtest_` and is not
`deltacrown_prod_local` (the database of scripts/serve_prod.sh), so it can never write into
someone else's data.

`build` is idempotent: it creates the database when missing, migrates it, writes the data set
once (recognised by the game slug `lt-efootball`), adds client users and tokens up to
`--clients`, turns the three leaderboard flags on, invalidates every cached board (so a run
starts cold even when the data set was already there), and writes the manifest the harness reads
(ids, tokens).

The `contract` profile holds the sizes of contract section 8:
- one solo tournament of 256 competitors and 8,000 counted matches (plus 400 that never count);
- a season of 200 solo tournaments (live or completed) and 50,000 counted matches;
- six small live tournaments of 16 competitors (60 counted and 20 scheduled matches each: the
  scheduled ones are what `commit-result` turns into results during a drill), in another season;
- one team tournament of 8 teams of 4;
- a pool of 2,000 players, and `--clients` API users with tokens (the polling fleet) plus one
  staff user (the invalidate endpoint). `small` is the same shape at a tenth of the size, for
  the drills (built in seconds).

`commit-result` prints one JSON line with `committed_at` (Unix seconds, taken after the
transaction and its on-commit invalidation returned): every read that starts later must show the
result (contract section 6).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_MANIFEST = REPO_ROOT / "loadtest" / ".data" / "manifest.json"
ALLOWED_DATABASE_PREFIX = "loadtest_"
SERVE_PROD_DATABASE = "deltacrown_prod_local"
PREFIX = "lt"
MARKER_GAME = f"{PREFIX}-efootball"
SEASON_SLUG = f"{PREFIX}-2031-spring"
SMALL_SEASON_SLUG = f"{PREFIX}-2031-summer"
CLIENT_USERNAME = f"{PREFIX}-client-{{:05d}}"
STAFF_USERNAME = f"{PREFIX}-staff"
SEED = 20310707
BATCH = 2_000
BASE_TIME = dt.datetime(2031, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Profile:
    players: int
    board_competitors: int
    board_counted: int
    board_other: int
    season_tournaments: int
    season_counted: int
    season_field: int
    small_tournaments: int = 6
    small_field: int = 16
    small_counted: int = 60
    small_scheduled: int = 20
    team_count: int = 8
    team_size: int = 4


PROFILES = {
    "contract": Profile(
        players=2_000,
        board_competitors=256,
        board_counted=8_000,
        board_other=400,
        season_tournaments=200,
        season_counted=50_000,
        season_field=32,
    ),
    "small": Profile(
        players=300,
        board_competitors=64,
        board_counted=800,
        board_other=40,
        season_tournaments=20,
        season_counted=5_000,
        season_field=32,
    ),
}


def configure_django(database_url: str, redis_url: str) -> None:
    """Point the settings at the server's database and Redis, then set Django up."""
    import dj_database_url

    name = dj_database_url.parse(database_url)["NAME"] or ""
    if not (name.startswith(ALLOWED_DATABASE_PREFIX) or name == SERVE_PROD_DATABASE):
        raise SystemExit(
            f"refusing database {name!r}: the load test writes only into databases named "
            f"{ALLOWED_DATABASE_PREFIX}* or {SERVE_PROD_DATABASE}"
        )
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ.pop("DJANGO_ENV", None)  # a script, not the service: no production key needed
    for flag in (
        "LEADERBOARDS_COMPUTE_ENABLED",
        "LEADERBOARDS_CACHE_ENABLED",
        "LEADERBOARDS_API_ENABLED",
    ):
        os.environ.pop(flag, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltacrown.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    ensure_database(database_url)
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(database_url)
    with psycopg.connect(
        dbname="postgres",
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        autocommit=True,
        connect_timeout=5,
    ) as admin:
        found = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not found:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def log(message: str) -> None:
    print(f"setup_data: {message}", file=sys.stderr, flush=True)


# --- build ---------------------------------------------------------------------------------------


class Builder:
    """Writes one profile with bulk_create (no per-row clean() or signal; each bulk write
    announces its results once, recorded in the outbox and applied after the commit): only rows
    clean() would accept; the database CHECK constraints verify the single-row rules."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.rng = random.Random(SEED)  # noqa: S311
        self.matches: list[Any] = []

    def build(self) -> None:
        from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

        from apps.common.models import User
        from apps.tournaments.models import (
            Game,
            ParticipationType,
            Registration,
            RegistrationStatus,
            Season,
            Team,
            TiebreakRuleset,
            Tournament,
            TournamentStatus,
        )

        p = self.profile
        players = User.objects.bulk_create(
            [
                User(username=f"{PREFIX}-player-{index:05d}", password=UNUSABLE_PASSWORD_PREFIX)
                for index in range(p.players)
            ],
            batch_size=BATCH,
        )
        efootball, valorant = Game.objects.bulk_create(
            [
                Game(slug=MARKER_GAME, name="eFootball (load test)"),
                Game(slug=f"{PREFIX}-valorant", name="VALORANT (load test)"),
            ]
        )
        season = Season.objects.create(slug=SEASON_SLUG, name="Spring 2031 (load test)")
        summer = Season.objects.create(slug=SMALL_SEASON_SLUG, name="Summer 2031 (load test)")

        def tournament(name: str, game: Any, season_row: Any, status: str, day: int) -> Any:
            starts_at = BASE_TIME + dt.timedelta(days=day)
            return Tournament(
                name=f"{PREFIX} {name}",
                game=game,
                season=season_row,
                status=status,
                participation_type=ParticipationType.SOLO,
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(days=2),
                tiebreak_ruleset=TiebreakRuleset.DELTACROWN_5STEP,
            )

        board = tournament("board 256", efootball, None, TournamentStatus.LIVE, 0)
        season_rows = [
            tournament(
                f"season #{index}",
                (efootball, valorant)[index % 2],
                season,
                TournamentStatus.LIVE if index % 10 == 9 else TournamentStatus.COMPLETED,
                index % 120,
            )
            for index in range(p.season_tournaments)
        ]
        small_rows = [
            tournament(f"small #{index}", efootball, summer, TournamentStatus.LIVE, 130 + index)
            for index in range(p.small_tournaments)
        ]
        team_row = tournament("teams", valorant, None, TournamentStatus.COMPLETED, 140)
        team_row.participation_type = ParticipationType.TEAM
        Tournament.objects.bulk_create([board, *season_rows, *small_rows, team_row])

        confirmed = RegistrationStatus.CONFIRMED
        fields: list[tuple[Any, list[Any]]] = []
        for row, size in [
            (board, p.board_competitors),
            *[(each, p.season_field) for each in season_rows],
            *[(each, p.small_field) for each in small_rows],
        ]:
            field = [
                Registration(
                    tournament=row,
                    user=user,
                    status=confirmed,
                    registered_at=row.starts_at,
                    seed=index + 1,
                )
                for index, user in enumerate(self.rng.sample(players, size))
            ]
            fields.append((row, field))
        teams = Team.objects.bulk_create(
            [Team(name=f"{PREFIX} team {index}", tag=f"L{index}") for index in range(p.team_count)]
        )
        rosters = {
            team.pk: players[index * p.team_size : (index + 1) * p.team_size]
            for index, team in enumerate(teams)
        }
        team_field = [
            Registration(
                tournament=team_row, team=team, status=confirmed, registered_at=team_row.starts_at
            )
            for team in teams
        ]
        fields.append((team_row, team_field))
        Registration.objects.bulk_create(
            [registration for _, field in fields for registration in field], batch_size=BATCH
        )
        Team.members.through.objects.bulk_create(
            [
                Team.members.through(team_id=team_id, user_id=user.pk)
                for team_id, members in rosters.items()
                for user in members
            ]
        )
        Registration.roster.through.objects.bulk_create(
            [
                Registration.roster.through(registration_id=registration.pk, user_id=user.pk)
                for registration in team_field
                for user in rosters[registration.team_id]
            ]
        )

        season_split = self._split(p.season_counted, p.season_tournaments)
        by_tournament = dict(fields)
        self._schedule(board, by_tournament[board], p.board_counted, p.board_other, scheduled=0)
        for index, row in enumerate(season_rows):
            self._schedule(row, by_tournament[row], season_split[index], 2, scheduled=0)
        for row in small_rows:
            self._schedule(row, by_tournament[row], p.small_counted, 0, p.small_scheduled)
        self._schedule(team_row, team_field, 40, 0, scheduled=0)
        from apps.tournaments.models import Match

        Match.objects.bulk_create(self.matches, batch_size=BATCH)

    @staticmethod
    def _split(total: int, parts: int) -> list[int]:
        base, remainder = divmod(total, parts)
        return [base + (1 if index < remainder else 0) for index in range(parts)]

    def _schedule(
        self, tournament: Any, field: list[Any], counted: int, other: int, scheduled: int
    ) -> None:
        from apps.tournaments.models import Match, MatchState

        rng = self.rng
        skill = {registration.pk: rng.uniform(0.5, 2.0) for registration in field}
        for number in range(counted + other + scheduled):
            first, second = rng.sample(field, 2)
            at = tournament.starts_at + dt.timedelta(minutes=3 * number)
            match = Match(
                tournament=tournament,
                round=number // 8 + 1,
                match_number=number % 8 + 1,
                participant1=first,
                participant2=second,
                scheduled_at=at,
            )
            if number < counted:
                match.started_at = at
                match.completed_at = at + dt.timedelta(minutes=20)
                match.state = MatchState.COMPLETED
                if rng.random() < 0.08:
                    match.score1 = match.score2 = rng.randrange(4)
                else:
                    first_wins = rng.random() < skill[first.pk] / (
                        skill[first.pk] + skill[second.pk]
                    )
                    match.winner = first if first_wins else second
                    winning = rng.randrange(1, 6)
                    losing = rng.randrange(winning)
                    match.score1, match.score2 = (
                        (winning, losing) if first_wins else (losing, winning)
                    )
            elif number < counted + other:
                match.state = rng.choice([MatchState.CANCELLED, MatchState.LIVE])
            else:
                match.state = MatchState.SCHEDULED
            self.matches.append(match)


def ensure_clients(count: int) -> tuple[list[dict[str, Any]], str]:
    """`count` client users with tokens (created when missing) and the staff user's token."""
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
    from rest_framework.authtoken.models import Token

    from apps.common.models import User

    wanted = [CLIENT_USERNAME.format(index) for index in range(count)]
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(username=name, password=UNUSABLE_PASSWORD_PREFIX)
            for name in wanted
            if name not in existing
        ],
        batch_size=BATCH,
    )
    staff, _ = User.objects.get_or_create(
        username=STAFF_USERNAME, defaults={"is_staff": True, "password": UNUSABLE_PASSWORD_PREFIX}
    )
    users = list(User.objects.filter(username__in=[*wanted, STAFF_USERNAME]).order_by("username"))
    with_token = set(Token.objects.filter(user__in=users).values_list("user_id", flat=True))
    Token.objects.bulk_create(
        [Token(key=Token.generate_key(), user=user) for user in users if user.pk not in with_token]
    )
    tokens = dict(Token.objects.filter(user__in=users).values_list("user_id", "key"))
    clients = [
        {"user_id": user.pk, "token": tokens[user.pk]}
        for user in users
        if user.username != STAFF_USERNAME
    ]
    return clients, tokens[staff.pk]


def enable_flags() -> None:
    """The three flags on at 100 %, through `set_flag` (an audit record each; the cached flag
    rows are dropped once the caller's transaction commits)."""
    from apps.common.flag_changes import set_flag
    from apps.common.models import FlagName

    for name in FlagName:
        set_flag(name.value, actor_id=None, is_enabled=True, rollout_percent=100)


def manifest(clients: list[dict[str, Any]], staff_token: str) -> dict[str, Any]:
    from django.db import connection

    from apps.tournaments.models import Match, Registration, Tournament

    tournaments = Tournament.objects.filter(name__startswith=f"{PREFIX} ")
    board = tournaments.get(name=f"{PREFIX} board 256")
    small = list(
        tournaments.filter(name__startswith=f"{PREFIX} small #")
        .order_by("id")
        .values_list("id", flat=True)
    )
    season_ids = list(
        tournaments.filter(season__slug=SEASON_SLUG).order_by("id").values_list("id", flat=True)
    )
    # Players to poll the history of: regulars of the season (many tournaments each).
    history_ids = list(
        Registration.objects.filter(tournament_id__in=season_ids[:10], user__isnull=False)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()[:20]
    )
    counted = ("completed", "forfeit")
    return {
        "database": connection.settings_dict["NAME"],
        "big_tournament_id": board.pk,
        "small_tournament_ids": small,
        "season_slug": SEASON_SLUG,
        "season_tournaments": len(season_ids),
        "season_counted_matches": Match.objects.filter(
            tournament_id__in=season_ids, state__in=counted
        ).count(),
        "big_board_competitors": board.registrations.filter(status="confirmed").count(),
        "big_board_counted_matches": board.matches.filter(state__in=counted).count(),
        "history_user_ids": history_ids,
        "clients": clients,
        "staff_token": staff_token,
    }


def build(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from apps.tournaments.boards import EvictionReason
    from apps.tournaments.models import Game
    from apps.tournaments.services.board_cache.invalidation import invalidate_scope

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    if Game.objects.filter(slug=MARKER_GAME).exists():
        log("data set present: left as it is")
    else:
        log(f"building the {args.profile!r} data set")
        with transaction.atomic():
            Builder(PROFILES[args.profile]).build()
        # Planner statistics now, as a long-lived database has them: right after a bulk load
        # the planner guesses, and the season aggregate took seconds instead of milliseconds.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    with transaction.atomic():
        clients, staff_token = ensure_clients(args.clients)
        enable_flags()
    removed = invalidate_scope(None, EvictionReason.MANUAL)
    document = manifest(clients, staff_token)
    path = Path(args.manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1))
    path.chmod(0o600)
    log(
        f"ready in {time.perf_counter() - started:.1f} s: {len(clients)} clients, board "
        f"{document['big_board_competitors']}/{document['big_board_counted_matches']}, season "
        f"{document['season_tournaments']}/{document['season_counted_matches']}, "
        f"{len(removed)} cached boards invalidated; manifest {path}"
    )


# --- commit-result -------------------------------------------------------------------------------


def commit_result(args: argparse.Namespace) -> None:
    from django.db import transaction
    from django.utils import timezone

    from apps.tournaments.models import Match, MatchState

    with transaction.atomic():
        match = (
            Match.objects.select_for_update()
            .filter(tournament_id=args.tournament_id, state=MatchState.SCHEDULED)
            .order_by("id")
            .first()
        )
        if match is None:
            raise SystemExit(f"no scheduled match left in tournament {args.tournament_id}")
        now = timezone.now()
        match.state = MatchState.COMPLETED
        match.started_at = now - dt.timedelta(minutes=20)
        match.completed_at = now
        match.winner_id = match.participant1_id
        match.score1, match.score2 = 3, 0
        # clean() and the results-changed announcement (an outbox row, boards invalidated after
        # the commit), like any result write
        match.save()
    committed_at = time.time()  # after COMMIT and the on-commit invalidation
    print(
        json.dumps(
            {
                "match_id": match.pk,
                "tournament_id": args.tournament_id,
                "winner_registration_id": match.participant1_id,
                "loser_registration_id": match.participant2_id,
                "committed_at": committed_at,
            }
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "commit-result"):
        command = sub.add_parser(name)
        command.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
        command.add_argument(
            "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
        )
        if name == "build":
            command.add_argument("--clients", type=int, default=300)
            command.add_argument("--profile", choices=sorted(PROFILES), default="contract")
            command.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
        else:
            command.add_argument("--tournament-id", type=int, required=True)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is required")
    configure_django(args.database_url, args.redis_url)
    (build if args.command == "build" else commit_result)(args)


if __name__ == "__main__":
    main()
