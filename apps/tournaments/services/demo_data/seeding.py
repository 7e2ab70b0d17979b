"""Build, describe and remove the demo data set; the entry points `seed_demo` calls."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from rest_framework.authtoken.models import Token

from apps.common.flag_changes import set_flag
from apps.common.models import FeatureFlag, FlagName, User
from apps.tournaments.events import announcements_batched
from apps.tournaments.models import (
    Dispute,
    Match,
    MatchState,
    Payment,
    Registration,
    Team,
    Tournament,
)
from apps.tournaments.services.demo_data.builder import _DemoBuilder
from apps.tournaments.services.demo_data.plans import (
    DEMO_EMAIL_DOMAIN,
    DEMO_RANDOM_SEED,
    DEMO_TEAM_NAMES,
    DEMO_TOURNAMENT_NAMES,
    EXAMPLE_SEASON_SLUG,
    EXAMPLE_TOURNAMENT_NAME,
    PLAYER_USERNAME,
    STAFF_USERNAME,
)


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


def demo_data_exists() -> bool:
    return Tournament.objects.filter(name__in=DEMO_TOURNAMENT_NAMES).exists()


def build_demo_data(*, reset: bool = False) -> DemoSummary:
    """Create the data set (after removing the old one when `reset`), turn the flags on.

    When the data set exists and `reset` is false, nothing is written: the summary describes what
    is there. Runs in its own transaction.
    """
    with transaction.atomic(), announcements_batched():
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
    """Turn the three leaderboard flags on at 100 % (audited, credited to `actor`); return the
    names of those that changed."""
    stored = {
        flag.name: (flag.is_enabled, flag.rollout_percent)
        for flag in FeatureFlag.objects.filter(name__in=FlagName)
    }
    turned_on: list[str] = []
    for name in FlagName:
        if stored.get(name.value) == (True, 100):
            continue
        set_flag(
            name.value, actor_id=actor.pk if actor else None, is_enabled=True, rollout_percent=100
        )
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
