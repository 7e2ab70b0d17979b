"""factory_boy factories for the tournament models. Registrations default to confirmed."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from apps.common.models import User
from apps.tournaments.models import (
    Dispute,
    Game,
    Match,
    MatchState,
    ParticipationType,
    Payment,
    Registration,
    RegistrationStatus,
    Season,
    Team,
    Tournament,
    TournamentStatus,
)

BASE_TIME = dt.datetime(2031, 6, 1, 10, 0, tzinfo=dt.UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"player{n}")
    display_name = factory.LazyAttribute(lambda user: f"Display {user.username}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")


class GameFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Game
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"game-{n}")
    name = factory.LazyAttribute(lambda game: game.slug.title())


class SeasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Season
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"2031-season-{n}")
    name = factory.LazyAttribute(lambda season: season.slug)


class TournamentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tournament

    name = factory.Sequence(lambda n: f"Cup {n}")
    game = factory.SubFactory(GameFactory)
    season = None
    participation_type = ParticipationType.SOLO
    status = TournamentStatus.LIVE
    starts_at = BASE_TIME


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    tag = factory.Sequence(lambda n: f"T{n}")

    @factory.post_generation
    def members(self, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            self.members.set(extracted)


class RegistrationFactory(factory.django.DjangoModelFactory):
    """A confirmed solo registration (pass `team=` and `user=None` for a team tournament)."""

    class Meta:
        model = Registration
        skip_postgeneration_save = True

    tournament = factory.SubFactory(TournamentFactory)
    user = factory.SubFactory(UserFactory)
    team = None
    status = RegistrationStatus.CONFIRMED
    registered_at = BASE_TIME

    @factory.post_generation
    def roster(self, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if not create:
            return
        if extracted is not None:
            self.roster.set(extracted)
        elif self.team_id is not None:
            self.roster.set(self.team.members.all())


class MatchFactory(factory.django.DjangoModelFactory):
    """A completed match; give `participant1`, `participant2` and `winner` (None = draw)."""

    class Meta:
        model = Match

    tournament = factory.LazyAttribute(lambda match: match.participant1.tournament)
    participant1 = factory.SubFactory(RegistrationFactory)
    participant2 = factory.SubFactory(
        RegistrationFactory, tournament=factory.SelfAttribute("..participant1.tournament")
    )
    state = MatchState.COMPLETED
    winner = None
    completed_at = factory.Sequence(lambda n: BASE_TIME + dt.timedelta(minutes=n))


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    registration = factory.SubFactory(RegistrationFactory)
    amount = "10.00"
    method = "bkash"
    transaction_reference = factory.Sequence(lambda n: f"TX-SECRET-{n}")


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    match = factory.SubFactory(MatchFactory)
    opened_at = factory.LazyFunction(timezone.now)
