"""`manage.py import_results FILE` (docs/admin/import_results.md).

Given a bundle, when it is imported through the command, then exactly the rows, values, output
lines and problems written out below result. Runs on SQLite and on PostgreSQL (DATABASE_URL);
the subprocess tests use a migrated SQLite file of their own.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.models import User
from apps.tournaments.boards import BoardRef, Placement, Scope
from apps.tournaments.events import ResultChange, results_changed
from apps.tournaments.models import (
    Dispute,
    Game,
    Match,
    MatchState,
    Payment,
    PendingInvalidation,
    Registration,
    Season,
    Team,
    Tournament,
)
from apps.tournaments.services.board_cache import store
from apps.tournaments.tests.factories import (
    GameFactory,
    RegistrationFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.reads import is_cached

pytestmark = pytest.mark.django_db

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MODELS = (Game, Season, User, Team, Tournament, Registration, Match, Payment, Dispute)
FULL_COUNTS = {
    "games": 1,
    "seasons": 1,
    "users": 4,
    "teams": 1,
    "tournaments": 2,
    "registrations": 3,
    "matches": 4,
    "payments": 1,
    "disputes": 1,
}


def valid_bundle() -> dict[str, Any]:
    """Two tournaments: a solo cup with a win, a draw, a forfeit won by the lower score and a
    scheduled match; a team cup with one team registration."""
    return {
        "games": [{"id": 101, "slug": "valorant", "name": "Valorant"}],
        "seasons": [
            {
                "id": 201,
                "slug": "2025-spring",
                "name": "Spring 2025",
                "starts_on": "2025-03-01",
                "ends_on": "2025-05-31",
            }
        ],
        "users": [
            {"id": 301, "username": "alice", "display_name": "Alice", "is_staff": True},
            {"id": 302},
            {"id": 303, "display_name": "Carol"},
            {"id": 304},
        ],
        "teams": [{"id": 401, "name": "Reds", "tag": "RED", "members": [303, 304]}],
        "tournaments": [
            {
                "id": 501,
                "name": "Spring Cup",
                "game": 101,
                "season": 201,
                "starts_at": "2025-03-01T18:00:00Z",
            },
            {
                "id": 502,
                "name": "Team Cup",
                "game": 101,
                "season": None,
                "participation_type": "team",
                "format": "league",
                "status": "live",
            },
        ],
        "registrations": [
            {"id": 601, "tournament": 501, "user": 301, "seed": 1},
            {
                "id": 602,
                "tournament": 501,
                "user": 302,
                "registered_at": "2025-02-20T12:00:00+02:00",
            },
            {"id": 603, "tournament": 502, "team": 401},
        ],
        "matches": [
            {
                "id": 701,
                "tournament": 501,
                "participant1": 601,
                "participant2": 602,
                "score1": 2,
                "score2": 1,
                "completed_at": "2025-03-01T18:30:00Z",
            },
            {
                "id": 702,
                "tournament": 501,
                "participant1": 601,
                "participant2": 602,
                "round": 2,
                "score1": 1,
                "score2": 1,
                "completed_at": "2025-03-02T18:30:00Z",
            },
            {
                "id": 703,
                "tournament": 501,
                "participant1": 602,
                "participant2": 601,
                "round": 3,
                "state": "forfeit",
                "winner": 601,
                "score1": 3,
                "score2": 0,
                "completed_at": "2025-03-03T18:30:00Z",
            },
            {
                "id": 704,
                "tournament": 501,
                "participant1": 601,
                "participant2": 602,
                "round": 4,
                "state": "scheduled",
                "scheduled_at": "2025-03-04T18:00:00Z",
            },
        ],
        "payments": [
            {
                "id": 801,
                "registration": 601,
                "amount": "10.50",
                "method": "bkash",
                "status": "verified",
                "transaction_reference": "TX-1",
                "verified_by": 301,
            }
        ],
        "disputes": [
            {
                "id": 901,
                "match": 703,
                "opened_by": 602,
                "reason": "no_show",
                "opened_at": "2025-03-03T19:00:00Z",
            }
        ],
    }


def write_bundle(bundle: object, directory: Path, name: str = "bundle.json") -> Path:
    path = directory / name
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle), encoding="utf-8")
    return path


def run_import(bundle: object, directory: Path, *flags: str) -> list[str]:
    """Import through the command; the lines it printed."""
    out = io.StringIO()
    call_command("import_results", str(write_bundle(bundle, directory)), *flags, stdout=out)
    return out.getvalue().splitlines()


def import_problems(bundle: object, directory: Path, *flags: str) -> list[str]:
    """Import a bundle that must fail; its problem lines (the header is checked here)."""
    with pytest.raises(CommandError) as raised:
        run_import(bundle, directory, *flags)
    header, *lines = str(raised.value).splitlines()
    noun = "problem" if len(lines) == 1 else "problems"
    assert header == f"{directory / 'bundle.json'}: {len(lines)} {noun}; nothing was written."
    return lines


def summary(counts: dict[str, tuple[int, int, int]]) -> list[str]:
    return [f"{key}: {c} created, {u} updated, {n} unchanged" for key, (c, u, n) in counts.items()]


def row_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in MODELS}
    counts["team members"] = Team.members.through.objects.count()
    counts["rosters"] = Registration.roster.through.objects.count()
    return counts


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every stored value of the imported tables, to compare before and after."""
    tables: dict[str, list[dict[str, Any]]] = {
        model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS
    }
    tables["team members"] = list(
        Team.members.through.objects.order_by("team_id", "user_id").values("team_id", "user_id")
    )
    tables["rosters"] = list(
        Registration.roster.through.objects.order_by("registration_id", "user_id").values(
            "registration_id", "user_id"
        )
    )
    return tables


NOTHING = {
    "Game": 0,
    "Season": 0,
    "User": 0,
    "Team": 0,
    "Tournament": 0,
    "Registration": 0,
    "Match": 0,
    "Payment": 0,
    "Dispute": 0,
    "team members": 0,
    "rosters": 0,
}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- A valid bundle ------------------------------------------------------------------------------


def test_valid_bundle_creates_every_record_and_prints_the_counts(tmp_path: Path) -> None:
    # given a valid bundle of 18 records
    bundle = valid_bundle()

    # when it is imported
    lines = run_import(bundle, tmp_path)

    # then every record is created and the summary says so per key
    path = tmp_path / "bundle.json"
    expected = {key: (count, 0, 0) for key, count in FULL_COUNTS.items()}
    assert lines == [f"Imported {path}.", *summary(expected)]
    assert row_counts() == {
        "Game": 1,
        "Season": 1,
        "User": 4,
        "Team": 1,
        "Tournament": 2,
        "Registration": 3,
        "Match": 4,
        "Payment": 1,
        "Dispute": 1,
        "team members": 2,
        "rosters": 2,
    }


def test_valid_bundle_stores_the_values_and_the_format_defaults(tmp_path: Path) -> None:
    # given a valid bundle, when it is imported
    run_import(valid_bundle(), tmp_path)

    # then the given values are stored, and absent fields take the format's defaults
    assert list(
        User.objects.order_by("pk").values_list("pk", "username", "display_name", "is_staff")
    ) == [
        (301, "alice", "Alice", True),
        (302, "user302", "", False),
        (303, "user303", "Carol", False),
        (304, "user304", "", False),
    ]
    assert not any(user.has_usable_password() for user in User.objects.all())
    spring = Tournament.objects.get(pk=501)
    assert (spring.game_id, spring.season_id, spring.participation_type, spring.format) == (
        101,
        201,
        "solo",
        "round_robin",
    )
    assert (spring.status, spring.points_per_win, spring.points_per_draw) == ("completed", 3, 1)
    assert (spring.points_per_loss, spring.tiebreak_ruleset) == (0, "deltacrown-5step")
    assert spring.starts_at == at("2025-03-01T18:00:00+00:00")
    team_cup = Tournament.objects.get(pk=502)
    assert (team_cup.season_id, team_cup.participation_type, team_cup.format, team_cup.status) == (
        None,
        "team",
        "league",
        "live",
    )
    assert list(
        Registration.objects.order_by("pk").values_list(
            "pk", "tournament_id", "user_id", "team_id", "status", "seed"
        )
    ) == [
        (601, 501, 301, None, "confirmed", 1),
        (602, 501, 302, None, "confirmed", None),
        (603, 502, None, 401, "confirmed", None),
    ]
    assert Registration.objects.get(pk=602).registered_at == at("2025-02-20T10:00:00+00:00")
    # the team registration's roster defaults to the team's members
    assert sorted(Registration.objects.get(pk=603).roster.values_list("pk", flat=True)) == [
        303,
        304,
    ]
    assert list(Registration.objects.get(pk=601).roster.all()) == []
    assert list(
        Match.objects.order_by("pk").values_list(
            "pk", "round", "match_number", "score1", "score2", "state", "winner_id"
        )
    ) == [
        (701, 1, 1, 2, 1, "completed", 601),
        (702, 2, 1, 1, 1, "completed", None),
        (703, 3, 1, 3, 0, "forfeit", 601),
        (704, 4, 1, 0, 0, "scheduled", None),
    ]
    payment = Payment.objects.get(pk=801)
    assert (payment.amount, payment.method, payment.status, payment.verified_by_id) == (
        Decimal("10.50"),
        "bkash",
        "verified",
        301,
    )
    dispute = Dispute.objects.get(pk=901)
    assert (dispute.match_id, dispute.opened_by_id, dispute.reason, dispute.status) == (
        703,
        602,
        "no_show",
        "open",
    )
    assert dispute.opened_at == at("2025-03-03T19:00:00+00:00")


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    # given a bundle already imported (registered_at and opened_at absent: the import's time)
    bundle = valid_bundle()
    del bundle["disputes"][0]["opened_at"]
    run_import(bundle, tmp_path)
    before = snapshot()

    # when the same file is imported again
    lines = run_import(bundle, tmp_path)

    # then every record is reported unchanged and no stored value moved
    path = tmp_path / "bundle.json"
    expected = {key: (0, 0, count) for key, count in FULL_COUNTS.items()}
    assert lines == [f"Imported {path}.", *summary(expected)]
    assert snapshot() == before


def test_a_changed_record_is_updated_in_place(tmp_path: Path) -> None:
    # given an imported bundle
    bundle = valid_bundle()
    run_import(bundle, tmp_path)
    password = User.objects.get(pk=301).password

    # when the file changes one score, one display name and one team's members
    bundle["matches"][0]["score2"] = 5
    bundle["users"][0]["display_name"] = "Alice B."
    bundle["teams"][0]["members"] = [303]
    bundle["registrations"][2]["roster"] = [303]
    lines = run_import(bundle, tmp_path)

    # then exactly those records are updated, the winner is derived anew, the password is kept
    assert lines[1:] == summary(
        {
            "games": (0, 0, 1),
            "seasons": (0, 0, 1),
            "users": (0, 1, 3),
            "teams": (0, 1, 0),
            "tournaments": (0, 0, 2),
            "registrations": (0, 1, 2),
            "matches": (0, 1, 3),
            "payments": (0, 0, 1),
            "disputes": (0, 0, 1),
        }
    )
    assert Match.objects.get(pk=701).winner_id == 602
    user = User.objects.get(pk=301)
    assert (user.display_name, user.password) == ("Alice B.", password)
    assert list(Team.objects.get(pk=401).members.values_list("pk", flat=True)) == [303]
    assert list(Registration.objects.get(pk=603).roster.values_list("pk", flat=True)) == [303]


def test_an_existing_user_keeps_password_and_other_columns(tmp_path: Path) -> None:
    # given a stored user with a password and an email
    user = User.objects.create_user("alice", email="alice@example.test", password="s3cret-pass")
    user_id = user.pk

    # when a bundle updates that user by id
    run_import({"users": [{"id": user_id, "username": "alice", "display_name": "A"}]}, tmp_path)

    # then the format's columns change and nothing else does
    user.refresh_from_db()
    assert (user.display_name, user.email, user.is_staff) == ("A", "alice@example.test", False)
    assert user.check_password("s3cret-pass")


def test_an_empty_bundle_imports_nothing(tmp_path: Path) -> None:
    assert run_import({}, tmp_path) == [f"Imported {tmp_path / 'bundle.json'}."]
    assert run_import({"matches": []}, tmp_path)[1:] == [
        "matches: 0 created, 0 updated, 0 unchanged"
    ]
    assert row_counts() == NOTHING


# --- Winner rules --------------------------------------------------------------------------------


def test_a_completed_match_without_winner_takes_the_higher_score(tmp_path: Path) -> None:
    # given completed matches without a winner: one where participant2 scored more, one equal
    bundle = valid_bundle()
    bundle["matches"][0].update(score1=0, score2=4)
    bundle["matches"][1].update(score1=2, score2=2, winner=None)

    # when imported
    run_import(bundle, tmp_path)

    # then the higher score wins and equal scores are a draw
    assert Match.objects.get(pk=701).winner_id == 602
    assert Match.objects.get(pk=702).winner_id is None


def test_a_given_winner_of_a_completed_match_stands_against_the_scores(tmp_path: Path) -> None:
    bundle = valid_bundle()
    bundle["matches"][0].update(score1=0, score2=4, winner=601)
    run_import(bundle, tmp_path)
    assert Match.objects.get(pk=701).winner_id == 601


def test_results_of_a_draft_tournament_and_times_out_of_range_are_stored(tmp_path: Path) -> None:
    # given a draft tournament whose match completed before the tournament starts, with scores
    # in a cancelled match and a rejected payment with no timestamps
    bundle = valid_bundle()
    bundle["tournaments"][0]["status"] = "draft"
    bundle["matches"][0]["completed_at"] = "2019-01-01T00:00:00Z"
    bundle["matches"][3].update(state="cancelled", score1=7, score2=2)
    bundle["payments"][0].update(status="refunded", verified_by=None)

    # when imported, then it is stored as given
    run_import(bundle, tmp_path)
    assert Match.objects.get(pk=701).completed_at == at("2019-01-01T00:00:00+00:00")
    assert Match.objects.filter(pk=704, state=MatchState.CANCELLED, score1=7).exists()


# --- Problems ------------------------------------------------------------------------------------


def test_one_bad_match_writes_nothing_at_all(tmp_path: Path) -> None:
    # given a valid bundle but for one match whose winner did not play it
    bundle = valid_bundle()
    bundle["matches"][2]["winner"] = 603

    # when imported, then the command fails naming the place, and no row was written
    assert import_problems(bundle, tmp_path) == [
        "matches[2].winner: registration 603 is not in tournament 501"
    ]
    assert row_counts() == NOTHING


def test_every_problem_of_a_bundle_is_reported_with_its_place(tmp_path: Path) -> None:
    # given a bundle with many problems in several records
    bundle = valid_bundle()
    bundle["scores"] = []
    bundle["games"][0]["colour"] = "red"
    bundle["users"][1]["username"] = "bad name!"
    bundle["users"][2]["is_staff"] = 1
    bundle["tournaments"][0]["status"] = "finished"
    bundle["tournaments"][1]["starts_at"] = "2025-03-01T18:00:00"
    bundle["registrations"][0]["tournament"] = 999
    bundle["matches"][0]["score1"] = True
    bundle["matches"][1]["participant2"] = 601
    bundle["matches"][3]["winner"] = 601
    bundle["payments"][0]["amount"] = "10.505"
    bundle["disputes"][0]["opened_at"] = "2025-02-30T19:00:00Z"

    # when imported, then every problem is listed in reading order, with its place
    assert import_problems(bundle, tmp_path) == [
        "scores: unknown key; the keys are games, seasons, users, teams, tournaments, "
        "registrations, matches, payments, disputes",
        "games[0].colour: unknown field; the fields are id, slug, name",
        "users[1].username: must be a username (letters, digits and @ . + - _), "
        'got string "bad name!"',
        "users[2].is_staff: must be true or false, got number 1",
        "tournaments[0].status: must be one of draft, registration_open, live, completed, "
        'cancelled; got string "finished"',
        "tournaments[1].starts_at: needs an offset (Z or +hh:mm) such as 2025-03-01T18:00:00Z, "
        'got string "2025-03-01T18:00:00"',
        "registrations[0].tournament: tournament 999 does not exist",
        "matches[0].score1: must be an integer from 0 to 2147483647, got true",
        "matches[1].participant2: must differ from participant1 (both are registration 601)",
        "matches[3].winner: must be absent or null: a scheduled match has no winner",
        "payments[0].amount: must be a decimal amount with at most 2 decimal places, "
        'got string "10.505"',
        "disputes[0].opened_at: must be an ISO 8601 time with an offset such as "
        '2025-03-01T18:00:00Z, got string "2025-02-30T19:00:00Z"',
    ]
    assert row_counts() == NOTHING


def _broken(change: str) -> dict[str, Any]:
    """The valid bundle with one change applied (named for the parametrized ids)."""
    bundle = valid_bundle()
    match change:
        case "unknown top-level key":
            bundle["results"] = []
        case "unknown field":
            bundle["matches"][1]["mvp"] = 301
        case "dangling reference":
            bundle["payments"][0]["registration"] = 4242
        case "winner who did not play":
            bundle["registrations"].append({"id": 604, "tournament": 501, "user": 303})
            bundle["matches"][0]["winner"] = 604
        case "team in a solo tournament":
            bundle["registrations"][1] = {"id": 602, "tournament": 501, "team": 401}
        case "user in a team tournament":
            bundle["registrations"][2] = {"id": 603, "tournament": 502, "user": 303}
        case "user and team":
            bundle["registrations"][2]["user"] = 303
        case "participant of another tournament":
            bundle["matches"][0]["participant2"] = 603
        case "forfeit without winner":
            del bundle["matches"][2]["winner"]
        case "completed without completed_at":
            bundle["matches"][0]["completed_at"] = None
        case "forfeit without completed_at":
            del bundle["matches"][2]["completed_at"]
        case "bad enum value":
            bundle["disputes"][0]["reason"] = "rage_quit"
        case "bad participation type":
            bundle["tournaments"][1]["participation_type"] = "duo"
        case "zero id":
            bundle["payments"][0]["id"] = 0
        case "negative id":
            bundle["matches"][0]["tournament"] = -501
        case "bool as int":
            bundle["tournaments"][0]["points_per_win"] = True
        case "string as int":
            bundle["registrations"][0]["seed"] = "1"
        case "bad date":
            bundle["seasons"][0]["starts_on"] = "01/03/2025"
        case "missing required field":
            del bundle["teams"][0]["name"]
        case "duplicate id":
            bundle["games"].append({"id": 101, "slug": "cs2"})
        case "duplicate slug":
            bundle["games"].append({"id": 102, "slug": "valorant"})
        case "dangling roster user":
            bundle["registrations"][2]["roster"] = [303, 3030]
        case "record not an object":
            bundle["payments"][0] = 801
        case "key not a list":
            bundle["seasons"] = {"id": 201}
        case "method too long":
            bundle["payments"][0]["method"] = "m" * 33
    return bundle


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            "unknown top-level key",
            "results: unknown key; the keys are games, seasons, users, teams, tournaments, "
            "registrations, matches, payments, disputes",
        ),
        (
            "unknown field",
            "matches[1].mvp: unknown field; the fields are id, tournament, participant1, "
            "participant2, round, match_number, score1, score2, state, winner, scheduled_at, "
            "started_at, completed_at",
        ),
        ("dangling reference", "payments[0].registration: registration 4242 does not exist"),
        (
            "winner who did not play",
            "matches[0].winner: registration 604 did not play this match (its participants "
            "are 601 and 602)",
        ),
        (
            "team in a solo tournament",
            "registrations[1].team: tournament 501 is solo: it takes users, not teams",
        ),
        (
            "user in a team tournament",
            "registrations[2].user: tournament 502 is a team tournament: it takes teams",
        ),
        ("user and team", "registrations[2]: needs exactly one of user or team; it has both"),
        (
            "participant of another tournament",
            "matches[0].participant2: registration 603 is not in tournament 501 (it is in 502)",
        ),
        ("forfeit without winner", "matches[2].winner: is required: a forfeit names its winner"),
        (
            "completed without completed_at",
            "matches[0].completed_at: is required for a completed match",
        ),
        (
            "forfeit without completed_at",
            "matches[2].completed_at: is required for a forfeit match",
        ),
        (
            "bad enum value",
            "disputes[0].reason: must be one of score_mismatch, no_show, cheating, "
            'technical_issue, other; got string "rage_quit"',
        ),
        (
            "bad participation type",
            'tournaments[1].participation_type: must be one of solo, team; got string "duo"',
        ),
        ("zero id", "payments[0].id: must be a positive integer id, got number 0"),
        ("negative id", "matches[0].tournament: must be a positive integer id, got number -501"),
        (
            "bool as int",
            "tournaments[0].points_per_win: must be an integer from 0 to 32767, got true",
        ),
        (
            "string as int",
            'registrations[0].seed: must be an integer from 0 to 2147483647, got string "1"',
        ),
        ("bad date", 'seasons[0].starts_on: must be a date YYYY-MM-DD, got string "01/03/2025"'),
        ("missing required field", "teams[0].name: is required"),
        ("duplicate id", "games[1].id: is also the id of games[0]"),
        ("duplicate slug", 'games[1].slug: "valorant" is also the slug of games[0]'),
        ("dangling roster user", "registrations[2].roster[1]: user 3030 does not exist"),
        ("record not an object", "payments[0]: must be an object, got number 801"),
        ("key not a list", "seasons: must be an array of objects, got an object"),
        ("method too long", "payments[0].method: must be at most 32 characters, got 33"),
    ],
)
def test_a_broken_bundle_names_its_problem_and_writes_nothing(
    tmp_path: Path, change: str, problem: str
) -> None:
    # given the valid bundle with one thing broken
    bundle = _broken(change)

    # when imported, then exactly that problem is reported and nothing is written
    problems = import_problems(bundle, tmp_path)
    if change == "key not a list":  # the tournament's season is now dangling too
        assert problems == [problem, "tournaments[0].season: season 201 does not exist"]
    else:
        assert problems == [problem]
    assert row_counts() == NOTHING


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"games": [', "malformed JSON at line 1 column 12: Expecting value"),
        ('{"games": []} trailing', "malformed JSON at line 1 column 15: Extra data"),
        ("", "malformed JSON: the input is empty"),
        ('{"games": [], "games": []}', 'malformed JSON: key "games" appears twice in one object'),
        (
            '{"payments": [{"id": 1, "registration": 1, "amount": NaN}]}',
            "malformed JSON: NaN is not a JSON value",
        ),
    ],
)
def test_malformed_json_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        run_import(text, tmp_path)
    assert str(raised.value) == f"{tmp_path / 'bundle.json'}: {message}"


@pytest.mark.parametrize(
    ("bundle", "problem"),
    [
        (
            [],
            "bundle: must be a JSON object with keys among games, seasons, users, teams, "
            "tournaments, registrations, matches, payments, disputes; got an array",
        ),
        (
            '"text"',
            "bundle: must be a JSON object with keys among games, seasons, users, teams, "
            'tournaments, registrations, matches, payments, disputes; got string "text"',
        ),
    ],
)
def test_a_top_level_that_is_not_an_object_is_a_clear_error(
    tmp_path: Path, bundle: object, problem: str
) -> None:
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    assert import_problems(text, tmp_path) == [problem]


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(CommandError) as raised:
        call_command("import_results", str(missing))
    assert str(raised.value) == f"cannot read {missing}: No such file or directory"


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"games": [{"id": 1, "slug": "caf\xe9"}]}'.encode("latin-1"))
    with pytest.raises(CommandError) as raised:
        call_command("import_results", str(path))
    assert str(raised.value) == f"{path}: not UTF-8 text (byte 33: invalid continuation byte)"


# --- References to stored rows -------------------------------------------------------------------


def test_a_late_match_is_added_to_a_stored_tournament(tmp_path: Path) -> None:
    # given a tournament and two registrations already stored (created the ordinary way)
    tournament = TournamentFactory()
    home = RegistrationFactory(tournament=tournament)
    away = RegistrationFactory(tournament=tournament)

    # when a file adds one late match between them
    late = {
        "id": 7001,
        "tournament": tournament.pk,
        "participant1": home.pk,
        "participant2": away.pk,
        "score1": 0,
        "score2": 2,
        "completed_at": "2031-06-02T10:00:00Z",
    }
    lines = run_import({"matches": [late]}, tmp_path)

    # then it is stored, won by the higher score
    assert lines[1:] == ["matches: 1 created, 0 updated, 0 unchanged"]
    match = Match.objects.get(pk=7001)
    assert (match.tournament_id, match.winner_id, match.state) == (
        tournament.pk,
        away.pk,
        "completed",
    )


def test_a_team_registration_takes_the_stored_team_members_as_roster(tmp_path: Path) -> None:
    # given a stored team of two, and a stored team tournament
    members = [UserFactory(), UserFactory()]
    team = TeamFactory(members=members)
    tournament = TournamentFactory(participation_type="team")

    # when a file registers the team without a roster
    run_import(
        {"registrations": [{"id": 6001, "tournament": tournament.pk, "team": team.pk}]}, tmp_path
    )

    # then the roster is the team's members
    registration = Registration.objects.get(pk=6001)
    assert sorted(registration.roster.values_list("pk", flat=True)) == sorted(m.pk for m in members)


def test_a_stored_registration_of_another_tournament_is_refused(tmp_path: Path) -> None:
    tournament = TournamentFactory()
    home = RegistrationFactory(tournament=tournament)
    stranger = RegistrationFactory()
    late = {
        "id": 7001,
        "tournament": tournament.pk,
        "participant1": home.pk,
        "participant2": stranger.pk,
        "state": "live",
    }
    assert import_problems({"matches": [late]}, tmp_path) == [
        f"matches[0].participant2: registration {stranger.pk} is not in tournament "
        f"{tournament.pk} (it is in {stranger.tournament_id})"
    ]


def test_a_username_or_slug_of_another_stored_row_is_refused(tmp_path: Path) -> None:
    taken = UserFactory(username="taken")
    game = GameFactory(slug="valorant")
    bundle = {
        "users": [{"id": taken.pk + 1000, "username": "taken"}],
        "games": [{"id": game.pk + 1000, "slug": "valorant"}],
    }
    assert import_problems(bundle, tmp_path) == [
        f'games[0].slug: "valorant" is the slug of stored game {game.pk}',
        f'users[0].username: "taken" is the username of stored user {taken.pk}',
    ]


def test_a_tournament_cannot_change_type_under_its_stored_registrations(tmp_path: Path) -> None:
    # given an imported solo tournament with two user registrations
    bundle = valid_bundle()
    run_import(bundle, tmp_path)

    # when a file turns it into a team tournament without re-registering anyone
    retyped = {"tournaments": [dict(bundle["tournaments"][0], participation_type="team")]}

    # then both stored registrations are named
    assert import_problems(retyped, tmp_path) == [
        "tournaments[0].participation_type: stored registration 601 of this tournament names a "
        "user, which a team tournament does not take",
        "tournaments[0].participation_type: stored registration 602 of this tournament names a "
        "user, which a team tournament does not take",
    ]


def test_a_registration_cannot_leave_the_tournament_of_its_stored_matches(
    tmp_path: Path,
) -> None:
    bundle = valid_bundle()
    bundle["tournaments"].append({"id": 503, "name": "Other", "game": 101})
    run_import(bundle, tmp_path)
    moved = {"registrations": [dict(bundle["registrations"][0], tournament=503)]}
    assert import_problems(moved, tmp_path) == [
        f"registrations[0].tournament: stored match {pk} of tournament 501 has this "
        "registration as a participant"
        for pk in (701, 702, 703, 704)
    ]


def test_a_refusal_by_the_database_is_reported_as_a_problem(tmp_path: Path) -> None:
    # given two stored games
    run_import({"games": [{"id": 1, "slug": "alpha"}, {"id": 2, "slug": "beta"}]}, tmp_path)

    # when a file swaps their slugs (unique in the end, but checked row by row as written)
    swapped = {"games": [{"id": 1, "slug": "beta"}, {"id": 2, "slug": "alpha"}]}
    problems = import_problems(swapped, tmp_path)

    # then the database's refusal is the one problem reported, and nothing changed
    assert len(problems) == 1
    assert problems[0].startswith("database: the database refused the import: ")
    assert list(Game.objects.order_by("pk").values_list("slug", flat=True)) == ["alpha", "beta"]


# --- Standard input and dry run ------------------------------------------------------------------


def test_standard_input_is_read_for_a_dash() -> None:
    out = io.StringIO()
    call_command("import_results", "-", stdin=io.StringIO(json.dumps(valid_bundle())), stdout=out)
    assert out.getvalue().splitlines()[0] == "Imported standard input."
    assert Match.objects.count() == 4


def test_dry_run_validates_and_writes_nothing(tmp_path: Path) -> None:
    # given a valid bundle with ids far above every other test's
    bundle = valid_bundle()
    bundle["games"][0]["id"] = 990_000_001
    for tournament in bundle["tournaments"]:
        tournament["game"] = 990_000_001

    # when imported with --dry-run
    lines = run_import(bundle, tmp_path, "--dry-run")

    # then the counts are those of a real import, and nothing is stored or moved
    expected = {key: (count, 0, 0) for key, count in FULL_COUNTS.items()}
    path = tmp_path / "bundle.json"
    assert lines == [
        f"Dry run of {path}: the bundle is valid; nothing was written.",
        *summary(expected),
    ]
    assert row_counts() == NOTHING
    assert Game.objects.create(slug="after").pk < 990_000_001


def test_dry_run_reports_problems_like_an_import(tmp_path: Path) -> None:
    bundle = valid_bundle()
    del bundle["matches"][2]["winner"]
    assert import_problems(bundle, tmp_path, "--dry-run") == [
        "matches[2].winner: is required: a forfeit names its winner"
    ]


# --- Ids, sequences and invalidation -------------------------------------------------------------


def test_rows_created_after_an_import_do_not_collide_with_imported_ids(tmp_path: Path) -> None:
    # given a bundle with explicit ids far above the stored ones, for every table
    bundle = {
        "games": [{"id": 900_001, "slug": "late-game"}],
        "seasons": [{"id": 900_001, "slug": "late-season"}],
        "users": [{"id": 900_001}],
        "teams": [{"id": 900_001, "name": "Late"}],
        "tournaments": [{"id": 900_001, "name": "Late Cup", "game": 900_001}],
        "registrations": [
            {"id": 900_001, "tournament": 900_001, "user": 900_001},
            {"id": 900_002, "tournament": 900_001, "user": 900_001},
        ],
        "matches": [
            {
                "id": 900_001,
                "tournament": 900_001,
                "participant1": 900_001,
                "participant2": 900_002,
                "state": "live",
            }
        ],
        "payments": [{"id": 900_001, "registration": 900_001}],
        "disputes": [{"id": 900_001, "match": 900_001}],
    }

    # when it is imported, and rows are then created the ordinary way (ORM and factories)
    run_import(bundle, tmp_path)
    game = Game.objects.create(slug="next-game")
    season = Season.objects.create(slug="next-season")
    user = User.objects.create_user("next-user")
    team = Team.objects.create(name="Next")
    tournament = TournamentFactory(game=game)
    registration = RegistrationFactory(tournament=tournament, user=user)
    other = RegistrationFactory(tournament=tournament)
    match = Match.objects.create(
        tournament=tournament, participant1=registration, participant2=other, state="live"
    )
    payment = Payment.objects.create(registration=registration)
    dispute = Dispute.objects.create(match=match)

    # then each takes the next id after the imported ones (on SQLite and on PostgreSQL)
    assert [game.pk, season.pk, team.pk, tournament.pk, payment.pk, dispute.pk, match.pk] == [
        900_002
    ] * 7
    assert [registration.pk, other.pk] == [900_003, 900_004]
    assert user.pk == 900_002


@pytest.fixture
def announced() -> Iterator[list[tuple[list[int], set[BoardRef]]]]:
    """What is announced, call by call: (sorted tournament ids, boards named)."""
    calls: list[tuple[list[int], set[BoardRef]]] = []

    def record(sender: object, change: ResultChange, **kwargs: object) -> None:
        calls.append((sorted(change.tournament_ids), set(change.boards)))

    results_changed.connect(record, dispatch_uid="test_import_results")
    yield calls
    results_changed.disconnect(dispatch_uid="test_import_results")


def _placed(season: str | None, game: str, participant_type: str) -> set[BoardRef]:
    return Placement(season, game, participant_type).boards()


def test_an_import_announces_once_what_it_touched(tmp_path: Path, announced) -> None:
    bundle = valid_bundle()

    # when a bundle is imported: both new tournaments, in one announcement
    run_import(bundle, tmp_path)
    assert announced == [([501, 502], set())]

    # when the same bundle is imported again: nothing changed, nothing announced
    run_import(bundle, tmp_path)
    assert announced == [([501, 502], set())]

    # when a file moves tournament 501 out of its season, and gives registration 602 to user 303:
    # tournament 501, its old season boards, and user 302's history
    bundle["tournaments"][0]["season"] = None
    bundle["registrations"][1]["user"] = 303
    run_import(bundle, tmp_path)
    assert announced[-1] == (
        [501],
        _placed("2025-spring", "valorant", "solo") | {BoardRef.history(302)},
    )

    # when a file changes only a dispute: the tournament of its match
    bundle["disputes"][0]["status"] = "resolved"
    run_import(bundle, tmp_path)
    assert announced[-1] == ([501], _placed(None, "valorant", "solo"))

    # when a file renames the game's slug: every tournament of the game, at its old placement
    bundle["games"][0]["slug"] = "valorant-2"
    run_import(bundle, tmp_path)
    assert announced[-1] == (
        [501, 502],
        _placed(None, "valorant", "solo") | _placed(None, "valorant", "team"),
    )
    assert len(announced) == 4  # one per import that changed something


@pytest.mark.django_db(transaction=True)
def test_a_committed_import_invalidates_the_cached_board(tmp_path: Path) -> None:
    # given an imported tournament whose board is cached
    bundle = valid_bundle()
    run_import(bundle, tmp_path)
    board = BoardRef.tournament(501)
    version = store.read(board, None).version
    assert version is not None
    assert store.store_document(board, version, b'{"results": []}')
    assert is_cached(board)

    # when an import changes one of its matches and commits
    bundle["matches"][0]["score2"] = 9
    run_import(bundle, tmp_path)

    # then the cached board is gone
    assert not is_cached(board)


@pytest.mark.django_db(transaction=True)
def test_a_committed_import_leaves_one_change_applied_at_once(tmp_path: Path, announced) -> None:
    """One announcement, one outbox row in the import's transaction, one invalidation after the
    commit: the tournament, its old season board and the history of the user who lost the
    registration."""
    # given an imported bundle whose boards are cached
    bundle = valid_bundle()
    run_import(bundle, tmp_path)
    boards = [
        BoardRef.tournament(501),
        BoardRef(Scope.SEASON, season="2025-spring", participant_type="solo"),
        BoardRef.history(302),
    ]
    for board in boards:
        store.store_document(board, store.read(board, None).version or "", b"{}")
    recorded = PendingInvalidation.objects.count()

    # when a file changes a match, moves a tournament out of its season, gives a registration
    # to another user and resolves a dispute
    bundle["matches"][0]["score2"] = 9
    bundle["tournaments"][0]["season"] = None
    bundle["registrations"][1]["user"] = 303
    bundle["disputes"][0]["status"] = "resolved"
    run_import(bundle, tmp_path)

    # then one change was announced and recorded, and every one of those boards is gone
    assert len(announced) == 2
    assert PendingInvalidation.objects.count() in (recorded, recorded + 1)  # kept: embedded
    assert [is_cached(board) for board in boards] == [False, False, False]


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_import_leaves_the_cached_board(tmp_path: Path) -> None:
    bundle = valid_bundle()
    run_import(bundle, tmp_path)
    board = BoardRef.tournament(501)
    version = store.read(board, None).version
    assert version is not None
    assert store.store_document(board, version, b"{}")
    run_import(bundle, tmp_path)
    assert store.read(board, None).document == b"{}"


# --- Speed and query count -----------------------------------------------------------------------


def _league(match_count: int) -> dict[str, Any]:
    """A solo tournament of 64 players and `match_count` completed matches."""
    players = 64
    matches = []
    for number in range(match_count):
        home, away = number % players, (number * 7 + 1) % players
        away = away if away != home else (away + 1) % players
        matches.append(
            {
                "id": 100_000 + number,
                "tournament": 1,
                "participant1": 10_000 + home,
                "participant2": 10_000 + away,
                "round": number // 32 + 1,
                "match_number": number % 32 + 1,
                "score1": number % 3,
                "score2": (number // 3) % 3,
                "completed_at": "2025-03-01T18:00:00Z",
            }
        )
    return {
        "games": [{"id": 1, "slug": "league"}],
        "users": [{"id": 1_000 + player} for player in range(players)],
        "tournaments": [{"id": 1, "name": "League", "game": 1}],
        "registrations": [
            {"id": 10_000 + player, "tournament": 1, "user": 1_000 + player}
            for player in range(players)
        ],
        "matches": matches,
    }


@pytest.mark.slow
def test_a_thousand_matches_import_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    path = write_bundle(_league(1000), tmp_path)
    first, again = io.StringIO(), io.StringIO()

    call_command("import_results", str(path), stdout=first)
    call_command("import_results", str(path), stdout=again)

    assert Match.objects.count() == 1000
    assert "matches: 1000 created, 0 updated, 0 unchanged" in first.getvalue()
    assert "matches: 0 created, 0 updated, 1000 unchanged" in again.getvalue()


def test_the_query_count_does_not_grow_with_the_bundle(tmp_path: Path) -> None:
    def queries_for(match_count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            run_import(_league(match_count), tmp_path)
        for model in (Match, Registration, Tournament, Game, User):
            model.objects.all().delete()
        return len(captured.captured_queries)

    # A fixed number of lookups, plus one write per batch of rows (SQLite's batches are
    # smaller: at most 999 parameters per statement); never one query per record.
    assert queries_for(10) <= 25
    assert queries_for(400) <= 30
    assert queries_for(2000) <= 60


# --- The real command in a process of its own ----------------------------------------------------


@pytest.fixture(scope="module")
def command_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for `manage.py` on a freshly migrated SQLite file, no Redis."""
    database = tmp_path_factory.mktemp("import-db") / "db.sqlite3"
    environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    environment["DATABASE_URL"] = f"sqlite:///{database}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return environment


def manage(
    environment: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "import_results", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_command_exits_1_without_a_traceback_on_every_kind_of_failure(
    tmp_path: Path, command_environment: dict[str, str]
) -> None:
    broken = valid_bundle()
    broken["matches"][2].pop("winner")
    broken["matches"][0]["completed_at"] = None
    cases = {
        "malformed": write_bundle('{"games": [', tmp_path, "malformed.json"),
        "not an object": write_bundle("[1, 2]", tmp_path, "array.json"),
        "problems": write_bundle(broken, tmp_path, "broken.json"),
        "missing": tmp_path / "missing.json",
    }
    expected_last_lines = {
        "malformed": f"CommandError: {cases['malformed']}: malformed JSON at line 1 column 12: "
        "Expecting value",
        "not an object": "bundle: must be a JSON object with keys among games, seasons, users, "
        "teams, tournaments, registrations, matches, payments, disputes; got an array",
        "problems": "matches[2].winner: is required: a forfeit names its winner",
        "missing": f"CommandError: cannot read {cases['missing']}: No such file or directory",
    }
    for case, path in cases.items():
        finished = manage(command_environment, str(path))
        assert finished.returncode == 1, case
        assert "Traceback" not in finished.stderr + finished.stdout, case
        assert finished.stderr.strip().splitlines()[-1] == expected_last_lines[case], case
    finished = manage(command_environment, str(cases["problems"]))
    assert finished.stderr.strip().splitlines()[-3:] == [
        f"CommandError: {cases['problems']}: 2 problems; nothing was written.",
        "matches[0].completed_at: is required for a completed match",
        "matches[2].winner: is required: a forfeit names its winner",
    ]


@pytest.mark.slow
def test_the_command_imports_a_file_and_standard_input(
    tmp_path: Path, command_environment: dict[str, str]
) -> None:
    path = write_bundle(valid_bundle(), tmp_path)
    finished = manage(command_environment, str(path))
    assert finished.returncode == 0, finished.stderr
    assert f"Imported {path}." in finished.stdout
    assert "matches: 4 created, 0 updated, 0 unchanged" in finished.stdout

    finished = manage(command_environment, "-", stdin=json.dumps(valid_bundle()))
    assert finished.returncode == 0, finished.stderr
    assert "Imported standard input." in finished.stdout
    assert "matches: 0 created, 0 updated, 4 unchanged" in finished.stdout

    finished = manage(command_environment, "--dry-run", "-", stdin="{")
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines()[-1] == (
        "CommandError: standard input: malformed JSON at line 1 column 2: "
        "Expecting property name enclosed in double quotes"
    )


def test_the_documented_example_bundle_imports_as_documented(tmp_path: Path) -> None:
    guide = Path(__file__).resolve().parents[3] / "docs" / "admin" / "import_results.md"
    example = guide.read_text().split("```json\n", 1)[1].split("```", 1)[0]

    lines = run_import(json.loads(example), tmp_path)

    assert "matches: 1 created, 0 updated, 0 unchanged" in lines
    match = Match.objects.get(pk=1)
    assert (match.state, match.winner_id) == ("completed", 1)


@pytest.mark.parametrize("ruleset", ["swiss-buchholz", "cs-swiss"])
def test_the_swiss_rulesets_are_accepted_by_name(tmp_path: Path, ruleset: str) -> None:
    bundle = valid_bundle()
    bundle["tournaments"][0]["tiebreak_ruleset"] = ruleset

    run_import(bundle, tmp_path)

    assert Tournament.objects.get(pk=bundle["tournaments"][0]["id"]).tiebreak_ruleset == ruleset


def test_an_unknown_ruleset_is_refused_naming_the_four(tmp_path: Path) -> None:
    bundle = valid_bundle()
    bundle["tournaments"][0]["tiebreak_ruleset"] = "swiss"

    assert import_problems(bundle, tmp_path) == [
        "tournaments[0].tiebreak_ruleset: must be one of deltacrown-5step, head-to-head, "
        'swiss-buchholz, cs-swiss; got string "swiss"'
    ]
