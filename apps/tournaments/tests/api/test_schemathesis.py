"""Property-based API tests from our own OpenAPI schema (schemathesis).

Every operation is called with generated inputs as a player and as staff; no response may be a
5xx, and every response must match what the schema documents (status code, content type, body
shape, headers). Example counts are bounded so the suite stays fast; rate limits are raised
for this run only.
"""

from __future__ import annotations

from collections.abc import Iterator

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
    excluded = [positive_data_acceptance] if case.operation.path == SCOPED_PATH else []
    for token in api_tokens:
        case.call_and_validate(
            headers={"Authorization": f"Token {token}"}, excluded_checks=excluded
        )
