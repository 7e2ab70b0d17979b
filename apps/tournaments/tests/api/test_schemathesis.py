"""Property-based API tests from our own OpenAPI schema (schemathesis).

Every operation is called with generated inputs as a player and as staff; no response may be a
5xx, and every response must match what the schema documents (status code, content type, body
shape, headers). Example counts are bounded so the suite stays fast; rate limits are raised
for this run only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from apps.tournaments.tests.factories import SeasonFactory, UserFactory
from apps.tournaments.tests.scenarios import build_round_robin, build_solo_cup

# Django's handler itself: importing deltacrown.wsgi would make the test process a serving
# process (a housekeeping thread draining the test database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
SCOPED_PATH = "/api/tournaments/leaderboards/scoped/"


def _instant(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


@schema.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    return respects_board_rules(query)


def respects_board_rules(query: dict[str, Any] | None) -> bool:
    """Whether a query respects the board parameters' rules across parameters (contract
    section 9), which OpenAPI cannot state: `around` or `ids` without `page` / `page_size`, not
    both, `size` only with `around`, `compare_to` not after `as_of`, instants that stay within
    years 1-9999 in UTC, `me` not on a season or all-time team board. Generated queries are
    kept to these; the schema's examples (combined into one query) may break them."""
    if not query:
        return True
    chosen = [name for name in ("around", "ids") if name in query]
    if len(chosen) == 2 or (chosen and ({"page", "page_size"} & set(query))):
        return False
    if "size" in query and "around" not in query:
        return False
    instants = {name: query[name] for name in ("as_of", "compare_to") if name in query}
    parsed = {name: _instant(str(text)) for name, text in instants.items()}
    if any(value is None for value in parsed.values()):
        return False
    if len(parsed) == 2 and parsed["compare_to"] > parsed["as_of"]:  # type: ignore[operator]
        return False
    team_board = query.get("participant_type") == "team" and query.get("scope") != "tournament"
    return not (query.get("around") == "me" and team_board)


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Calling the WSGI app directly fires request_finished, whose close_old_connections would
    close the connection holding the test transaction; Django's own test client detaches it
    the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_tokens(db, flags_on, settings, keep_test_connection) -> list[str]:
    settings.LEADERBOARD_RATE_LIMITS = {"public": 100_000, "admin": 100_000, "invalidate": 100_000}
    season = SeasonFactory(slug="2031-spring")
    build_solo_cup(season=season, status="completed")
    build_round_robin(4, tiebreak_ruleset="head-to-head")
    player = UserFactory(username="schema-player")
    staff = UserFactory(username="schema-staff", is_staff=True)
    return [Token.objects.create(user=user).key for user in (player, staff)]


@pytest.mark.slow
@schema.parametrize()
@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_conforms_to_its_schema(case, api_tokens):
    # A well-formed game slug that names no game is a 400 by contract; the schema cannot list
    # the games (they are data), so "schema-valid but rejected" is expected there only.
    # The same for a query that breaks a rule across parameters (`respects_board_rules`).
    rejected_by_contract = case.operation.path == SCOPED_PATH or not respects_board_rules(
        case.query
    )
    excluded = [positive_data_acceptance] if rejected_by_contract else []
    for token in api_tokens:
        case.call_and_validate(
            headers={"Authorization": f"Token {token}"}, excluded_checks=excluded
        )
