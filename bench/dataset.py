"""The benchmark data sets of contract section 8, written fast with `bulk_create`.

Runs in whatever database Django is connected to (the script's own database, or the test
database in the smoke test). Sizes are parameters; `CONTRACT_SIZES` are the contract's.

What is built (all in one transaction, deterministic for one seed):
- tournament board: one solo `deltacrown-5step` tournament with `tournament_competitors`
  confirmed registrations (plus a few pending and cancelled ones), `tournament_counted_matches`
  counted matches (completed with a winner, drawn, forfeit) and `tournament_other_matches` in the
  states that never count (scheduled, live, pending_result, disputed, cancelled); a twin of it
  under the `head-to-head` ruleset;
- season: `season_tournaments` solo tournaments (live or completed, every tenth under
  `head-to-head`) sharing `season_counted_matches` counted matches, plus a few non-counted
  matches each and `hidden_tournaments` draft / cancelled tournaments in the same season whose
  matches must never count;
- history: one user (`history_user_id`) registered in `history_tournaments` tournaments: in the
  first season tournaments as a solo player and in `team_tournaments` team tournaments through a
  team roster;
- the three leaderboard flags on.

Why `bulk_create`: `Registration.save()` and `Match.save()` run `clean()` (one or two queries per
row) and fire the invalidation signals, which would make 70,000 matches take minutes. The builder
produces only rows that `clean()` would accept (participants belong to the match's tournament,
the winner is a participant, counted states carry completed_at, a forfeit names its winner, only
results have a winner, registrations match the tournament's participation type) and the database
CHECK constraints still verify the single-row rules on insert. No per-row signal fires (each bulk
write announces its results once, `apps.tournaments.events.announce_results_changed`, recorded in
the outbox `PendingInvalidation` and applied after the commit: apps/tournaments/querysets.py); the
measurement still invalidates each board before warming it, so every board starts cold.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import transaction

from apps.common import flags
from apps.common.flag_changes import set_flag
from apps.common.models import FlagName, User
from apps.tournaments.models import (
    Game,
    Match,
    MatchState,
    ParticipationType,
    Registration,
    RegistrationStatus,
    Season,
    Team,
    TiebreakRuleset,
    Tournament,
    TournamentStatus,
)

DEFAULT_SEED = 20310601
BATCH_SIZE = 2_000
# Every name the builder writes starts with this, so bench rows are recognisable in any database.
NAME_PREFIX = "bench"
SEASON_SLUG = "bench-2031-spring"
HEAD_TO_HEAD_EVERY = 10  # season tournaments 0, 10, 20, ... rank under `head-to-head`

# Shares of the counted matches (the rest are completed with a winner).
DRAW_SHARE = 0.08
FORFEIT_SHARE = 0.04
NON_COUNTED_STATES = (
    MatchState.SCHEDULED,
    MatchState.LIVE,
    MatchState.PENDING_RESULT,
    MatchState.DISPUTED,
    MatchState.CANCELLED,
)
_BASE_TIME = dt.datetime(2031, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class BenchSizes:
    """How big each data set is. Checked on creation so every board can be built."""

    tournament_competitors: int = 256
    tournament_counted_matches: int = 8_000
    tournament_other_matches: int = 400
    season_tournaments: int = 200
    season_counted_matches: int = 50_000
    season_competitors_per_tournament: int = 32
    season_other_matches_per_tournament: int = 5
    hidden_tournaments: int = 4
    player_pool: int = 2_000
    history_tournaments: int = 20
    team_tournaments: int = 2
    teams_per_team_tournament: int = 16
    team_size: int = 4
    team_matches_per_tournament: int = 60

    def __post_init__(self) -> None:
        solo_history = self.history_tournaments - self.team_tournaments
        checks = {
            "tournament_competitors >= 2": self.tournament_competitors >= 2,
            "season_tournaments >= 2": self.season_tournaments >= 2,
            "season_competitors_per_tournament >= 2": self.season_competitors_per_tournament >= 2,
            "team_tournaments >= 1": self.team_tournaments >= 1,
            "teams_per_team_tournament >= 2": self.teams_per_team_tournament >= 2,
            "0 < history solo tournaments <= season_tournaments": (
                0 < solo_history <= self.season_tournaments
            ),
            "player_pool > every field size": self.player_pool
            > max(
                self.tournament_competitors,
                self.season_competitors_per_tournament,
                self.teams_per_team_tournament * self.team_size,
            ),
        }
        failed = [name for name, holds in checks.items() if not holds]
        if failed:
            raise ValueError(f"inconsistent bench sizes: {', '.join(failed)}")

    @property
    def history_solo_tournaments(self) -> int:
        return self.history_tournaments - self.team_tournaments


CONTRACT_SIZES = BenchSizes()


@dataclass(frozen=True, slots=True)
class BenchData:
    """Ids of what was built: the boards the measurement reads."""

    sizes: BenchSizes
    tournament_id: int
    head_to_head_tournament_id: int
    small_tournament_id: int  # a season tournament: the query count must not depend on size
    season_id: int
    season_slug: str
    history_user_id: int


def build_bench_data(sizes: BenchSizes = CONTRACT_SIZES, seed: int = DEFAULT_SEED) -> BenchData:
    """Write every data set into the connected database; one transaction."""
    with transaction.atomic():
        data = _Builder(sizes, random.Random(seed)).build()
        enable_leaderboard_flags()
    # `set_flag` drops the cached flag rows when the transaction commits; inside an outer
    # transaction (the smoke test's) that is never, so drop them here too.
    flags.forget_cached_rows()
    return data


def enable_leaderboard_flags() -> None:
    """All three flags on at 100 %, written as every path writes them (`set_flag`: the row and
    an audit record; the cached rows are dropped after the commit)."""
    for name in FlagName:
        set_flag(name.value, actor_id=None, is_enabled=True, rollout_percent=100)


@dataclass(slots=True)
class _Entry:
    """A confirmed registration and the skill that biases its results."""

    registration: Registration
    skill: float


class _Role(StrEnum):
    BOARD = "board"  # the two 256-competitor boards
    SEASON = "season"
    HIDDEN = "hidden"  # draft or cancelled, in the season: never counted
    TEAM = "team"


@dataclass(slots=True)
class _Plan:
    """One tournament to build: its role and its position among the tournaments of that role."""

    tournament: Tournament
    role: _Role
    index: int
    field: list[Registration] = dataclass_field(default_factory=list)


class _Builder:
    def __init__(self, sizes: BenchSizes, rng: random.Random) -> None:
        self.sizes = sizes
        self.rng = rng
        self.matches: list[Match] = []

    def build(self) -> BenchData:
        sizes = self.sizes
        users = User.objects.bulk_create(
            [
                User(username=f"{NAME_PREFIX}-{index:05d}", password=UNUSABLE_PASSWORD_PREFIX)
                for index in range(sizes.player_pool)
            ],
            batch_size=BATCH_SIZE,
        )
        history_user, others = users[0], users[1:]
        games = Game.objects.bulk_create(
            [
                Game(slug=f"{NAME_PREFIX}-efootball", name="eFootball (bench)"),
                Game(slug=f"{NAME_PREFIX}-valorant", name="VALORANT (bench)"),
            ]
        )
        season = Season.objects.create(
            slug=SEASON_SLUG,
            name="Spring 2031 (bench)",
            starts_on=_BASE_TIME.date(),
            ends_on=(_BASE_TIME + dt.timedelta(days=120)).date(),
        )
        plans = self._plan_tournaments(games, season)
        Tournament.objects.bulk_create([plan.tournament for plan in plans])
        teams = self._create_teams(history_user, others)

        registrations: list[Registration] = []
        for plan in plans:
            plan.field = self._field(plan, history_user, others, teams)
            registrations.extend(plan.field)
            registrations.extend(self._non_confirmed(plan, others))
        Registration.objects.bulk_create(registrations, batch_size=BATCH_SIZE)
        self._create_rosters(plans, teams)

        season_matches = self._split(sizes.season_counted_matches, sizes.season_tournaments)
        for plan in plans:
            counted, other = {
                _Role.BOARD: (sizes.tournament_counted_matches, sizes.tournament_other_matches),
                _Role.SEASON: (
                    season_matches[plan.index],
                    sizes.season_other_matches_per_tournament,
                ),
                _Role.HIDDEN: (2 * len(plan.field), 1),
                _Role.TEAM: (sizes.team_matches_per_tournament, 1),
            }[plan.role]
            self._schedule(plan.tournament, plan.field, counted, other)
        Match.objects.bulk_create(self.matches, batch_size=BATCH_SIZE)

        boards = [plan.tournament for plan in plans if plan.role == _Role.BOARD]
        small = next(
            plan.tournament
            for plan in plans
            if plan.role == _Role.SEASON
            and plan.tournament.tiebreak_ruleset == TiebreakRuleset.DELTACROWN_5STEP
        )
        return BenchData(
            sizes=sizes,
            tournament_id=boards[0].pk,
            head_to_head_tournament_id=boards[1].pk,
            small_tournament_id=small.pk,
            season_id=season.pk,
            season_slug=season.slug,
            history_user_id=history_user.pk,
        )

    # --- tournaments and fields ---------------------------------------------------------------

    def _plan_tournaments(self, games: Sequence[Game], season: Season) -> list[_Plan]:
        sizes = self.sizes
        plans = [
            _Plan(
                self._tournament(
                    f"board {sizes.tournament_competitors} ({ruleset})",
                    games[0],
                    None,
                    TournamentStatus.LIVE,
                    ruleset,
                    0,
                ),
                _Role.BOARD,
                index,
            )
            for index, ruleset in enumerate(
                (TiebreakRuleset.DELTACROWN_5STEP, TiebreakRuleset.HEAD_TO_HEAD)
            )
        ]
        live_from = sizes.season_tournaments - max(1, sizes.season_tournaments // 10)
        for index in range(sizes.season_tournaments):
            ruleset = (
                TiebreakRuleset.HEAD_TO_HEAD
                if index % HEAD_TO_HEAD_EVERY == 0
                else TiebreakRuleset.DELTACROWN_5STEP
            )
            status = TournamentStatus.LIVE if index >= live_from else TournamentStatus.COMPLETED
            tournament = self._tournament(
                f"season #{index}", games[index % 2], season, status, ruleset, index
            )
            plans.append(_Plan(tournament, _Role.SEASON, index))
        for index in range(sizes.hidden_tournaments):
            status = TournamentStatus.DRAFT if index % 2 == 0 else TournamentStatus.CANCELLED
            tournament = self._tournament(
                f"hidden #{index}",
                games[0],
                season,
                status,
                TiebreakRuleset.DELTACROWN_5STEP,
                index,
            )
            plans.append(_Plan(tournament, _Role.HIDDEN, index))
        for index in range(sizes.team_tournaments):
            tournament = self._tournament(
                f"team #{index}",
                games[1],
                None,
                TournamentStatus.COMPLETED,
                TiebreakRuleset.DELTACROWN_5STEP,
                index,
            )
            tournament.participation_type = ParticipationType.TEAM
            plans.append(_Plan(tournament, _Role.TEAM, index))
        return plans

    @staticmethod
    def _tournament(
        name: str,
        game: Game,
        season: Season | None,
        status: TournamentStatus,
        ruleset: TiebreakRuleset,
        day: int,
    ) -> Tournament:
        starts_at = _BASE_TIME + dt.timedelta(days=day % 120)
        return Tournament(
            name=f"{NAME_PREFIX} {name}",
            game=game,
            season=season,
            participation_type=ParticipationType.SOLO,
            status=status,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(days=2),
            tiebreak_ruleset=ruleset,
        )

    def _create_teams(
        self, history_user: User, others: Sequence[User]
    ) -> list[tuple[Team, list[User]]]:
        """Teams of `team_size`; the history user is on the first one."""
        sizes = self.sizes
        pool = self.rng.sample(list(others), sizes.teams_per_team_tournament * sizes.team_size - 1)
        members = [history_user, *pool]
        teams = Team.objects.bulk_create(
            [
                Team(name=f"{NAME_PREFIX} team {index}", tag=f"B{index}")
                for index in range(sizes.teams_per_team_tournament)
            ]
        )
        rosters = [
            (team, members[index * sizes.team_size : (index + 1) * sizes.team_size])
            for index, team in enumerate(teams)
        ]
        Team.members.through.objects.bulk_create(
            [
                Team.members.through(team_id=team.pk, user_id=user.pk)
                for team, roster in rosters
                for user in roster
            ],
            batch_size=BATCH_SIZE,
        )
        return rosters

    def _field(
        self,
        plan: _Plan,
        history_user: User,
        others: Sequence[User],
        teams: Sequence[tuple[Team, list[User]]],
    ) -> list[Registration]:
        """The confirmed registrations of one tournament (unsaved)."""
        sizes = self.sizes
        tournament = plan.tournament
        assert tournament.starts_at is not None
        registered_at = tournament.starts_at - dt.timedelta(days=7)
        if plan.role == _Role.TEAM:
            return [
                Registration(
                    tournament=tournament,
                    team=team,
                    status=RegistrationStatus.CONFIRMED,
                    registered_at=registered_at,
                    seed=index + 1,
                )
                for index, (team, _) in enumerate(teams)
            ]
        size = (
            sizes.tournament_competitors
            if plan.role == _Role.BOARD
            else sizes.season_competitors_per_tournament
        )
        users = self.rng.sample(list(others), size)
        if plan.role == _Role.SEASON and plan.index < sizes.history_solo_tournaments:
            users[0] = history_user
        return [
            Registration(
                tournament=tournament,
                user=user,
                status=RegistrationStatus.CONFIRMED,
                registered_at=registered_at,
                seed=index + 1,
            )
            for index, user in enumerate(users)
        ]

    def _non_confirmed(self, plan: _Plan, others: Sequence[User]) -> list[Registration]:
        """Pending, cancelled and rejected registrations: never a row on any board."""
        if plan.role not in {_Role.BOARD, _Role.SEASON}:
            return []
        confirmed = {registration.user_id for registration in plan.field}
        candidates = [user for user in reversed(others) if user.pk not in confirmed]
        statuses = (
            RegistrationStatus.PENDING,
            RegistrationStatus.CANCELLED,
            RegistrationStatus.REJECTED,
        )
        count = 12 if plan.role == _Role.BOARD else 2
        return [
            Registration(
                tournament=plan.tournament,
                user=user,
                status=statuses[index % len(statuses)],
                registered_at=plan.tournament.starts_at,
            )
            for index, user in enumerate(candidates[:count])
        ]

    def _create_rosters(
        self, plans: Sequence[_Plan], teams: Sequence[tuple[Team, list[User]]]
    ) -> None:
        roster_of = {team.pk: roster for team, roster in teams}
        Registration.roster.through.objects.bulk_create(
            [
                Registration.roster.through(registration_id=registration.pk, user_id=user.pk)
                for plan in plans
                if plan.role == _Role.TEAM
                for registration in plan.field
                for user in roster_of[registration.team_id]
            ],
            batch_size=BATCH_SIZE,
        )

    # --- matches ------------------------------------------------------------------------------

    @staticmethod
    def _split(total: int, parts: int) -> list[int]:
        """`total` split into `parts` near-equal counts that sum exactly to `total`."""
        base, remainder = divmod(total, parts)
        return [base + (1 if index < remainder else 0) for index in range(parts)]

    def _schedule(
        self, tournament: Tournament, field: Sequence[Registration], counted: int, other: int
    ) -> None:
        rng = self.rng
        entries = [_Entry(registration, rng.uniform(0.5, 2.0)) for registration in field]
        per_round = max(1, len(entries) // 2)
        start = tournament.starts_at
        for number in range(counted + other):
            first, second = rng.sample(entries, 2)
            match = Match(
                tournament=tournament,
                round=number // per_round + 1,
                match_number=number % per_round + 1,
                participant1=first.registration,
                participant2=second.registration,
                scheduled_at=start + dt.timedelta(minutes=3 * number),
            )
            if number < counted:
                self._play(match, first, second)
            else:
                self._leave_open(match)
            self.matches.append(match)

    def _play(self, match: Match, first: _Entry, second: _Entry) -> None:
        rng = self.rng
        assert match.scheduled_at is not None
        match.started_at = match.scheduled_at
        match.completed_at = match.scheduled_at + dt.timedelta(
            minutes=20, seconds=rng.randrange(60)
        )
        roll = rng.random()
        if roll < DRAW_SHARE:
            match.state = MatchState.COMPLETED
            match.score1 = match.score2 = rng.randrange(4)
            return
        first_wins = rng.random() < first.skill / (first.skill + second.skill)
        winner = first if first_wins else second
        match.winner = winner.registration
        winning = rng.randrange(1, 6)
        losing = rng.randrange(winning)
        if roll < DRAW_SHARE + FORFEIT_SHARE:
            match.state = MatchState.FORFEIT
            winning, losing = 3, 0
        else:
            match.state = MatchState.COMPLETED
        match.score1, match.score2 = (winning, losing) if first_wins else (losing, winning)

    def _leave_open(self, match: Match) -> None:
        state = self.rng.choice(NON_COUNTED_STATES)
        match.state = state
        if state in {MatchState.LIVE, MatchState.PENDING_RESULT, MatchState.DISPUTED}:
            match.started_at = match.scheduled_at
            match.score1, match.score2 = self.rng.randrange(4), self.rng.randrange(4)
        if state in {MatchState.PENDING_RESULT, MatchState.DISPUTED}:
            assert match.scheduled_at is not None
            match.completed_at = match.scheduled_at + dt.timedelta(minutes=20)
