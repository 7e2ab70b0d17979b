"""The demo data set behind `manage.py seed_demo`: two games, two seasons, ten tournaments.

Contract:
- Deterministic: one `random.Random(DEMO_RANDOM_SEED)` drives every choice, and every loop runs
  in a fixed order, so two builds give the same rows (ids aside).
- Written through the model layer (`Registration.save` and `Match.save` run `clean()`, signals
  schedule board invalidation), inside one transaction: a failed build leaves nothing behind.
- Demo rows are recognisable: users by their e-mail domain `DEMO_EMAIL_DOMAIN`, tournaments and
  teams by their names. `--reset` removes exactly those, never other data.
- Payment proofs and dispute evidence are recorded by file name only; no file is written.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from rest_framework.authtoken.models import Token

from apps.common.models import FeatureFlag, FlagName, User
from apps.tournaments.models import (
    COUNTED_MATCH_STATES,
    Dispute,
    DisputeReason,
    DisputeStatus,
    Game,
    Match,
    MatchState,
    ParticipationType,
    Payment,
    PaymentStatus,
    Registration,
    RegistrationStatus,
    Season,
    Team,
    TiebreakRuleset,
    Tournament,
    TournamentFormat,
    TournamentStatus,
)

DEMO_RANDOM_SEED = 20260307
DEMO_EMAIL_DOMAIN = "demo.deltacrown.test"
DEMO_PASSWORD = "deltacrown-demo"  # noqa: S105 - printed by seed_demo; local demo accounts only
STAFF_USERNAME = "staff"
PLAYER_USERNAME = "player"
DEMO_PLAYER_COUNT = 48

GAMES = {"efootball": "eFootball", "valorant": "VALORANT"}
SEASONS = {
    "2026-spring": ("Spring 2026", dt.date(2026, 3, 1), dt.date(2026, 5, 31)),
    "2026-autumn": ("Autumn 2026", dt.date(2026, 9, 1), dt.date(2026, 11, 30)),
}
VALORANT_TEAMS = (
    ("Dhaka Dragons", "DDR"),
    ("Chattogram Vipers", "CTGV"),
    ("Sylhet Storm", "SYS"),
    ("Khulna Knights", "KHK"),
    ("Rajshahi Royals", "RJR"),
    ("Barishal Blaze", "BBZ"),
    ("Rangpur Rangers", "RGR"),
    ("Cumilla Comets", "CMC"),
)
EFOOTBALL_DUOS = (
    ("Penalty Kings", "PK"),
    ("Golden Boots", "GB"),
    ("Offside Trap", "OFT"),
    ("Counter Press", "CP"),
    ("False Nine", "F9"),
    ("Park The Bus", "PTB"),
    ("Tiki Taka", "TT"),
    ("Long Ball FC", "LBFC"),
)
FIRST_NAMES = (
    "Arif", "Nusrat", "Tanvir", "Farhana", "Rakib", "Sadia", "Imran", "Mehjabin", "Shuvo",
    "Tasnim", "Zubair", "Priya", "Fahim", "Anika", "Rafsan", "Lamia",
)  # fmt: skip
LAST_NAMES = (
    "Rahman", "Hossain", "Chowdhury", "Islam", "Ahmed", "Karim", "Das", "Sarker", "Uddin",
    "Begum", "Talukder", "Mahmud",
)  # fmt: skip
TAG_WORDS = (
    "Shadow", "Blitz", "Nova", "Viper", "Echo", "Rogue", "Falcon", "Storm", "Raven", "Cipher",
    "Titan", "Ghost", "Frost", "Ember", "Pulse", "Striker",
)  # fmt: skip
PAYMENT_METHODS = ("bkash", "nagad", "rocket", "bank", "deltacoin")
PAYMENT_METHOD_WEIGHTS = (40, 25, 10, 10, 15)
ACTIVE_DISPUTE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.UNDER_REVIEW, DisputeStatus.ESCALATED)
DISPUTE_NOTES = {
    DisputeReason.SCORE_MISMATCH: "Both sides reported a different final score.",
    DisputeReason.NO_SHOW: "Opponent did not join the lobby within 15 minutes.",
    DisputeReason.CHEATING: "Suspicious aim patterns in the second half; clip attached.",
    DisputeReason.TECHNICAL_ISSUE: "Server crashed mid-match; asking for a replay.",
    DisputeReason.OTHER: "Lobby settings differed from the tournament rules.",
}

# Scores by game and participation type: goals (eFootball), frags to 15 (VALORANT 1v1 duels),
# maps (VALORANT 5v5, best of three; a round-robin pairing plays two maps, so 1-1 is a draw).
GOALS, FRAGS, MAPS = "goals", "frags", "maps"
FORFEIT_SCORE = {GOALS: 3, FRAGS: 15, MAPS: 2}
MATCH_MINUTES = {GOALS: (12, 20), FRAGS: (5, 12), MAPS: (70, 130)}
DRAW_CHANCE = {GOALS: 0.2, FRAGS: 0.0, MAPS: 0.15}
RANDOM_FORFEIT_CHANCE = 0.03

P1, P2, DRAW = "p1", "p2", "draw"


def _at(year: int, month: int, day: int, hour: int = 14) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class TournamentPlan:
    """One demo tournament. `field_size` registrations play; `extra` ones never do."""

    name: str
    game: str
    season: str | None
    participation_type: ParticipationType
    format: TournamentFormat
    status: TournamentStatus
    starts_at: dt.datetime
    ends_at: dt.datetime
    field_size: int
    entry_fee: Decimal
    days_per_round: int = 1
    ruleset: TiebreakRuleset = TiebreakRuleset.DELTACROWN_5STEP
    legs: int = 1
    rounds_played: int | None = None  # live tournaments: rounds fully played before the current
    current_round_states: tuple[MatchState, ...] = ()
    include_player: bool = False
    player_status: RegistrationStatus = RegistrationStatus.CONFIRMED
    extra: tuple[RegistrationStatus, ...] = ()
    withdrawal_after_round: int | None = None  # one competitor cancels; later games forfeited
    disputes: tuple[tuple[DisputeStatus, DisputeReason], ...] = ()


S, C, T = ParticipationType.SOLO, ParticipationType.TEAM, TournamentStatus
RR = TournamentFormat.ROUND_ROBIN
SE = TournamentFormat.SINGLE_ELIMINATION
DE = TournamentFormat.DOUBLE_ELIMINATION
RS, MS, DS, DR = RegistrationStatus, MatchState, DisputeStatus, DisputeReason

TOURNAMENT_PLANS = (
    TournamentPlan(
        "eFootball Spring Solo League", "efootball", "2026-spring", S, RR, T.COMPLETED,
        _at(2026, 3, 7), _at(2026, 5, 2, 23), 16, Decimal("150.00"), days_per_round=4,
        include_player=True, extra=(RS.CANCELLED, RS.REJECTED), withdrawal_after_round=9,
        disputes=(
            (DS.ESCALATED, DR.CHEATING), (DS.RESOLVED, DR.SCORE_MISMATCH),
            (DS.RESOLVED, DR.NO_SHOW), (DS.DISMISSED, DR.TECHNICAL_ISSUE),
            (DS.DISMISSED, DR.OTHER),
        ),
    ),
    TournamentPlan(
        "eFootball Spring Co-op League", "efootball", "2026-spring", C, RR, T.COMPLETED,
        _at(2026, 3, 14), _at(2026, 5, 18, 23), 8, Decimal("300.00"), days_per_round=5,
        ruleset=TiebreakRuleset.HEAD_TO_HEAD, legs=2,
        disputes=((DS.RESOLVED, DR.TECHNICAL_ISSUE), (DS.ESCALATED, DR.SCORE_MISMATCH)),
    ),
    TournamentPlan(
        "VALORANT Spring Aim Duel Cup", "valorant", "2026-spring", S, SE, T.COMPLETED,
        _at(2026, 4, 11), _at(2026, 4, 14, 23), 16, Decimal("100.00"), include_player=True,
        extra=(RS.CANCELLED, RS.REJECTED), disputes=((DS.DISMISSED, DR.CHEATING),),
    ),
    TournamentPlan(
        "VALORANT Spring Team Championship", "valorant", "2026-spring", C, DE, T.COMPLETED,
        _at(2026, 5, 2), _at(2026, 5, 9, 23), 8, Decimal("1000.00"),
        disputes=((DS.RESOLVED, DR.SCORE_MISMATCH),),
    ),
    TournamentPlan(
        "eFootball Autumn Solo League", "efootball", "2026-autumn", S, RR, T.LIVE,
        _at(2026, 9, 5), _at(2026, 12, 12, 23), 16, Decimal("150.00"), days_per_round=7,
        rounds_played=11,
        current_round_states=(
            MS.COMPLETED, MS.COMPLETED, MS.COMPLETED, MS.LIVE, MS.PENDING_RESULT, MS.DISPUTED,
            MS.DISPUTED, MS.SCHEDULED,
        ),
        include_player=True, extra=(RS.PENDING, RS.CANCELLED),
        disputes=(
            (DS.OPEN, DR.SCORE_MISMATCH), (DS.UNDER_REVIEW, DR.NO_SHOW),
            (DS.RESOLVED, DR.CHEATING), (DS.OPEN, DR.OTHER),
        ),
    ),
    TournamentPlan(
        "VALORANT Autumn Team Cup", "valorant", "2026-autumn", C, SE, T.LIVE,
        _at(2026, 11, 14), _at(2026, 11, 28, 23), 8, Decimal("1000.00"), days_per_round=7,
        rounds_played=1, current_round_states=(MS.PENDING_RESULT, MS.DISPUTED),
        disputes=((DS.UNDER_REVIEW, DR.TECHNICAL_ISSUE),),
    ),
    TournamentPlan(
        "VALORANT Autumn Charity Showdown", "valorant", "2026-autumn", C, RR, T.CANCELLED,
        _at(2026, 10, 10), _at(2026, 10, 22, 23), 6, Decimal("500.00"), days_per_round=3,
        rounds_played=1,
    ),
    TournamentPlan(
        "VALORANT Winter Open Swiss", "valorant", None, S, TournamentFormat.SWISS,
        T.REGISTRATION_OPEN, _at(2026, 12, 5), _at(2026, 12, 6, 23), 6, Decimal("100.00"),
        include_player=True, player_status=RS.PENDING,
        extra=(RS.PENDING, RS.PENDING, RS.PENDING, RS.REJECTED, RS.CANCELLED),
    ),
    TournamentPlan(
        "eFootball New Year Invitational", "efootball", None, S, SE, T.DRAFT,
        _at(2027, 1, 16), _at(2027, 1, 18, 23), 8, Decimal("0.00"), include_player=True,
    ),
    TournamentPlan(
        "DeltaCrown All-Stars Exhibition", "efootball", None, S, RR, T.COMPLETED,
        _at(2025, 12, 13), _at(2025, 12, 19, 23), 8, Decimal("0.00"), include_player=True,
    ),
)  # fmt: skip
DEMO_TOURNAMENT_NAMES = tuple(plan.name for plan in TOURNAMENT_PLANS)
DEMO_TEAM_NAMES = tuple(name for name, _ in VALORANT_TEAMS + EFOOTBALL_DUOS)
# The tournaments the printed examples point at.
EXAMPLE_TOURNAMENT_NAME = "eFootball Spring Solo League"
EXAMPLE_SEASON_SLUG = "2026-spring"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What exists after seeding: ids and keys for the printed examples, counts per status."""

    created: bool
    flags_turned_on: tuple[str, ...]
    staff_id: int
    staff_token: str
    player_id: int
    player_token: str
    example_tournament_id: int
    season_slug: str
    tournaments: tuple[tuple[int, str, str, str, str], ...]  # id, status, type, format, name
    counts: dict[str, dict[str, int]]


@dataclass(slots=True)
class _MatchDraft:
    round: int
    number: int
    participant1: Registration
    participant2: Registration
    state: MatchState = MatchState.SCHEDULED
    score1: int = 0
    score2: int = 0
    winner: Registration | None = None
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    disputes: list[tuple[DisputeStatus, DisputeReason]] = field(default_factory=list)


def demo_data_exists() -> bool:
    return Tournament.objects.filter(name__in=DEMO_TOURNAMENT_NAMES).exists()


def build_demo_data(*, reset: bool = False) -> DemoSummary:
    """Create the data set (after removing the old one when `reset`), turn the flags on.

    When the data set exists and `reset` is false, nothing is written: the summary describes what
    is there. Runs in its own transaction.
    """
    with transaction.atomic():
        if demo_data_exists() and not reset:
            return describe_demo_data(created=False, flags_turned_on=())
        if reset:
            remove_demo_data()
        builder = _DemoBuilder(random.Random(DEMO_RANDOM_SEED))  # noqa: S311 - demo data, no secret
        builder.build()
        turned_on = enable_leaderboard_flags(builder.staff)
    return describe_demo_data(created=True, flags_turned_on=tuple(turned_on))


def remove_demo_data() -> None:
    """Delete the demo tournaments (with their rows), teams and users; nothing else."""
    with transaction.atomic():
        tournaments = Tournament.objects.filter(name__in=DEMO_TOURNAMENT_NAMES)
        # Matches first: they PROTECT the registrations the tournament cascade would delete.
        Match.objects.filter(tournament__in=tournaments).delete()
        tournaments.delete()
        Team.objects.filter(name__in=DEMO_TEAM_NAMES).delete()
        User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").delete()


def enable_leaderboard_flags(actor: User | None) -> list[str]:
    """Turn the three leaderboard flags on at 100 % with ORM saves (audited); return the changed."""
    turned_on: list[str] = []
    for name in FlagName:
        flag, _ = FeatureFlag.objects.get_or_create(name=name.value)
        if flag.is_enabled and flag.rollout_percent == 100:
            continue
        flag.is_enabled = True
        flag.rollout_percent = 100
        flag.updated_by = actor
        flag.save()
        turned_on.append(name.value)
    return turned_on


def describe_demo_data(*, created: bool, flags_turned_on: tuple[str, ...]) -> DemoSummary:
    staff = User.objects.get(username=STAFF_USERNAME)
    player = User.objects.get(username=PLAYER_USERNAME)
    tournaments = Tournament.objects.filter(name__in=DEMO_TOURNAMENT_NAMES).order_by("id")
    example = tournaments.get(name=EXAMPLE_TOURNAMENT_NAME)
    registrations = Registration.objects.filter(tournament__in=tournaments)
    matches = Match.objects.filter(tournament__in=tournaments)
    return DemoSummary(
        created=created,
        flags_turned_on=flags_turned_on,
        staff_id=staff.pk,
        staff_token=Token.objects.get_or_create(user=staff)[0].key,
        player_id=player.pk,
        player_token=Token.objects.get_or_create(user=player)[0].key,
        example_tournament_id=example.pk,
        season_slug=EXAMPLE_SEASON_SLUG,
        tournaments=tuple(
            tournaments.values_list("id", "status", "participation_type", "format", "name")
        ),
        counts={
            "tournaments": _breakdown(tournaments, "status"),
            "registrations": _breakdown(registrations, "status"),
            "matches": _breakdown(matches, "state")
            | {"draws": matches.filter(state=MatchState.COMPLETED, winner__isnull=True).count()},
            "disputes": _breakdown(Dispute.objects.filter(match__in=matches), "status"),
            "dispute_reasons": _breakdown(Dispute.objects.filter(match__in=matches), "reason"),
            "payments": _breakdown(
                Payment.objects.filter(registration__in=registrations), "status"
            ),
            "payment_methods": _breakdown(
                Payment.objects.filter(registration__in=registrations), "method"
            ),
            "people": {
                "users": User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").count(),
                "teams": Team.objects.filter(name__in=DEMO_TEAM_NAMES).count(),
            },
        },
    )


def _breakdown(queryset: QuerySet[Any], field_name: str) -> dict[str, int]:
    rows = queryset.order_by().values(field_name).annotate(n=Count("id")).order_by(field_name)
    counts = {str(row[field_name]): int(row["n"]) for row in rows}
    return {"total": sum(counts.values()), **counts}


def _round_robin_rounds(
    competitors: Sequence[Registration], legs: int
) -> list[list[tuple[Registration, Registration]]]:
    """The circle method: every pair meets once per leg; sides swap between legs."""
    slots: list[Registration | None] = list(competitors)
    if len(slots) % 2:
        slots.append(None)
    rounds: list[list[tuple[Registration, Registration]]] = []
    for round_index in range(len(slots) - 1):
        pairs = []
        for index in range(len(slots) // 2):
            first, second = slots[index], slots[-1 - index]
            if first is not None and second is not None:
                pairs.append((first, second) if round_index % 2 == 0 else (second, first))
        rounds.append(pairs)
        slots = [slots[0], slots[-1], *slots[1:-1]]
    second_legs = [[(away, home) for home, away in pairs] for pairs in rounds]
    return rounds + (second_legs if legs == 2 else [])


def _bracket_order(size: int) -> list[int]:
    """Seed numbers in bracket order (1 meets N, and 1 and 2 can only meet in the final)."""
    order = [1]
    while len(order) < size:
        mirror = len(order) * 2 + 1
        order = [seed for top in order for seed in (top, mirror - top)]
    return order


def _pairs(items: Sequence[Registration]) -> list[tuple[Registration, Registration]]:
    return [(items[index], items[index + 1]) for index in range(0, len(items) - 1, 2)]


class _DemoBuilder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.staff: User
        self.player: User
        self.players: list[User] = []
        self.valorant_teams: list[Team] = []
        self.efootball_duos: list[Team] = []
        # Keyed by (is_team, id): user and team ids come from different sequences and can clash.
        self.skill: dict[tuple[bool, int], float] = {}
        self.pending_payments_seen = 0

    # --- people -----------------------------------------------------------------------------
    def build(self) -> None:
        for slug, name in GAMES.items():
            Game.objects.update_or_create(slug=slug, defaults={"name": name})
        for slug, (name, starts_on, ends_on) in SEASONS.items():
            Season.objects.update_or_create(
                slug=slug, defaults={"name": name, "starts_on": starts_on, "ends_on": ends_on}
            )
        self._create_people()
        for plan in TOURNAMENT_PLANS:
            self._create_tournament(plan)

    def _demo_user(self, username: str, **fields: object) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@{DEMO_EMAIL_DOMAIN}", **fields}
        )
        if created:
            if username in (STAFF_USERNAME, PLAYER_USERNAME):
                user.set_password(DEMO_PASSWORD)
            else:
                user.set_unusable_password()
            user.save()
        return user

    def _create_people(self) -> None:
        self.staff = self._demo_user(
            STAFF_USERNAME, display_name="DeltaCrown Staff", is_staff=True, is_superuser=True
        )
        self.player = self._demo_user(
            PLAYER_USERNAME, display_name="Demo Player", first_name="Demo", last_name="Player"
        )
        tags = [f"{word}{suffix}" for suffix in ("", "X", "99") for word in TAG_WORDS]
        self.rng.shuffle(tags)
        for index in range(DEMO_PLAYER_COUNT):
            self.players.append(
                self._demo_user(
                    f"{tags[index].lower()}{index + 1:02d}",
                    display_name=tags[index],
                    first_name=self.rng.choice(FIRST_NAMES),
                    last_name=self.rng.choice(LAST_NAMES),
                )
            )
        everyone = [self.player, *self.players]
        for index, (name, tag) in enumerate(VALORANT_TEAMS):
            members = everyone[index * 5 : index * 5 + 5]
            self.valorant_teams.append(self._team(name, tag, members))
        for index, (name, tag) in enumerate(EFOOTBALL_DUOS):
            members = self.players[24 + index * 2 : 26 + index * 2]
            self.efootball_duos.append(self._team(name, tag, members))
        for user in sorted(everyone, key=lambda each: each.pk):
            self.skill[(False, user.pk)] = self.rng.gauss(0.0, 1.0)
        for team in sorted(self.valorant_teams + self.efootball_duos, key=lambda each: each.pk):
            self.skill[(True, team.pk)] = self.rng.gauss(0.0, 1.0)

    def _skill(self, registration: Registration) -> float:
        if registration.team_id is not None:
            return self.skill[(True, registration.team_id)]
        assert registration.user_id is not None
        return self.skill[(False, registration.user_id)]

    @staticmethod
    def _team(name: str, tag: str, members: list[User]) -> Team:
        team = Team.objects.create(name=name, tag=tag)
        team.members.set(members)
        return team

    # --- tournaments --------------------------------------------------------------------------
    def _create_tournament(self, plan: TournamentPlan) -> None:
        tournament = Tournament.objects.create(
            name=plan.name,
            game=Game.objects.get(slug=plan.game),
            season=Season.objects.get(slug=plan.season) if plan.season else None,
            participation_type=plan.participation_type,
            format=plan.format,
            status=plan.status,
            starts_at=plan.starts_at,
            ends_at=plan.ends_at,
            tiebreak_ruleset=plan.ruleset,
        )
        field_entries, extra_entries = self._choose_entries(plan)
        field = [
            self._register(tournament, plan, entry, self._status_of(plan, entry))
            for entry in field_entries
        ]
        for entry, status in zip(extra_entries, plan.extra, strict=True):
            self._register(tournament, plan, entry, status)
        players = [registration for registration in field if registration.status == RS.CONFIRMED]
        for seed, registration in enumerate(
            sorted(players, key=lambda each: -self._skill(each)), start=1
        ):
            registration.seed = seed
            registration.save(update_fields=["seed"])
        drafts = self._schedule(plan, players)
        self._add_disputes(plan, drafts)
        self._save_matches(tournament, plan, drafts)

    def _status_of(self, plan: TournamentPlan, entry: User | Team) -> RegistrationStatus:
        return plan.player_status if entry == self.player else RS.CONFIRMED

    def _choose_entries(self, plan: TournamentPlan) -> tuple[list[User | Team], list[User | Team]]:
        wanted = plan.field_size + len(plan.extra)
        pool: list[User | Team]
        if plan.participation_type == ParticipationType.TEAM:
            pool = list(self.valorant_teams if plan.game == "valorant" else self.efootball_duos)
            chosen = self.rng.sample(pool, min(wanted, len(pool)))
        else:
            pool = list(self.players)
            chosen = self.rng.sample(pool, wanted)
            if plan.include_player:
                chosen[self.rng.randrange(plan.field_size)] = self.player
        return chosen[: plan.field_size], chosen[plan.field_size :]

    def _register(
        self,
        tournament: Tournament,
        plan: TournamentPlan,
        entry: User | Team,
        status: RegistrationStatus,
    ) -> Registration:
        registered_at = plan.starts_at - dt.timedelta(
            days=self.rng.randint(2, 20), minutes=self.rng.randint(0, 600)
        )
        registration = Registration.objects.create(
            tournament=tournament,
            user=entry if isinstance(entry, User) else None,
            team=entry if isinstance(entry, Team) else None,
            status=status,
            registered_at=registered_at,
        )
        if isinstance(entry, Team):
            registration.roster.set(entry.members.all())
        self._create_payments(plan, registration)
        return registration

    def _create_payments(self, plan: TournamentPlan, registration: Registration) -> None:
        if plan.entry_fee <= 0:
            return
        if plan.status == TournamentStatus.CANCELLED or registration.status == RS.CANCELLED:
            statuses = [PaymentStatus.REFUNDED]
        elif registration.status == RS.REJECTED:
            statuses = [PaymentStatus.REJECTED]
        elif registration.status == RS.PENDING:
            # Alternate, so both "not paid yet" and "paid, awaiting review" always exist.
            self.pending_payments_seen += 1
            submitted = self.pending_payments_seen % 2 == 0
            statuses = [PaymentStatus.SUBMITTED if submitted else PaymentStatus.PENDING]
        elif self.rng.random() < 0.12:
            statuses = [PaymentStatus.REJECTED, PaymentStatus.VERIFIED]  # paid again after a typo
        else:
            statuses = [PaymentStatus.VERIFIED]
        submitted_at = registration.registered_at + dt.timedelta(minutes=self.rng.randint(5, 90))
        for status in statuses:
            method = self.rng.choices(PAYMENT_METHODS, weights=PAYMENT_METHOD_WEIGHTS)[0]
            reference = "".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=10))
            was_submitted = status != PaymentStatus.PENDING
            was_reviewed = status in (
                PaymentStatus.VERIFIED,
                PaymentStatus.REJECTED,
                PaymentStatus.REFUNDED,
            )
            reviewed_at = submitted_at + dt.timedelta(hours=self.rng.randint(1, 30))
            Payment.objects.create(
                registration=registration,
                amount=plan.entry_fee,
                method=method,
                status=status,
                transaction_reference=f"{method[:3].upper()}-{reference}" if was_submitted else "",
                proof_file=(
                    f"payment_proofs/demo/{reference.lower()}.png"
                    if was_submitted and method != "deltacoin"
                    else ""
                ),
                submitted_at=submitted_at if was_submitted else None,
                verified_at=reviewed_at if was_reviewed else None,
                verified_by=self.staff if was_reviewed else None,
            )
            submitted_at = reviewed_at + dt.timedelta(hours=self.rng.randint(1, 12))

    # --- matches ------------------------------------------------------------------------------
    def _schedule(self, plan: TournamentPlan, players: list[Registration]) -> list[_MatchDraft]:
        if plan.format == TournamentFormat.ROUND_ROBIN:
            return self._round_robin(plan, players)
        if plan.format == TournamentFormat.DOUBLE_ELIMINATION:
            return self._double_elimination(plan, players)
        if plan.format == TournamentFormat.SINGLE_ELIMINATION:
            return self._single_elimination(plan, players)
        return []  # swiss: registration is still open, no round is drawn yet

    def _style(self, plan: TournamentPlan) -> str:
        if plan.game == "efootball":
            return GOALS
        return MAPS if plan.participation_type == ParticipationType.TEAM else FRAGS

    def _round_robin(self, plan: TournamentPlan, players: list[Registration]) -> list[_MatchDraft]:
        ordered = sorted(players, key=lambda registration: registration.pk)
        self.rng.shuffle(ordered)
        withdrawn = None
        if plan.withdrawal_after_round is not None:
            withdrawn = next(each for each in ordered if each.user_id != self.player.pk)
        drafts: list[_MatchDraft] = []
        rounds = _round_robin_rounds(ordered, plan.legs)
        played = len(rounds) if plan.rounds_played is None else plan.rounds_played
        for round_number, pairs in enumerate(rounds, start=1):
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            for number, (first, second) in enumerate(pairs, start=1):
                draft = self._draft(round_number, number, first, second, day)
                has_withdrawn = withdrawn in (first, second) and round_number > (
                    plan.withdrawal_after_round or 0
                )
                if round_number <= played and has_withdrawn:
                    self._forfeit(draft, plan, second if first == withdrawn else first)
                elif round_number <= played:
                    self._play(draft, plan, allow_draw=True)
                elif round_number == played + 1 and plan.status == TournamentStatus.LIVE:
                    states = plan.current_round_states
                    self._set_live_state(
                        draft, plan, states[number - 1] if number <= len(states) else MS.SCHEDULED
                    )
                elif plan.status == TournamentStatus.CANCELLED:
                    draft.state = MatchState.CANCELLED
                drafts.append(draft)
        if withdrawn is not None:
            withdrawn.status = RS.CANCELLED
            withdrawn.save(update_fields=["status"])
        return drafts

    def _single_elimination(
        self, plan: TournamentPlan, players: list[Registration]
    ) -> list[_MatchDraft]:
        by_seed = {registration.seed: registration for registration in players}
        alive = [by_seed[seed] for seed in _bracket_order(len(players))]
        drafts: list[_MatchDraft] = []
        round_number = 0
        while len(alive) > 1:
            round_number += 1
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            round_drafts = [
                self._draft(round_number, number, first, second, day)
                for number, (first, second) in enumerate(_pairs(alive), start=1)
            ]
            drafts.extend(round_drafts)
            if plan.status == TournamentStatus.DRAFT:
                break
            if plan.rounds_played is not None and round_number > plan.rounds_played:
                states = plan.current_round_states
                for index, draft in enumerate(round_drafts):
                    self._set_live_state(
                        draft, plan, states[index] if index < len(states) else MS.SCHEDULED
                    )
                break
            alive = [self._decide(draft, plan) for draft in round_drafts]
        return drafts

    def _double_elimination(
        self, plan: TournamentPlan, players: list[Registration]
    ) -> list[_MatchDraft]:
        """Winners' bracket, losers' bracket fed by each winners' round, then a grand final."""
        by_seed = {registration.seed: registration for registration in players}
        drafts: list[_MatchDraft] = []
        round_number = 0

        def play_round(pairs: Iterable[tuple[Registration, Registration]]) -> list[_MatchDraft]:
            nonlocal round_number
            round_number += 1
            day = plan.starts_at + dt.timedelta(days=(round_number - 1) * plan.days_per_round)
            played = [
                self._draft(round_number, number, first, second, day)
                for number, (first, second) in enumerate(pairs, start=1)
            ]
            for draft in played:
                self._decide(draft, plan)
            drafts.extend(played)
            return played

        def winners(played: list[_MatchDraft]) -> list[Registration]:
            return [draft.winner for draft in played if draft.winner is not None]

        def losers(played: list[_MatchDraft]) -> list[Registration]:
            return [
                draft.participant2 if draft.winner == draft.participant1 else draft.participant1
                for draft in played
            ]

        opening = play_round(_pairs([by_seed[seed] for seed in _bracket_order(len(players))]))
        upper = winners(opening)
        lower = winners(play_round(_pairs(losers(opening))))
        while len(upper) > 1:
            upper_round = play_round(_pairs(upper))
            upper = winners(upper_round)
            lower = winners(play_round(zip(lower, losers(upper_round), strict=True)))
            if len(lower) > 1 and len(upper) > 1:
                lower = winners(play_round(_pairs(lower)))
        play_round([(upper[0], lower[0])])
        return drafts

    def _draft(
        self,
        round_number: int,
        number: int,
        first: Registration,
        second: Registration,
        day: dt.datetime,
    ) -> _MatchDraft:
        return _MatchDraft(
            round=round_number,
            number=number,
            participant1=first,
            participant2=second,
            scheduled_at=day + dt.timedelta(minutes=40 * (number - 1)),
        )

    def _outcome(self, draft: _MatchDraft, plan: TournamentPlan, allow_draw: bool) -> str:
        if allow_draw and self.rng.random() < DRAW_CHANCE[self._style(plan)]:
            return DRAW
        gap = self._skill(draft.participant1) - self._skill(draft.participant2)
        return P1 if self.rng.random() < 1 / (1 + math.exp(-1.2 * gap)) else P2

    def _scores(self, plan: TournamentPlan, outcome: str) -> tuple[int, int]:
        style = self._style(plan)
        if outcome == DRAW:
            level = self.rng.randint(0, 3) if style == GOALS else 1
            return level, level
        if style == GOALS:
            high = self.rng.randint(1, 5)
            low = self.rng.randint(0, high - 1)
        elif style == FRAGS:
            high, low = 15, self.rng.randint(4, 14)
        else:
            high, low = 2, self.rng.choice((0, 1))
        return (high, low) if outcome == P1 else (low, high)

    def _timestamps(self, draft: _MatchDraft, plan: TournamentPlan, finished: bool) -> None:
        assert draft.scheduled_at is not None
        shortest, longest = MATCH_MINUTES[self._style(plan)]
        draft.started_at = draft.scheduled_at + dt.timedelta(minutes=self.rng.randint(0, 10))
        if finished:
            draft.completed_at = draft.started_at + dt.timedelta(
                minutes=self.rng.randint(shortest, longest)
            )

    def _play(self, draft: _MatchDraft, plan: TournamentPlan, allow_draw: bool) -> None:
        if self.rng.random() < RANDOM_FORFEIT_CHANCE:
            winner = draft.participant1 if self.rng.random() < 0.5 else draft.participant2
            self._forfeit(draft, plan, winner)
            return
        outcome = self._outcome(draft, plan, allow_draw)
        draft.state = MatchState.COMPLETED
        draft.score1, draft.score2 = self._scores(plan, outcome)
        draft.winner = {P1: draft.participant1, P2: draft.participant2, DRAW: None}[outcome]
        self._timestamps(draft, plan, finished=True)

    def _decide(self, draft: _MatchDraft, plan: TournamentPlan) -> Registration:
        """Play an elimination match (no draws) and return who goes through."""
        self._play(draft, plan, allow_draw=False)
        assert draft.winner is not None
        return draft.winner

    def _forfeit(self, draft: _MatchDraft, plan: TournamentPlan, winner: Registration) -> None:
        walkover = FORFEIT_SCORE[self._style(plan)]
        draft.state = MatchState.FORFEIT
        draft.winner = winner
        draft.score1, draft.score2 = (
            (walkover, 0) if winner == draft.participant1 else (0, walkover)
        )
        draft.started_at = draft.scheduled_at
        assert draft.scheduled_at is not None
        draft.completed_at = draft.scheduled_at + dt.timedelta(minutes=15)

    def _set_live_state(self, draft: _MatchDraft, plan: TournamentPlan, state: MatchState) -> None:
        if state in COUNTED_MATCH_STATES:
            self._play(draft, plan, allow_draw=plan.format == TournamentFormat.ROUND_ROBIN)
            return
        draft.state = state
        if state == MatchState.LIVE:
            self._timestamps(draft, plan, finished=False)
            draft.score1, draft.score2 = self._scores(plan, DRAW)
        elif state in (MatchState.PENDING_RESULT, MatchState.DISPUTED):
            self._timestamps(draft, plan, finished=False)
            draft.score1, draft.score2 = self._scores(plan, self._outcome(draft, plan, False))

    def _add_disputes(self, plan: TournamentPlan, drafts: list[_MatchDraft]) -> None:
        """Attach the plan's disputes: active ones to disputed matches, closed ones to results."""
        for status, reason in plan.disputes:
            if status in ACTIVE_DISPUTE_STATUSES:
                candidates = [d for d in drafts if d.state == MS.DISPUTED and not d.disputes]
                if not candidates:
                    candidates = [d for d in drafts if d.state == MS.COMPLETED and not d.disputes]
                    target = self.rng.choice(candidates)
                    target.state, target.winner, target.completed_at = MS.DISPUTED, None, None
                else:
                    target = candidates[0]
            else:
                wanted = MS.FORFEIT if reason == DR.NO_SHOW else MS.COMPLETED
                candidates = [d for d in drafts if d.state == wanted and not d.disputes]
                target = self.rng.choice(candidates)
            target.disputes.append((status, reason))

    def _save_matches(
        self, tournament: Tournament, plan: TournamentPlan, drafts: list[_MatchDraft]
    ) -> None:
        for draft in drafts:
            match = Match(
                tournament=tournament,
                round=draft.round,
                match_number=draft.number,
                participant1=draft.participant1,
                participant2=draft.participant2,
                score1=draft.score1,
                score2=draft.score2,
                winner=draft.winner,
                state=draft.state,
                scheduled_at=draft.scheduled_at,
                started_at=draft.started_at,
                completed_at=draft.completed_at,
            )
            match.save()
            for status, reason in draft.disputes:
                self._create_dispute(match, status, reason)

    def _create_dispute(self, match: Match, status: DisputeStatus, reason: DisputeReason) -> None:
        played_at = match.completed_at or match.started_at or match.scheduled_at
        assert played_at is not None
        opened_at = played_at + dt.timedelta(minutes=self.rng.randint(10, 90))
        is_closed = status in (DisputeStatus.RESOLVED, DisputeStatus.DISMISSED)
        if match.winner_id is not None:
            opened_by = (
                match.participant2
                if match.winner_id == match.participant1_id
                else match.participant1
            )
        else:
            opened_by = self.rng.choice((match.participant1, match.participant2))
        Dispute.objects.create(
            match=match,
            opened_by=opened_by,
            reason=reason,
            status=status,
            evidence=f"dispute_evidence/demo/match-{match.pk}.mp4" if reason != DR.OTHER else "",
            notes=DISPUTE_NOTES[reason],
            opened_at=opened_at,
            resolved_at=opened_at + dt.timedelta(hours=self.rng.randint(2, 48))
            if is_closed
            else None,
            resolved_by=self.staff if is_closed else None,
        )
