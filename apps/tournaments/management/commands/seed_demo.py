"""`manage.py seed_demo [--reset] [--base-url URL]`: the demo data set, its tokens and examples.

Idempotent: when the data set exists it is left alone (say `--reset` to rebuild it) and the
tokens and example commands are printed again. Refuses to run with DJANGO_ENV=production.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.db.models import ProtectedError

from apps.common import flags
from apps.common.models import FlagName
from apps.tournaments.services.demo_data import (
    DEMO_PASSWORD,
    DEMO_RANDOM_SEED,
    PLAYER_USERNAME,
    STAFF_USERNAME,
    DemoSummary,
    build_demo_data,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Create a deterministic demo data set (games, seasons, tournaments, matches, disputes, "
        "payments), turn the leaderboard flags on, and print API tokens and example requests."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo data set (only its own rows) and build it again.",
        )
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"Server address used in the printed examples (default {DEFAULT_BASE_URL}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo creates demo accounts; it refuses DJANGO_ENV=production.")
        started = time.perf_counter()
        try:
            summary = build_demo_data(reset=options["reset"])
        except ProtectedError as error:
            raise CommandError(
                f"Cannot reset: other data refers to demo rows ({error.args[0]})"
            ) from error
        except DatabaseError as error:
            raise CommandError(f"Database error while seeding: {error}") from error
        elapsed = time.perf_counter() - started
        self._report(summary, elapsed, options["base_url"].rstrip("/"))

    def _report(self, summary: DemoSummary, elapsed: float, base_url: str) -> None:
        write = self.stdout.write
        counts = summary.counts
        if summary.created:
            write(
                self.style.SUCCESS(
                    f"Demo data created in {elapsed:.1f} s (random seed {DEMO_RANDOM_SEED})."
                )
            )
        else:
            write(
                self.style.WARNING(
                    "Demo data already present: nothing written "
                    "(run `manage.py seed_demo --reset` to rebuild it)."
                )
            )
        write(
            f"  {counts['tournaments']['total']} tournaments, "
            f"{counts['people']['users']} users, {counts['people']['teams']} teams, "
            f"{counts['registrations']['total']} registrations, "
            f"{counts['matches']['total']} matches ({counts['matches']['draws']} draws), "
            f"{counts['disputes']['total']} disputes, {counts['payments']['total']} payments"
        )
        for label in ("registrations", "matches", "disputes", "dispute_reasons", "payments"):
            breakdown = ", ".join(
                f"{name} {count}"
                for name, count in counts[label].items()
                if name not in ("total", "draws")
            )
            write(f"  {label.replace('_', ' ')}: {breakdown}")
        write("")
        self._report_flags(summary)
        write("")
        write(f"Accounts (password for both: {DEMO_PASSWORD}):")
        write(f"  {STAFF_USERNAME:<7} id {summary.staff_id:<4} staff   token {summary.staff_token}")
        write(
            f"  {PLAYER_USERNAME:<7} id {summary.player_id:<4} player  token {summary.player_token}"
        )
        write("")
        write("Tournaments:")
        for tournament_id, status, participation_type, format_name, name in summary.tournaments:
            write(
                f"  {tournament_id:>4}  {status:<17} {participation_type:<4}  "
                f"{format_name:<18}  {name}"
            )
        write("")
        write(f"Try it (server at {base_url}):")
        player_auth = f'-H "Authorization: Token {summary.player_token}"'
        staff_auth = f'-H "Authorization: Token {summary.staff_token}"'
        tournament_id = summary.example_tournament_id
        write(f"  curl {player_auth} {base_url}/api/tournaments/{tournament_id}/leaderboard/")
        write(
            f"  curl {player_auth} "
            f"{base_url}/api/tournaments/leaderboards/participant/{summary.player_id}/history/"
        )
        write(
            f"  curl {player_auth} '{base_url}/api/tournaments/leaderboards/scoped/"
            f"?scope=season&season={summary.season_slug}&participant_type=solo'"
        )
        write(f"  curl {staff_auth} {base_url}/api/admin/leaderboards/inspect/{tournament_id}/")
        write(f"Django admin: {base_url}/admin/ (log in as {STAFF_USERNAME})")

    def _report_flags(self, summary: DemoSummary) -> None:
        flags.forget_local_rows()
        states = flags.all_flag_states()
        if summary.flags_turned_on:
            self.stdout.write(
                self.style.SUCCESS(
                    "Feature flags turned ON (set_flag, audit records written): "
                    + ", ".join(summary.flags_turned_on)
                )
            )
        else:
            self.stdout.write("Feature flags (left as they are):")
        for name in FlagName:
            state = states[name.value]
            self.stdout.write(
                f"  {name.value:<29} {'ON ' if state.enabled else 'OFF'} "
                f"(source: {state.source.value}, rollout {state.rollout_percent}%)"
            )
        if any(not state.enabled for state in states.values()):
            self.stdout.write(
                self.style.WARNING(
                    "  Some flags are off: toggle them at /admin/common/featureflag/ "
                    "(an environment variable of the same name overrides the database)."
                )
            )
