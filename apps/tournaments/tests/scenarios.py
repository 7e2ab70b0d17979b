"""Hand-worked data sets shared by the engine tests. Expected values are written in the tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apps.common.models import User
from apps.tournaments.models import (
    Match,
    MatchState,
    Registration,
    RegistrationStatus,
    Tournament,
)
from apps.tournaments.tests.factories import (
    BASE_TIME,
    MatchFactory,
    RegistrationFactory,
    TournamentFactory,
    UserFactory,
)


def at(minutes: int) -> dt.datetime:
    return BASE_TIME + dt.timedelta(minutes=minutes)


@dataclass
class SoloCup:
    tournament: Tournament
    users: dict[str, User]
    registrations: dict[str, Registration]
    matches: dict[str, Match]


def build_solo_cup(**tournament_fields: object) -> SoloCup:
    """Six players; E's registration is cancelled after playing; F never plays.

    m1 A beats B 2-1; m2 A draws C 1-1; m3 B beats C by forfeit 0-3; m4 D-A disputed 5-0;
    m5 C beats E 2-0; m6 D-B scheduled.
    """
    tournament = TournamentFactory(**tournament_fields)
    users = {name: UserFactory(username=f"cup{tournament.pk}-{name}") for name in "ABCDEF"}
    registrations = {
        name: RegistrationFactory(tournament=tournament, user=user) for name, user in users.items()
    }
    r = registrations
    matches = {
        "m1": MatchFactory(
            participant1=r["A"],
            participant2=r["B"],
            score1=2,
            score2=1,
            winner=r["A"],
            completed_at=at(1),
        ),
        "m2": MatchFactory(
            participant1=r["A"],
            participant2=r["C"],
            score1=1,
            score2=1,
            winner=None,
            completed_at=at(2),
        ),
        "m3": MatchFactory(
            participant1=r["B"],
            participant2=r["C"],
            score1=0,
            score2=3,
            winner=r["B"],
            state=MatchState.FORFEIT,
            completed_at=at(3),
        ),
        "m4": MatchFactory(
            participant1=r["D"],
            participant2=r["A"],
            score1=5,
            score2=0,
            winner=None,
            state=MatchState.DISPUTED,
            completed_at=None,
        ),
        "m5": MatchFactory(
            participant1=r["C"],
            participant2=r["E"],
            score1=2,
            score2=0,
            winner=r["C"],
            completed_at=at(4),
        ),
        "m6": MatchFactory(
            participant1=r["D"],
            participant2=r["B"],
            state=MatchState.SCHEDULED,
            completed_at=None,
        ),
    }
    r["E"].status = RegistrationStatus.CANCELLED
    r["E"].save()
    return SoloCup(tournament, users, registrations, matches)


def build_round_robin(size: int, **tournament_fields: object) -> Tournament:
    """`size` players, every pair plays once; the lower seat wins, every fifth match a draw."""
    tournament = TournamentFactory(**tournament_fields)
    registrations = [
        RegistrationFactory(
            tournament=tournament, user=UserFactory(username=f"rr{tournament.pk}-{n}")
        )
        for n in range(size)
    ]
    number = 0
    for i, first in enumerate(registrations):
        for second in registrations[i + 1 :]:
            number += 1
            draw = number % 5 == 0
            MatchFactory(
                participant1=first,
                participant2=second,
                score1=1 if draw else 2,
                score2=1 if draw else 0,
                winner=None if draw else first,
                completed_at=at(number),
            )
    return tournament
