"""The demo data builder: people, teams, tournaments, registrations and their payments.

One `_DemoBuilder` builds the whole set from one random generator; the matches come from
`matches._MatchBuilder`, which it extends.
"""

from __future__ import annotations

import datetime as dt
import random

from apps.common.models import User
from apps.tournaments.models import (
    Game,
    ParticipationType,
    Payment,
    PaymentStatus,
    Registration,
    RegistrationStatus,
    Season,
    Team,
    Tournament,
    TournamentStatus,
)
from apps.tournaments.services.demo_data.matches import _MatchBuilder
from apps.tournaments.services.demo_data.plans import (
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    DEMO_PLAYER_COUNT,
    EFOOTBALL_DUOS,
    FIRST_NAMES,
    GAMES,
    LAST_NAMES,
    PAYMENT_METHOD_WEIGHTS,
    PAYMENT_METHODS,
    PLAYER_USERNAME,
    RS,
    SEASONS,
    STAFF_USERNAME,
    TAG_WORDS,
    TOURNAMENT_PLANS,
    VALORANT_TEAMS,
    TournamentPlan,
)


class _DemoBuilder(_MatchBuilder):
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
        for registration, written_seed in zip(players, plan.seeds, strict=False):
            registration.seed = written_seed
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
