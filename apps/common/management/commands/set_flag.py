"""`manage.py set_flag NAME (--on | --off) [--rollout PERCENT] [--actor USERNAME]`.

Turns one of the leaderboard flags on or off (and sets its rollout) through
`apps.common.flag_changes.set_flag`: the change is audited (actor: the user named by --actor,
else none) and every process reads it within 5 seconds. An unknown flag name, a rollout outside
0-100 or an unknown actor is refused before anything is written (exit status 1).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.common.flag_changes import flag_snapshot, set_flag
from apps.common.flags import env_override
from apps.common.models import FeatureFlag, FlagName, User


def describe(snapshot: dict[str, Any] | None) -> str:
    """ "on at 25 %", "off at 100 %", or "absent" for a flag without a row."""
    if snapshot is None:
        return "absent"
    return f"{'on' if snapshot['is_enabled'] else 'off'} at {snapshot['rollout_percent']} %"


class Command(BaseCommand):
    help = (
        "Turn a leaderboard feature flag on or off, optionally with a rollout percentage; the "
        "change is audited and reaches every process within 5 seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "name", metavar="NAME", help=f"one of {', '.join(name.value for name in FlagName)}"
        )
        switch = parser.add_mutually_exclusive_group(required=True)
        switch.add_argument(
            "--on", dest="is_enabled", action="store_true", default=None, help="turn it on"
        )
        switch.add_argument(
            "--off", dest="is_enabled", action="store_false", default=None, help="turn it off"
        )
        parser.add_argument(
            "--rollout",
            type=int,
            metavar="PERCENT",
            help="share of users (0-100) the flag is on for; left as it is when not given",
        )
        parser.add_argument(
            "--actor", metavar="USERNAME", help="the user the audit record names (default: none)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        if name not in {flag.value for flag in FlagName}:
            known = ", ".join(flag.value for flag in FlagName)
            raise CommandError(f"unknown flag {name!r} (one of {known}); nothing was written")
        rollout: int | None = options["rollout"]
        if rollout is not None and not 0 <= rollout <= 100:
            raise CommandError(
                f"--rollout must be between 0 and 100, not {rollout}; nothing was written"
            )
        actor = self._actor(options["actor"])

        changes: dict[str, Any] = {"is_enabled": options["is_enabled"]}
        if rollout is not None:
            changes["rollout_percent"] = rollout
        try:
            with transaction.atomic():
                # Locked, so "was" is the state this change replaced.
                stored = FeatureFlag.objects.select_for_update().filter(name=name).first()
                before = flag_snapshot(stored)
                flag = set_flag(name, actor_id=actor.pk if actor else None, **changes)
        except ValidationError as error:
            raise CommandError(
                f"{name}: {'; '.join(error.messages)}; nothing was written"
            ) from error
        after = flag_snapshot(flag)

        if after == before:
            self.stdout.write(f"{name}: {describe(after)} (unchanged; nothing recorded)")
        else:
            by = f"{actor.username} (id {actor.pk})" if actor else "no user"
            self.stdout.write(
                f"{name}: {describe(after)} (was {describe(before)}; recorded as changed by {by}; "
                "every process reads it within 5 seconds)"
            )
        override = env_override(name)
        if override is not None:
            self.stdout.write(
                self.style.WARNING(
                    f"Note: {name}={'true' if override else 'false'} in this environment; where "
                    "it is set, that variable decides, not the database."
                )
            )

    @staticmethod
    def _actor(username: str | None) -> User | None:
        if username is None:
            return None
        actor = User.objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"no user named {username!r}; nothing was written")
        return actor
