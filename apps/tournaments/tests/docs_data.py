"""The data set behind the documented API examples, and the tools that keep them true.

Three parts:

- `build_docs_world()` writes a small, fixed world (two games, one season, three tournaments,
  eight players, four teams, payments and disputes) with explicit ids, so every database, test or
  server, gets the same rows under the same ids. Every JSON body in the documentation was
  produced from this world.
- `parse_examples()` and `parse_curl()` read the examples out of a markdown file: each ```bash
  block with one `curl` command, followed by the ```json block of its response. A first comment
  line starting with a status (`# 404 ...`) says the example expects that status; otherwise 200.
  `apps/tournaments/tests/test_docs_examples.py` runs every example against the test client.
- A command line that seeds a database for a live server and rewrites the JSON blocks of a
  markdown file from that server's real answers (the curl commands are run as written):

      DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/10 \\
          python -m apps.tournaments.tests.docs_data seed     # prints the two tokens
      DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/10 \\
          python manage.py runserver 127.0.0.1:8765 --noreload
      python -m apps.tournaments.tests.docs_data regenerate --server 127.0.0.1:8765 \\
          --token PLAYER_TOKEN --staff-token STAFF_TOKEN --redis-url redis://127.0.0.1:6379/10 \\
          docs/integration/leaderboards_examples.md

  `regenerate` empties that Redis database before each file, so the cache figures in a file are
  those of its own requests, in order. The examples address `http://127.0.0.1:8000` (where `make
  run` serves); curl is pointed at the real server with `--connect-to`, so links in the bodies
  keep the documented address.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the command line sets Django up first; keep imports lazy
    from apps.common.models import User

REPO_ROOT = Path(__file__).resolve().parents[3]

# The ids the documentation uses.
STAFF_ID = 1
PLAYER_ID = 101  # the caller of the public examples ($TOKEN); plays in all three tournaments
SOLO_LEAGUE_ID = 7  # live, season 2026-summer, eFootball, deltacrown-5step
TEAM_CUP_ID = 8  # completed, season 2026-summer, VALORANT, head-to-head
SPRING_CUP_ID = 6  # completed, no season, eFootball, deltacrown-5step
SEASON_SLUG = "2026-summer"

DOCUMENTED_BASE_URL = "http://127.0.0.1:8000"
TOKEN_VARIABLES = ("TOKEN", "STAFF_TOKEN")


def _at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


# --- the world ----------------------------------------------------------------------------------

PLAYERS = {
    101: ("arif", "Arif Rahman"),
    102: ("nusrat", "Nusrat Hossain"),
    103: ("tanvir", "Tanvir Chowdhury"),
    104: ("farhana", "Farhana Islam"),
    105: ("rakib", "Rakib Ahmed"),
    106: ("sadia", "Sadia Karim"),
    107: ("imran", "Imran Sarker"),
    108: ("mehjabin", "Mehjabin Das"),
}
TEAMS = {
    201: ("Dhaka Dragons", "DDR", (101, 102)),
    202: ("Sylhet Storm", "SYS", (103, 104)),
    203: ("Khulna Knights", "KHK", (105, 106)),
    204: ("Rajshahi Royals", "RJR", (107, 108)),
}

# (id, round, match_number, p1 reg, p2 reg, score1, score2, state, winner reg,
#  scheduled_at, started_at, completed_at)
_MatchRow = tuple[
    int, int, int, int, int, int, int, str, int | None, dt.datetime, dt.datetime | None,
    dt.datetime | None,
]  # fmt: skip


def _played(
    match_id: int,
    round_number: int,
    number: int,
    first: int,
    second: int,
    score: tuple[int, int],
    winner: int | None,
    finished: dt.datetime,
    state: str = "completed",
) -> _MatchRow:
    """A counted match: scheduled and started on the hour before it finished."""
    start = finished.replace(minute=0) - dt.timedelta(hours=0 if finished.minute else 1)
    return (match_id, round_number, number, first, second, *score, state, winner, start, start,
            finished)  # fmt: skip


def _unplayed(
    match_id: int, round_number: int, number: int, first: int, second: int, state: str,
    scheduled: dt.datetime, score: tuple[int, int] = (0, 0), started: bool = False,
) -> _MatchRow:  # fmt: skip
    return (match_id, round_number, number, first, second, *score, state, None, scheduled,
            scheduled if started else None, None)  # fmt: skip


# Summer Solo League (7): registrations 701-706 for players 101-106.
SOLO_LEAGUE_MATCHES: tuple[_MatchRow, ...] = (
    _played(7001, 1, 1, 701, 702, (2, 1), 701, _at(6, 6, 14, 20)),
    _played(7002, 1, 2, 703, 704, (1, 1), None, _at(6, 6, 14, 25)),
    _unplayed(7003, 1, 3, 705, 706, "cancelled", _at(6, 6, 14)),
    _played(7004, 2, 1, 701, 703, (0, 0), None, _at(6, 13, 14, 20)),
    _played(7005, 2, 2, 702, 705, (3, 0), 702, _at(6, 13, 14, 30), state="forfeit"),
    _played(7006, 3, 1, 704, 705, (2, 1), 704, _at(6, 20, 14, 20)),
    _played(7007, 3, 2, 703, 706, (1, 1), None, _at(6, 20, 14, 25)),
    _unplayed(7008, 4, 1, 702, 704, "disputed", _at(6, 27, 14), (2, 2), started=True),
    _unplayed(7009, 4, 2, 701, 706, "scheduled", _at(7, 11, 14)),
)
# Summer Team Cup (8): registrations 801-804 for teams 201-204.
TEAM_CUP_MATCHES: tuple[_MatchRow, ...] = (
    _played(8001, 1, 1, 801, 802, (1, 2), 802, _at(7, 4, 15)),
    _played(8002, 1, 2, 803, 804, (2, 1), 803, _at(7, 4, 16, 30)),
    _played(8003, 2, 1, 801, 803, (2, 0), 801, _at(7, 4, 18)),
    _played(8004, 2, 2, 802, 804, (0, 2), 804, _at(7, 5, 14)),
    _played(8005, 3, 1, 801, 804, (2, 1), 801, _at(7, 5, 15, 30)),
    _played(8006, 3, 2, 802, 803, (2, 1), 802, _at(7, 5, 17)),
)
# Spring Cup (6): registrations 601-604 for players 101-104, single elimination.
SPRING_CUP_MATCHES: tuple[_MatchRow, ...] = (
    _played(6001, 1, 1, 601, 604, (3, 1), 601, _at(4, 11, 15)),
    _played(6002, 1, 2, 603, 602, (2, 0), 603, _at(4, 11, 16)),
    _played(6003, 2, 1, 603, 601, (2, 1), 603, _at(4, 12, 15)),
)

# (id, registration, amount, method, status, reference, proof, submitted, verified, verifier)
_PaymentRow = tuple[
    int, int, str, str, str, str, str, dt.datetime | None, dt.datetime | None, int | None
]
ENTRY_FEE = "5.00"
SOLO_LEAGUE_PAYMENTS: tuple[_PaymentRow, ...] = (
    (7101, 701, ENTRY_FEE, "bkash", "verified", "BK7H2Q9", "payment_proofs/7101.png",
     _at(6, 1, 9), _at(6, 1, 12), STAFF_ID),
    (7102, 702, ENTRY_FEE, "nagad", "verified", "NG44018", "payment_proofs/7102.png",
     _at(6, 1, 10), _at(6, 1, 12), STAFF_ID),
    (7103, 703, ENTRY_FEE, "deltacoin", "verified", "DC-99120", "", _at(6, 2, 8),
     _at(6, 2, 8), STAFF_ID),
    (7104, 704, ENTRY_FEE, "rocket", "verified", "RK5510", "payment_proofs/7104.jpg",
     _at(6, 2, 18), _at(6, 3, 9), STAFF_ID),
    (7105, 705, ENTRY_FEE, "bkash", "rejected", "BK0000", "payment_proofs/7105.png",
     _at(6, 3, 11), _at(6, 3, 15), STAFF_ID),
    (7106, 705, ENTRY_FEE, "bank", "verified", "BANK-88231", "payment_proofs/7106.pdf",
     _at(6, 4, 10), _at(6, 5, 9), STAFF_ID),
    (7107, 706, ENTRY_FEE, "bkash", "submitted", "BK3N7TT", "payment_proofs/7107.png",
     _at(6, 5, 20), None, None),
)  # fmt: skip

# (id, match, opened_by registration, reason, status, evidence, notes, opened, resolved, resolver)
_DisputeRow = tuple[int, int, int | None, str, str, str, str, dt.datetime, dt.datetime | None,
                    int | None]  # fmt: skip
SOLO_LEAGUE_DISPUTES: tuple[_DisputeRow, ...] = (
    (71, 7005, 705, "no_show", "dismissed", "", "Joined the lobby 20 minutes late.",
     _at(6, 13, 14, 45), _at(6, 14, 9), STAFF_ID),
    (72, 7008, 702, "score_mismatch", "under_review", "dispute_evidence/72.mp4",
     "Both sides report a different third goal.", _at(6, 27, 14, 40), None, None),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DocsWorld:
    """What the examples need besides fixed ids: the two API tokens."""

    player_token: str
    staff_token: str
    tournament_ids: tuple[int, ...] = field(default=(SPRING_CUP_ID, SOLO_LEAGUE_ID, TEAM_CUP_ID))


def _user(user_id: int, username: str, display_name: str, *, is_staff: bool = False) -> User:
    from apps.common.models import User

    return User.objects.create(
        id=user_id,
        username=username,
        display_name=display_name,
        email=f"{username}@players.deltacrown.test",
        is_staff=is_staff,
    )


def _matches(tournament_id: int, rows: Sequence[_MatchRow]) -> None:
    from apps.tournaments.models import Match

    for (match_id, round_number, number, first, second, score1, score2, state, winner,
         scheduled, started, completed) in rows:  # fmt: skip
        Match.objects.create(
            id=match_id,
            tournament_id=tournament_id,
            round=round_number,
            match_number=number,
            participant1_id=first,
            participant2_id=second,
            score1=score1,
            score2=score2,
            state=state,
            winner_id=winner,
            scheduled_at=scheduled,
            started_at=started,
            completed_at=completed,
        )


def build_docs_world() -> DocsWorld:
    """Write the documented world and turn the three flags on; return the API tokens.

    Runs in one transaction. Needs a database without these ids (a fresh one, or a test's).
    """
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from apps.common.models import FeatureFlag, FlagName
    from apps.tournaments.models import (
        Dispute,
        Game,
        Payment,
        Registration,
        Season,
        Team,
        Tournament,
    )

    with transaction.atomic():
        staff = _user(STAFF_ID, "docs-staff", "", is_staff=True)
        players = {
            user_id: _user(user_id, username, name) for user_id, (username, name) in PLAYERS.items()
        }
        efootball = Game.objects.create(id=1, slug="efootball", name="eFootball")
        valorant = Game.objects.create(id=2, slug="valorant", name="VALORANT")
        summer = Season.objects.create(
            id=1,
            slug=SEASON_SLUG,
            name="Summer 2026",
            starts_on=dt.date(2026, 6, 1),
            ends_on=dt.date(2026, 8, 31),
        )
        for team_id, (name, tag, members) in TEAMS.items():
            team = Team.objects.create(id=team_id, name=name, tag=tag)
            team.members.set([players[user_id] for user_id in members])

        Tournament.objects.create(
            id=SPRING_CUP_ID,
            name="Spring Cup",
            game=efootball,
            season=None,
            participation_type="solo",
            format="single_elimination",
            status="completed",
            starts_at=_at(4, 11, 14),
            ends_at=_at(4, 12, 16),
        )
        Tournament.objects.create(
            id=SOLO_LEAGUE_ID,
            name="Summer Solo League",
            game=efootball,
            season=summer,
            participation_type="solo",
            format="round_robin",
            status="live",
            starts_at=_at(6, 6, 14),
            ends_at=None,
        )
        Tournament.objects.create(
            id=TEAM_CUP_ID,
            name="Summer Team Cup",
            game=valorant,
            season=summer,
            participation_type="team",
            format="round_robin",
            status="completed",
            starts_at=_at(7, 4, 14),
            ends_at=_at(7, 5, 18),
            tiebreak_ruleset="head-to-head",
        )

        for offset, user_id in enumerate((101, 102, 103, 104)):
            Registration.objects.create(
                id=601 + offset,
                tournament_id=SPRING_CUP_ID,
                user_id=user_id,
                status="confirmed",
                registered_at=_at(4, 1, 12),
                seed=offset + 1,
            )
        for offset, user_id in enumerate((101, 102, 103, 104, 105, 106)):
            Registration.objects.create(
                id=701 + offset,
                tournament_id=SOLO_LEAGUE_ID,
                user_id=user_id,
                status="confirmed",
                registered_at=_at(5, 20 + offset, 12),
            )
        for offset, (team_id, (_, _, members)) in enumerate(TEAMS.items()):
            registration = Registration.objects.create(
                id=801 + offset,
                tournament_id=TEAM_CUP_ID,
                team_id=team_id,
                status="confirmed",
                registered_at=_at(6, 25, 12),
            )
            registration.roster.set(members)

        _matches(SPRING_CUP_ID, SPRING_CUP_MATCHES)
        _matches(SOLO_LEAGUE_ID, SOLO_LEAGUE_MATCHES)
        _matches(TEAM_CUP_ID, TEAM_CUP_MATCHES)

        for (payment_id, registration_id, amount, method, status, reference, proof, submitted,
             verified, verifier) in SOLO_LEAGUE_PAYMENTS:  # fmt: skip
            Payment.objects.create(
                id=payment_id,
                registration_id=registration_id,
                amount=Decimal(amount),
                method=method,
                status=status,
                transaction_reference=reference,
                proof_file=proof,
                submitted_at=submitted,
                verified_at=verified,
                verified_by_id=verifier,
            )
        for (dispute_id, match_id, opened_by, reason, status, evidence, notes, opened, resolved,
             resolver) in SOLO_LEAGUE_DISPUTES:  # fmt: skip
            Dispute.objects.create(
                id=dispute_id,
                match_id=match_id,
                opened_by_id=opened_by,
                reason=reason,
                status=status,
                evidence=evidence,
                notes=notes,
                opened_at=opened,
                resolved_at=resolved,
                resolved_by_id=resolver,
            )

        for name in FlagName:
            flag, _ = FeatureFlag.objects.get_or_create(name=name.value)
            flag.is_enabled = True
            flag.rollout_percent = 100
            flag.updated_by = staff
            flag.save()

        player_token = Token.objects.create(user=players[PLAYER_ID])
        staff_token = Token.objects.create(user=staff)
    return DocsWorld(player_token=player_token.key, staff_token=staff_token.key)


# --- reading examples out of markdown -----------------------------------------------------------

# A fenced block: group 1 its language, group 2 its content.
FENCED_BLOCK = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_STATUS_COMMENT = re.compile(r"^#\s*(\d{3})\b")


@dataclass(frozen=True, slots=True)
class Example:
    """One documented request and its documented response body."""

    line: int  # line of the ```bash fence, for messages
    command: str  # the bash block as written
    body_text: str  # the ```json block as written
    expected_status: int
    body_span: tuple[int, int]  # offsets of the json block's content in the file

    @property
    def body(self) -> Any:
        return json.loads(self.body_text)


def parse_examples(markdown: str) -> list[Example]:
    """Every ```bash block holding `curl`, paired with the ```json block right after it.

    Raises ValueError for a curl block without a json block after it (only blank lines may sit
    between the two) or with more than one curl command.
    """
    fences = list(FENCED_BLOCK.finditer(markdown))
    examples: list[Example] = []
    for position, fence in enumerate(fences):
        language, content = fence.group(1), fence.group(2)
        if language != "bash" or not re.search(r"^\s*curl\b", content, re.MULTILINE):
            continue
        line = markdown.count("\n", 0, fence.start()) + 1
        if len(re.findall(r"^\s*curl\b", content, re.MULTILINE)) != 1:
            raise ValueError(f"line {line}: one curl command per example")
        following = fences[position + 1] if position + 1 < len(fences) else None
        between = markdown[fence.end() : following.start()] if following else ""
        if following is None or following.group(1) != "json" or between.strip():
            raise ValueError(f"line {line}: a curl example needs a ```json block right after it")
        status = 200
        first_line = content.strip().splitlines()[0]
        if match := _STATUS_COMMENT.match(first_line):
            status = int(match.group(1))
        examples.append(
            Example(
                line=line,
                command=content,
                body_text=following.group(2),
                expected_status=status,
                body_span=(following.start(2), following.end(2)),
            )
        )
    return examples


@dataclass(frozen=True, slots=True)
class CurlRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None

    @property
    def path_with_query(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


_IGNORED_FLAGS = {"-s", "-S", "-sS", "--silent", "--show-error"}


def parse_curl(command: str, variables: dict[str, str] | None = None) -> CurlRequest:
    """Method, URL, headers and body of a documented curl command.

    Comment lines are dropped and `$NAME` / `${NAME}` of `variables` substituted. Only the
    options the documentation uses are understood; any other raises ValueError, so an example
    cannot silently mean something the test does not check.
    """
    lines = [line for line in command.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    for name, value in (variables or {}).items():
        text = text.replace(f"${{{name}}}", value).replace(f"${name}", value)
    words = shlex.split(text)
    if not words or words[0] != "curl":
        raise ValueError(f"not a curl command: {command!r}")
    method: str | None = None
    url: str | None = None
    headers: list[tuple[str, str]] = []
    body: str | None = None
    arguments = iter(words[1:])
    for word in arguments:
        if word in _IGNORED_FLAGS:
            continue
        if word in ("-X", "--request"):
            method = next(arguments)
        elif word in ("-H", "--header"):
            name, _, value = next(arguments).partition(":")
            headers.append((name.strip(), value.strip()))
        elif word in ("-d", "--data", "--data-raw"):
            body = next(arguments)
        elif word.startswith("-"):
            raise ValueError(f"curl option {word!r} is not understood by the docs test")
        elif url is None:
            url = word
        else:
            raise ValueError(f"two URLs in one curl command: {url!r}, {word!r}")
    if url is None:
        raise ValueError(f"no URL in {command!r}")
    return CurlRequest(
        method=method or ("POST" if body is not None else "GET"),
        url=url,
        headers=tuple(headers),
        body=body,
    )


def format_json(value: Any) -> str:
    """The layout of every documented body: two-space indent, keys in response order."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


# --- command line: seed a server's database, rewrite a file's bodies from that server -----------


def _seed() -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltacrown.settings")
    django.setup()
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection

    if settings.IS_PRODUCTION:
        print("refusing to seed documentation data with DJANGO_ENV=production", file=sys.stderr)
        return 1
    call_command("migrate", verbosity=0)
    world = build_docs_world()
    # Explicit ids do not move PostgreSQL's sequences: move them past the seeded rows.
    models = [*apps.get_app_config("tournaments").get_models(), apps.get_model("common", "User")]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
    print(f"TOKEN={world.player_token}")
    print(f"STAFF_TOKEN={world.staff_token}")
    return 0


def _run_example(example: Example, server: str, tokens: dict[str, str]) -> tuple[int, Any]:
    documented = urlsplit(parse_curl(example.command).url)
    documented_port = documented.port or 80
    host, _, port = server.partition(":")
    script = (
        "curl() { command curl --connect-to "
        f"{documented.hostname}:{documented_port}:{host}:{port or 80} "
        '-w "\\n%{http_code}" "$@"; }\n' + example.command
    )
    completed = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, **tokens},
        capture_output=True,
        text=True,
        check=True,
    )
    text, _, status = completed.stdout.rstrip("\n").rpartition("\n")
    return int(status), json.loads(text)


def _regenerate(arguments: argparse.Namespace) -> int:
    tokens = {"TOKEN": arguments.token, "STAFF_TOKEN": arguments.staff_token}
    for name in arguments.files:
        path = Path(name)
        if arguments.redis_url:
            subprocess.run(["redis-cli", "-u", arguments.redis_url, "FLUSHDB"], check=True)
        markdown = path.read_text()
        pieces: list[str] = []
        cursor = 0
        for example in parse_examples(markdown):
            status, body = _run_example(example, arguments.server, tokens)
            if status != example.expected_status:
                print(
                    f"{path}:{example.line}: expected {example.expected_status}, got {status}",
                    file=sys.stderr,
                )
                return 1
            start, end = example.body_span
            pieces += [markdown[cursor:start], format_json(body)]
            cursor = end
        pieces.append(markdown[cursor:])
        path.write_text("".join(pieces))
        print(f"{path}: bodies rewritten from {arguments.server}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="migrate, write the documented world, print the tokens")
    regenerate = commands.add_parser("regenerate", help="rewrite the JSON bodies of markdown files")
    regenerate.add_argument("--server", required=True, help="HOST:PORT of the running server")
    regenerate.add_argument("--token", required=True, help="the player's token ($TOKEN)")
    regenerate.add_argument("--staff-token", required=True, help="the staff token ($STAFF_TOKEN)")
    regenerate.add_argument("--redis-url", help="the server's Redis, emptied before each file")
    regenerate.add_argument("files", nargs="+")
    arguments = parser.parse_args(argv)
    if arguments.command == "seed":
        return _seed()
    return _regenerate(arguments)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
