"""IDs only: no leaderboard, history or admin response carries a name, contact, reference,
file URL or note, at any depth (contract section 4, "IDs only")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.tournaments.models import DisputeStatus, MatchState, ParticipationType, PaymentStatus
from apps.tournaments.tests.factories import (
    DisputeFactory,
    MatchFactory,
    PaymentFactory,
    RegistrationFactory,
    SeasonFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)
from apps.tournaments.tests.scenarios import at

pytestmark = pytest.mark.django_db

FORBIDDEN_KEYS = {
    "username",
    "email",
    "display_name",
    "first_name",
    "last_name",
    "name",
    "tag",
    "ip",
    "ip_address",
    "transaction_reference",
    "transaction_id",
    "proof_file",
    "proof_url",
    "evidence",
    "evidence_url",
    "notes",
    "password",
}
SECRETS = [
    "leaky-username",
    "leak@example.test",
    "Leaky Display",
    "Leaky",
    "Secret Squad",
    "SQD",
    "Secret Spring Open",
    "TX-LEAK-0001",
    "proof-leak.png",
    "evidence-leak.png",
    "a private note",
]


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield path, key, child
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


@pytest.fixture
def leaky_world(flags_on):
    season = SeasonFactory(slug="2031-leak")
    leaky = UserFactory(
        username="leaky-username",
        email="leak@example.test",
        display_name="Leaky Display",
        first_name="Leaky",
        last_name="Leaky",
    )
    solo = TournamentFactory(name="Secret Spring Open", season=season, status="completed")
    mine = RegistrationFactory(tournament=solo, user=leaky)
    theirs = RegistrationFactory(tournament=solo)
    match = MatchFactory(participant1=mine, participant2=theirs, winner=mine, completed_at=at(1))
    MatchFactory(
        participant1=mine, participant2=theirs, state=MatchState.DISPUTED, completed_at=None
    )
    PaymentFactory(
        registration=mine,
        status=PaymentStatus.VERIFIED,
        transaction_reference="TX-LEAK-0001",
        proof_file="payment_proofs/proof-leak.png",
        verified_by=UserFactory(username="verifier", is_staff=True),
        submitted_at=at(0),
        verified_at=at(1),
    )
    DisputeFactory(
        match=match,
        opened_by=theirs,
        status=DisputeStatus.RESOLVED,
        evidence="dispute_evidence/evidence-leak.png",
        notes="a private note",
        resolved_at=at(2),
    )
    team_cup = TournamentFactory(
        name="Secret Spring Open",
        participation_type=ParticipationType.TEAM,
        season=season,
        status="completed",
    )
    squad = TeamFactory(name="Secret Squad", tag="SQD", members=[leaky])
    RegistrationFactory(tournament=team_cup, user=None, team=squad)
    return {"leaky": leaky, "solo": solo, "team_cup": team_cup, "season": season}


def test_no_response_leaks_names_references_or_notes(player_client, staff_client, leaky_world):
    solo, team_cup = leaky_world["solo"].pk, leaky_world["team_cup"].pk
    user = leaky_world["leaky"].pk
    season = leaky_world["season"].slug
    public = [
        f"/api/tournaments/{solo}/leaderboard/",
        f"/api/tournaments/{team_cup}/leaderboard/",
        f"/api/tournaments/leaderboards/participant/{user}/history/",
        f"/api/tournaments/leaderboards/scoped/?scope=season&season={season}",
        f"/api/tournaments/leaderboards/scoped/?scope=season&season={season}&participant_type=team",
        "/api/tournaments/leaderboards/scoped/?scope=all_time",
        f"/api/tournaments/leaderboards/scoped/?scope=tournament&tournament_id={solo}",
    ]
    admin = [
        f"/api/admin/leaderboards/inspect/{solo}/",
        f"/api/admin/leaderboards/inspect/{team_cup}/",
        "/api/admin/leaderboards/cache/status/",
        f"/api/admin/tournaments/{solo}/payments/",
        f"/api/admin/tournaments/{solo}/matches/",
        f"/api/admin/tournaments/{solo}/disputes/",
    ]
    responses = [player_client.get(url) for url in public]
    responses += [staff_client.get(url) for url in public + admin]
    responses.append(
        staff_client.post(
            "/api/admin/leaderboards/cache/invalidate/", {"tournament_id": solo}, format="json"
        )
    )

    for response in responses:
        assert response.status_code == 200, (response.request["PATH_INFO"], response.content)
        body = response.json()
        for path, key, _ in _walk(body):
            assert key not in FORBIDDEN_KEYS, f"{response.request['PATH_INFO']}: {path}.{key}"
        text = response.content.decode()
        for secret in SECRETS:
            assert secret not in text, f"{response.request['PATH_INFO']} leaks {secret!r}"


def test_the_walker_finds_a_nested_forbidden_key():
    body = {"results": [{"rank": 1, "meta": {"email": "x"}}]}

    assert ("$.results[0].meta", "email", "x") in list(_walk(body))
