"""Staff tournament operations: payments, matches and disputes (contract section 4, items 7-9).

Most tests read one small hand-made tournament (`ops`): three solo registrations, four payments,
three matches and three disputes, plus a second tournament whose rows must never show up.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.models import User
from apps.tournaments.api.admin_tournament_ops import (
    AdminDisputeListSerializer,
    AdminMatchListSerializer,
    AdminPaymentListSerializer,
    TournamentDisputesView,
    TournamentMatchesView,
    TournamentPaymentsView,
)
from apps.tournaments.models import (
    Dispute,
    DisputeReason,
    DisputeStatus,
    Match,
    MatchState,
    ParticipationType,
    Payment,
    PaymentStatus,
    Registration,
    Tournament,
    TournamentStatus,
)
from apps.tournaments.services.tournament_ops import (
    DISPUTES,
    MATCHES,
    PAYMENTS,
    RowCounts,
    TournamentRows,
    count_rows,
    rows,
)
from apps.tournaments.tests.factories import (
    BASE_TIME,
    DisputeFactory,
    GameFactory,
    MatchFactory,
    PaymentFactory,
    RegistrationFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)

T0 = BASE_TIME  # 2031-06-01T10:00:00Z


def at(**delta: int) -> dt.datetime:
    return T0 + dt.timedelta(**delta)


def payments_url(tournament_id: int) -> str:
    return f"/api/admin/tournaments/{tournament_id}/payments/"


def matches_url(tournament_id: int) -> str:
    return f"/api/admin/tournaments/{tournament_id}/matches/"


def disputes_url(tournament_id: int) -> str:
    return f"/api/admin/tournaments/{tournament_id}/disputes/"


ALL_URLS = (payments_url, matches_url, disputes_url)

# Values seeded into the database that no response may contain.
SECRETS = (
    "TXREF-ALPHA-7731",
    "TXREF-BRAVO-2284",
    "TXREF-DELTA-9902",
    "TXREF-OTHER-0001",
    "alice-secret",
    "bob-secret",
    "carol-secret",
    "alice.hidden@example.test",
    "bob.hidden@example.test",
    "carol.hidden@example.test",
    "Alice Display",
    "Bob Display",
    "Carol Display",
    "Alicia",
    "Hiddenlast",
    "Secret Cup Name",
    "alpha-receipt",
    "carol-screenshot",
    "private note about carol",
    "resolved privately",
    "api-staff",
)

FORBIDDEN_KEYS = frozenset(
    {
        "username",
        "email",
        "display_name",
        "first_name",
        "last_name",
        "ip",
        "transaction_reference",
        "notes",
        "name",
        "proof_file",
        "evidence",
    }
)


@dataclass(frozen=True)
class OpsWorld:
    tournament: Tournament
    other: Tournament
    alice: Registration
    bob: Registration
    carol: Registration
    verifier: User
    payments: tuple[Payment, ...]
    matches: tuple[Match, ...]
    disputes: tuple[Dispute, ...]


def _user(handle: str, title: str) -> User:
    return UserFactory(
        username=f"{handle}-secret",
        email=f"{handle}.hidden@example.test",
        display_name=f"{title} Display",
        first_name="Alicia" if handle == "alice" else title,
        last_name="Hiddenlast",
    )


@pytest.fixture
def ops(staff) -> OpsWorld:
    game = GameFactory(slug="ops-game")
    tournament = TournamentFactory(name="Secret Cup Name", game=game)
    other = TournamentFactory(game=game)
    alice = RegistrationFactory(tournament=tournament, user=_user("alice", "Alice"))
    bob = RegistrationFactory(tournament=tournament, user=_user("bob", "Bob"))
    carol = RegistrationFactory(tournament=tournament, user=_user("carol", "Carol"))

    payments = (
        PaymentFactory(
            registration=alice,
            amount="10.00",
            method="bkash",
            status=PaymentStatus.VERIFIED,
            transaction_reference="TXREF-ALPHA-7731",
            proof_file="payment_proofs/alpha-receipt.png",
            submitted_at=at(hours=1),
            verified_at=at(hours=2),
            verified_by=staff,
        ),
        PaymentFactory(
            registration=bob,
            amount="250.5",
            method="nagad",
            status=PaymentStatus.SUBMITTED,
            transaction_reference="TXREF-BRAVO-2284",
            submitted_at=at(hours=3),
        ),
        PaymentFactory(
            registration=carol,
            amount="0",
            method="",
            status=PaymentStatus.PENDING,
            transaction_reference="",
        ),
        PaymentFactory(
            registration=alice,
            amount="1234.56",
            method="bank",
            status=PaymentStatus.REFUNDED,
            transaction_reference="TXREF-DELTA-9902",
            proof_file="payment_proofs/alpha-receipt-2.png",
            submitted_at=at(minutes=5),
            verified_at=at(minutes=50),
            verified_by=staff,
        ),
    )
    other_registration = RegistrationFactory(tournament=other)
    PaymentFactory(
        registration=other_registration,
        status=PaymentStatus.REJECTED,
        transaction_reference="TXREF-OTHER-0001",
    )

    matches = (
        MatchFactory(
            participant1=alice,
            participant2=bob,
            round=1,
            match_number=1,
            state=MatchState.COMPLETED,
            score1=2,
            score2=1,
            winner=alice,
            scheduled_at=T0,
            started_at=at(minutes=10),
            completed_at=at(minutes=40),
        ),
        MatchFactory(
            participant1=bob,
            participant2=carol,
            round=1,
            match_number=2,
            state=MatchState.DISPUTED,
            score1=1,
            score2=1,
            scheduled_at=T0,
            started_at=at(minutes=10),
            completed_at=None,
        ),
        MatchFactory(
            participant1=alice,
            participant2=carol,
            round=2,
            match_number=1,
            state=MatchState.SCHEDULED,
            scheduled_at=at(days=1),
            completed_at=None,
        ),
    )
    other_match = MatchFactory(
        participant1=other_registration,
        participant2=RegistrationFactory(tournament=other),
        state=MatchState.CANCELLED,
        completed_at=None,
    )
    DisputeFactory(match=other_match, status=DisputeStatus.ESCALATED, opened_at=T0)

    disputes = (
        DisputeFactory(
            match=matches[1],
            opened_by=carol,
            reason=DisputeReason.SCORE_MISMATCH,
            status=DisputeStatus.OPEN,
            evidence="dispute_evidence/carol-screenshot.png",
            notes="private note about carol",
            opened_at=at(hours=1),
        ),
        DisputeFactory(
            match=matches[1],
            opened_by=bob,
            reason=DisputeReason.CHEATING,
            status=DisputeStatus.RESOLVED,
            notes="resolved privately",
            opened_at=at(hours=2),
            resolved_at=at(hours=5),
            resolved_by=staff,
        ),
        DisputeFactory(
            match=matches[0],
            opened_by=None,
            reason=DisputeReason.NO_SHOW,
            status=DisputeStatus.DISMISSED,
            opened_at=at(hours=3),
            resolved_at=at(hours=4),
            resolved_by=staff,
        ),
    )
    return OpsWorld(tournament, other, alice, bob, carol, staff, payments, matches, disputes)


# --- expected rows, written out ------------------------------------------------------------------


def expected_payments(world: OpsWorld) -> list[dict[str, Any]]:
    p1, p2, p3, p4 = world.payments
    return [
        {
            "payment_id": p1.pk,
            "registration_id": world.alice.pk,
            "participant_id": world.alice.user_id,
            "team_id": None,
            "status": "verified",
            "method": "bkash",
            "amount": "10.00",
            "submitted_at": "2031-06-01T11:00:00Z",
            "verified_at": "2031-06-01T12:00:00Z",
            "verified_by_id": world.verifier.pk,
            "has_payment_proof": True,
        },
        {
            "payment_id": p2.pk,
            "registration_id": world.bob.pk,
            "participant_id": world.bob.user_id,
            "team_id": None,
            "status": "submitted",
            "method": "nagad",
            "amount": "250.50",
            "submitted_at": "2031-06-01T13:00:00Z",
            "verified_at": None,
            "verified_by_id": None,
            "has_payment_proof": False,
        },
        {
            "payment_id": p3.pk,
            "registration_id": world.carol.pk,
            "participant_id": world.carol.user_id,
            "team_id": None,
            "status": "pending",
            "method": "",
            "amount": "0.00",
            "submitted_at": None,
            "verified_at": None,
            "verified_by_id": None,
            "has_payment_proof": False,
        },
        {
            "payment_id": p4.pk,
            "registration_id": world.alice.pk,
            "participant_id": world.alice.user_id,
            "team_id": None,
            "status": "refunded",
            "method": "bank",
            "amount": "1234.56",
            "submitted_at": "2031-06-01T10:05:00Z",
            "verified_at": "2031-06-01T10:50:00Z",
            "verified_by_id": world.verifier.pk,
            "has_payment_proof": True,
        },
    ]


PAYMENT_BREAKDOWN = {"pending": 1, "submitted": 1, "verified": 1, "rejected": 0, "refunded": 1}


def expected_matches(world: OpsWorld) -> list[dict[str, Any]]:
    m1, m2, m3 = world.matches
    return [
        {
            "match_id": m1.pk,
            "round": 1,
            "match_number": 1,
            "state": "completed",
            "participant1_registration_id": world.alice.pk,
            "participant2_registration_id": world.bob.pk,
            "score1": 2,
            "score2": 1,
            "winner_registration_id": world.alice.pk,
            "scheduled_at": "2031-06-01T10:00:00Z",
            "started_at": "2031-06-01T10:10:00Z",
            "completed_at": "2031-06-01T10:40:00Z",
            "dispute_count": 1,
        },
        {
            "match_id": m2.pk,
            "round": 1,
            "match_number": 2,
            "state": "disputed",
            "participant1_registration_id": world.bob.pk,
            "participant2_registration_id": world.carol.pk,
            "score1": 1,
            "score2": 1,
            "winner_registration_id": None,
            "scheduled_at": "2031-06-01T10:00:00Z",
            "started_at": "2031-06-01T10:10:00Z",
            "completed_at": None,
            "dispute_count": 2,
        },
        {
            "match_id": m3.pk,
            "round": 2,
            "match_number": 1,
            "state": "scheduled",
            "participant1_registration_id": world.alice.pk,
            "participant2_registration_id": world.carol.pk,
            "score1": 0,
            "score2": 0,
            "winner_registration_id": None,
            "scheduled_at": "2031-06-02T10:00:00Z",
            "started_at": None,
            "completed_at": None,
            "dispute_count": 0,
        },
    ]


MATCH_BREAKDOWN = {
    "scheduled": 1,
    "live": 0,
    "pending_result": 0,
    "completed": 1,
    "forfeit": 0,
    "disputed": 1,
    "cancelled": 0,
}


def expected_disputes(world: OpsWorld) -> list[dict[str, Any]]:
    d1, d2, d3 = world.disputes
    m1, m2, _ = world.matches
    return [
        {
            "dispute_id": d1.pk,
            "match_id": m2.pk,
            "status": "open",
            "reason": "score_mismatch",
            "opened_by_registration_id": world.carol.pk,
            "resolved_by_id": None,
            "opened_at": "2031-06-01T11:00:00Z",
            "resolved_at": None,
            "has_evidence": True,
        },
        {
            "dispute_id": d2.pk,
            "match_id": m2.pk,
            "status": "resolved",
            "reason": "cheating",
            "opened_by_registration_id": world.bob.pk,
            "resolved_by_id": world.verifier.pk,
            "opened_at": "2031-06-01T12:00:00Z",
            "resolved_at": "2031-06-01T15:00:00Z",
            "has_evidence": False,
        },
        {
            "dispute_id": d3.pk,
            "match_id": m1.pk,
            "status": "dismissed",
            "reason": "no_show",
            "opened_by_registration_id": None,
            "resolved_by_id": world.verifier.pk,
            "opened_at": "2031-06-01T13:00:00Z",
            "resolved_at": "2031-06-01T14:00:00Z",
            "has_evidence": False,
        },
    ]


DISPUTE_BREAKDOWN = {"open": 1, "under_review": 0, "resolved": 1, "escalated": 0, "dismissed": 1}


def pagination(total: int, limit: int = 100, offset: int = 0, *, has_more: bool = False) -> dict:
    return {"limit": limit, "offset": offset, "total": total, "has_more": has_more}


def pick(rows: list[dict[str, Any]], *indexes: int) -> list[dict[str, Any]]:
    return [rows[index] for index in indexes]


# --- payments -----------------------------------------------------------------------------------


def test_payments_exact_json(staff_client, ops):
    # when
    response = staff_client.get(payments_url(ops.tournament.pk))

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": ops.tournament.pk,
        "payment_count": 4,
        "status_breakdown": PAYMENT_BREAKDOWN,
        "pagination": pagination(4),
        "payments": expected_payments(ops),
    }
    assert list(response.json()) == [
        "tournament_id",
        "payment_count",
        "status_breakdown",
        "pagination",
        "payments",
    ]


@pytest.mark.parametrize(
    ("status", "indexes"),
    [
        ("pending", (2,)),
        ("submitted", (1,)),
        ("verified", (0,)),
        ("rejected", ()),
        ("refunded", (3,)),
    ],
)
def test_payments_status_filter_narrows_rows_not_the_breakdown(staff_client, ops, status, indexes):
    # when
    response = staff_client.get(payments_url(ops.tournament.pk), {"status": status})

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": ops.tournament.pk,
        "payment_count": len(indexes),
        "status_breakdown": PAYMENT_BREAKDOWN,
        "pagination": pagination(len(indexes)),
        "payments": pick(expected_payments(ops), *indexes),
    }


def test_payments_of_a_team_registration_carry_the_team_id(staff_client, staff):
    # given a team tournament with one payment by a team
    member = UserFactory(username="team-member-secret")
    team = TeamFactory(name="Secret Team Name", members=[member])
    tournament = TournamentFactory(participation_type=ParticipationType.TEAM)
    registration = RegistrationFactory(tournament=tournament, user=None, team=team)
    payment = PaymentFactory(
        registration=registration, amount="99.99", method="rocket", submitted_at=T0
    )

    # when
    response = staff_client.get(payments_url(tournament.pk))

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": tournament.pk,
        "payment_count": 1,
        "status_breakdown": {**dict.fromkeys(PaymentStatus.values, 0), "pending": 1},
        "pagination": pagination(1),
        "payments": [
            {
                "payment_id": payment.pk,
                "registration_id": registration.pk,
                "participant_id": None,
                "team_id": team.pk,
                "status": "pending",
                "method": "rocket",
                "amount": "99.99",
                "submitted_at": "2031-06-01T10:00:00Z",
                "verified_at": None,
                "verified_by_id": None,
                "has_payment_proof": False,
            }
        ],
    }
    assert "Secret Team Name" not in response.content.decode()
    assert "team-member-secret" not in response.content.decode()


def test_tournament_without_rows_has_zero_breakdowns_and_empty_lists(staff_client):
    # given
    tournament = TournamentFactory()

    # when
    payments = staff_client.get(payments_url(tournament.pk))
    matches = staff_client.get(matches_url(tournament.pk))
    disputes = staff_client.get(disputes_url(tournament.pk))

    # then
    assert payments.json() == {
        "tournament_id": tournament.pk,
        "payment_count": 0,
        "status_breakdown": dict.fromkeys(PaymentStatus.values, 0),
        "pagination": pagination(0),
        "payments": [],
    }
    assert matches.json() == {
        "tournament_id": tournament.pk,
        "match_count": 0,
        "state_breakdown": dict.fromkeys(MatchState.values, 0),
        "pagination": pagination(0),
        "matches": [],
    }
    assert disputes.json() == {
        "tournament_id": tournament.pk,
        "dispute_count": 0,
        "status_breakdown": dict.fromkeys(DisputeStatus.values, 0),
        "pagination": pagination(0),
        "disputes": [],
    }


# --- matches ------------------------------------------------------------------------------------


def test_matches_exact_json(staff_client, ops):
    # when
    response = staff_client.get(matches_url(ops.tournament.pk))

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": ops.tournament.pk,
        "match_count": 3,
        "state_breakdown": MATCH_BREAKDOWN,
        "pagination": pagination(3),
        "matches": expected_matches(ops),
    }


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        ({"state": "completed"}, (0,)),
        ({"state": "disputed"}, (1,)),
        ({"state": "scheduled"}, (2,)),
        ({"state": "forfeit"}, ()),
        ({"round": "1"}, (0, 1)),
        ({"round": "2"}, (2,)),
        ({"round": "3"}, ()),
        ({"round": "2147483647"}, ()),
        ({"state": "disputed", "round": "1"}, (1,)),
        ({"state": "disputed", "round": "2"}, ()),
    ],
)
def test_matches_state_and_round_filters(staff_client, ops, query, indexes):
    # when
    response = staff_client.get(matches_url(ops.tournament.pk), query)

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": ops.tournament.pk,
        "match_count": len(indexes),
        "state_breakdown": MATCH_BREAKDOWN,
        "pagination": pagination(len(indexes)),
        "matches": pick(expected_matches(ops), *indexes),
    }


# --- disputes -----------------------------------------------------------------------------------


def test_disputes_exact_json(staff_client, ops):
    # when
    response = staff_client.get(disputes_url(ops.tournament.pk))

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": ops.tournament.pk,
        "dispute_count": 3,
        "status_breakdown": DISPUTE_BREAKDOWN,
        "pagination": pagination(3),
        "disputes": expected_disputes(ops),
    }


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        ({"status": "open"}, (0,)),
        ({"status": "resolved"}, (1,)),
        ({"status": "dismissed"}, (2,)),
        ({"status": "under_review"}, ()),
        ({"status": "escalated"}, ()),
        ({"reason": "score_mismatch"}, (0,)),
        ({"reason": "cheating"}, (1,)),
        ({"reason": "no_show"}, (2,)),
        ({"reason": "technical_issue"}, ()),
        ({"reason": "other"}, ()),
        ({"status": "resolved", "reason": "cheating"}, (1,)),
        ({"status": "open", "reason": "cheating"}, ()),
    ],
)
def test_disputes_status_and_reason_filters(staff_client, ops, query, indexes):
    # when
    response = staff_client.get(disputes_url(ops.tournament.pk), query)

    # then
    assert response.status_code == 200
    assert response.json() == {
        "tournament_id": ops.tournament.pk,
        "dispute_count": len(indexes),
        "status_breakdown": DISPUTE_BREAKDOWN,
        "pagination": pagination(len(indexes)),
        "disputes": pick(expected_disputes(ops), *indexes),
    }


# --- validation ---------------------------------------------------------------------------------

PAYMENT_STATUSES = "pending, submitted, verified, rejected, refunded"
MATCH_STATES = "scheduled, live, pending_result, completed, forfeit, disputed, cancelled"
DISPUTE_STATUSES = "open, under_review, resolved, escalated, dismissed"
DISPUTE_REASONS = "score_mismatch, no_show, cheating, technical_issue, other"


@pytest.mark.parametrize(
    ("url", "field", "value", "valid"),
    [
        (payments_url, "status", "paid", PAYMENT_STATUSES),
        (payments_url, "status", "VERIFIED", PAYMENT_STATUSES),
        (payments_url, "status", "", PAYMENT_STATUSES),
        (payments_url, "status", "100% sure", PAYMENT_STATUSES),
        (matches_url, "state", "finished", MATCH_STATES),
        (matches_url, "state", "Completed", MATCH_STATES),
        (disputes_url, "status", "closed", DISPUTE_STATUSES),
        (disputes_url, "status", "OPEN", DISPUTE_STATUSES),
        (disputes_url, "reason", "rage_quit", DISPUTE_REASONS),
        (disputes_url, "reason", "No_Show", DISPUTE_REASONS),
    ],
)
def test_unknown_filter_values_are_400_listing_the_valid_values(
    staff_client, ops, url, field, value, valid
):
    # when
    response = staff_client.get(url(ops.tournament.pk), {field: value})

    # then
    assert response.status_code == 400
    message = f"{value!r} is not a valid choice; valid values: {valid}."
    assert response.json() == {
        "error_code": "VALIDATION_ERROR",
        "detail": f"Invalid {field}: {message}",
        "errors": {field: [message]},
    }


@pytest.mark.parametrize("url", ALL_URLS)
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("limit", "0", "Must be an integer between 1 and 500; got 0."),
        ("limit", "501", "Must be an integer between 1 and 500; got 501."),
        ("limit", "-3", "Must be an integer between 1 and 500; got -3."),
        ("limit", "ten", "Must be an integer between 1 and 500."),
        ("limit", "2.5", "Must be an integer between 1 and 500."),
        ("limit", "", "Must be an integer between 1 and 500."),
        ("limit", "9" * 40, "Must be an integer between 1 and 500."),
        ("offset", "-1", "Must be an integer at least 0; got -1."),
        ("offset", "abc", "Must be an integer at least 0."),
        ("offset", "1e3", "Must be an integer at least 0."),
        ("offset", "", "Must be an integer at least 0."),
    ],
)
def test_bad_limit_or_offset_is_400_naming_the_field(staff_client, ops, url, field, value, message):
    # when
    response = staff_client.get(url(ops.tournament.pk), {field: value})

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "VALIDATION_ERROR",
        "detail": f"Invalid {field}: {message}",
        "errors": {field: [message]},
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Must be an integer between 1 and 2147483647; got 0."),
        ("-1", "Must be an integer between 1 and 2147483647; got -1."),
        ("2147483648", "Must be an integer between 1 and 2147483647; got 2147483648."),
        ("first", "Must be an integer between 1 and 2147483647."),
        ("1.0", "Must be an integer between 1 and 2147483647."),
    ],
)
def test_bad_round_is_400(staff_client, ops, value, message):
    # when
    response = staff_client.get(matches_url(ops.tournament.pk), {"round": value})

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == {"round": [message]}


def test_every_bad_parameter_is_reported_at_once(staff_client, ops):
    # when
    response = staff_client.get(
        disputes_url(ops.tournament.pk),
        {"status": "x", "reason": "y", "limit": "0", "offset": "-1"},
    )

    # then: the filters first, in their declared order, then the window
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"status", "reason", "limit", "offset"}
    assert list(response.json()["errors"]) == ["status", "reason", "limit", "offset"]
    assert response.json()["detail"].startswith("Invalid status: ")


# --- limit, offset, has_more --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "offset", "indexes", "has_more"),
    [
        (2, 0, (0, 1), True),
        (2, 2, (2, 3), False),
        (3, 0, (0, 1, 2), True),
        (4, 0, (0, 1, 2, 3), False),
        (1, 3, (3,), False),
        (500, 0, (0, 1, 2, 3), False),
        (2, 1, (1, 2), True),
        (100, 4, (), False),
        (100, 5, (), False),
        (1, 9_223_372_036_854_775_807, (), False),
        (1, 10**30, (), False),
    ],
)
def test_payments_limit_offset_and_has_more(staff_client, ops, limit, offset, indexes, has_more):
    # when
    response = staff_client.get(
        payments_url(ops.tournament.pk), {"limit": str(limit), "offset": str(offset)}
    )

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["payments"] == pick(expected_payments(ops), *indexes)
    assert body["pagination"] == pagination(4, limit, offset, has_more=has_more)
    assert body["payment_count"] == 4
    assert body["status_breakdown"] == PAYMENT_BREAKDOWN


def test_an_offset_of_absurd_length_is_400(staff_client, ops):
    # when
    response = staff_client.get(payments_url(ops.tournament.pk), {"offset": "9" * 1001})

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "offset": ["Must be an integer at least 0 with at most 1000 digits."]
    }


def test_paging_applies_after_the_filter(staff_client, ops):
    # when: the second disputed-or-completed match of round 1, one per page
    first = staff_client.get(matches_url(ops.tournament.pk), {"round": "1", "limit": "1"})
    second = staff_client.get(
        matches_url(ops.tournament.pk), {"round": "1", "limit": "1", "offset": "1"}
    )

    # then
    assert first.json()["matches"] == pick(expected_matches(ops), 0)
    assert first.json()["pagination"] == pagination(2, 1, 0, has_more=True)
    assert second.json()["matches"] == pick(expected_matches(ops), 1)
    assert second.json()["pagination"] == pagination(2, 1, 1, has_more=False)
    assert second.json()["match_count"] == 2


@pytest.mark.parametrize(
    ("url", "rows_key", "limit", "offset", "count", "has_more"),
    [
        (matches_url, "matches", 2, 1, 2, False),
        (matches_url, "matches", 1, 1, 1, True),
        (matches_url, "matches", 5, 3, 0, False),
        (disputes_url, "disputes", 2, 0, 2, True),
        (disputes_url, "disputes", 2, 2, 1, False),
        (disputes_url, "disputes", 1, 99, 0, False),
    ],
)
def test_matches_and_disputes_paging(
    staff_client, ops, url, rows_key, limit, offset, count, has_more
):
    # when
    response = staff_client.get(
        url(ops.tournament.pk), {"limit": str(limit), "offset": str(offset)}
    )

    # then
    assert response.status_code == 200
    body = response.json()
    assert len(body[rows_key]) == count
    assert body["pagination"] == pagination(3, limit, offset, has_more=has_more)


# --- query counts -------------------------------------------------------------------------------


def _grow(tournament: Tournament, rows: int) -> None:
    """`rows` payments, matches (each with two disputes) in a two-player tournament."""
    first = RegistrationFactory(tournament=tournament)
    second = RegistrationFactory(tournament=tournament)
    for number in range(rows):
        PaymentFactory(registration=first if number % 2 else second, verified_by=UserFactory())
        match = MatchFactory(
            participant1=first,
            participant2=second,
            match_number=number + 1,
            winner=first,
        )
        DisputeFactory(match=match, opened_by=first, resolved_by=UserFactory())
        DisputeFactory(match=match, opened_by=second)


@pytest.fixture
def small_and_large(db) -> tuple[Tournament, Tournament]:
    small = TournamentFactory()
    large = TournamentFactory()
    _grow(small, 2)
    _grow(large, 20)
    return small, large


def first_page(
    kind: TournamentRows, tournament_id: int, limit: int = 500
) -> tuple[RowCounts, list[dict[str, Any]]]:
    """What a listing's paginator asks of the selectors for its first page, unfiltered."""
    matching = rows(kind, tournament_id)
    return count_rows(kind, tournament_id, matching), list(matching[:limit])


@pytest.mark.parametrize("size", ["small", "large"])
def test_selectors_run_two_queries_whatever_the_page_size(
    small_and_large, django_assert_num_queries, size
):
    # given
    small, large = small_and_large
    tournament, row_count = (small, 2) if size == "small" else (large, 20)

    # when / then: one aggregate (existence, breakdown, total) and one page query each
    with django_assert_num_queries(2):
        payment_counts, payments = first_page(PAYMENTS, tournament.pk)
    with django_assert_num_queries(2):
        match_counts, matches = first_page(MATCHES, tournament.pk)
    with django_assert_num_queries(2):
        dispute_counts, disputes = first_page(DISPUTES, tournament.pk)
    assert len(payments) == payment_counts.matching == row_count
    assert [row["dispute_count"] for row in matches] == [2] * row_count
    assert match_counts.matching == row_count
    assert len(disputes) == dispute_counts.matching == 2 * row_count


def test_the_count_is_of_the_narrowed_rows_and_the_breakdown_of_all(
    small_and_large, django_assert_num_queries
):
    # given: the large tournament's payments, narrowed to the pending ones, and another
    # tournament's rows that must not be counted
    small, large = small_and_large
    pending = rows(PAYMENTS, large.pk).filter(status=PaymentStatus.PENDING)
    everything = Payment.objects.all()

    # when / then
    with django_assert_num_queries(1):
        narrowed = count_rows(PAYMENTS, large.pk, pending)
    with django_assert_num_queries(1):
        unnarrowed = count_rows(PAYMENTS, small.pk, everything)
    assert narrowed == RowCounts(
        breakdown={**dict.fromkeys(PaymentStatus.values, 0), "pending": 20}, matching=20
    )
    assert unnarrowed.matching == 2
    assert count_rows(PAYMENTS, large.pk, pending.filter(status="verified")).matching == 0


def _listing_queries(url: str, client: Any) -> list[str]:
    """The SQL of one listing request, without the authentication's own queries."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries if "authtoken" not in query["sql"]]


@pytest.mark.parametrize("url", ALL_URLS)
def test_endpoints_run_two_queries_and_skip_the_page_query_past_the_end(
    staff_client, small_and_large, url
):
    # given
    small, _ = small_and_large
    staff_client.get(url(small.pk))  # warm up anything done once per process
    total = staff_client.get(url(small.pk)).json()["pagination"]["total"]

    # when
    first = _listing_queries(f"{url(small.pk)}?limit=1", staff_client)
    last = _listing_queries(f"{url(small.pk)}?offset={total - 1}", staff_client)
    at_end = _listing_queries(f"{url(small.pk)}?offset={total}", staff_client)
    far = _listing_queries(f"{url(small.pk)}?offset={10**30}", staff_client)

    # then: the aggregate over the tournament and the page; past the end, the aggregate only
    assert [len(first), len(last), len(at_end), len(far)] == [2, 2, 1, 1]
    for queries in (first, last, at_end, far):
        assert 'FROM "tournaments_tournament"' in queries[0]


@pytest.mark.parametrize("url", ALL_URLS)
def test_endpoint_query_count_does_not_grow_with_the_page(staff_client, small_and_large, url):
    # given
    small, large = small_and_large
    staff_client.get(url(small.pk))  # warm up anything done once per process

    # when
    with CaptureQueriesContext(connection) as small_queries:
        small_response = staff_client.get(url(small.pk))
    with CaptureQueriesContext(connection) as large_queries:
        large_response = staff_client.get(url(large.pk))

    # then
    assert small_response.status_code == large_response.status_code == 200
    assert small_response.json()["pagination"]["total"] in (2, 4)
    assert large_response.json()["pagination"]["total"] in (20, 40)
    assert len(small_queries.captured_queries) == len(large_queries.captured_queries)


# --- the listing descriptions -------------------------------------------------------------------

LISTINGS = [
    (TournamentPaymentsView, AdminPaymentListSerializer, ["status"]),
    (TournamentMatchesView, AdminMatchListSerializer, ["state", "round"]),
    (TournamentDisputesView, AdminDisputeListSerializer, ["status", "reason"]),
]


@pytest.mark.parametrize(
    ("view", "body", "filters"), LISTINGS, ids=["payments", "matches", "disputes"]
)
def test_documented_rows_and_filters_match_the_selector(view, body, filters):
    # given
    kind = view.rows_kind
    documented = body().fields

    # then: the row serializer reads exactly the selector's columns (ids only), the schema
    # documents the body's keys in the order the paginator writes them, every breakdown code,
    # the rows the view writes, and the view offers exactly these filters
    assert [field.source for field in view.serializer_class().fields.values()] == list(kind.columns)
    assert list(documented) == [
        "tournament_id",
        view.count_key,
        view.breakdown_key,
        "pagination",
        view.rows_key,
    ]
    assert list(documented[view.breakdown_key].fields) == list(kind.breakdown_codes)
    assert type(documented[view.rows_key].child) is view.serializer_class
    assert list(view.filterset_class.base_filters) == filters


def test_a_parameter_that_is_no_filter_narrows_nothing(staff_client, ops):
    # when
    response = staff_client.get(
        payments_url(ops.tournament.pk), {"method": "bkash", "registration": ops.bob.pk}
    )

    # then
    assert response.status_code == 200
    assert response.json()["payments"] == expected_payments(ops)


# --- who may call, which tournaments ------------------------------------------------------------


@pytest.mark.parametrize("url", ALL_URLS)
def test_anonymous_and_bad_token_get_401(anonymous_client, ops, url):
    # when
    anonymous = anonymous_client.get(url(ops.tournament.pk))
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    bad_token = anonymous_client.get(url(ops.tournament.pk))

    # then
    for response in (anonymous, bad_token):
        assert response.status_code == 401
        assert response.json()["error_code"] == "NOT_AUTHENTICATED"
        assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", ALL_URLS)
def test_non_staff_get_403(player_client, ops, url):
    # when
    response = player_client.get(url(ops.tournament.pk))

    # then
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert set(response.json()) == {"error_code", "detail"}


@pytest.mark.parametrize("url", ALL_URLS)
@pytest.mark.parametrize(
    "tournament_id", [0, 999_999_999, 2**63 - 1, 2**63, 2**64, 10**30], ids=str
)
def test_unknown_tournament_is_404(staff_client, db, url, tournament_id):
    # when
    response = staff_client.get(url(tournament_id))

    # then
    assert response.status_code == 404
    assert response.json() == {
        "error_code": "TOURNAMENT_NOT_FOUND",
        "detail": f"No tournament with id {tournament_id}.",
    }


@pytest.mark.parametrize("url", ALL_URLS)
def test_negative_ids_are_an_unknown_path(staff_client, db, url):
    # when
    response = staff_client.get(url(1).replace("/1/", "/-1/"))

    # then
    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"


def test_draft_tournament_is_visible_to_staff(staff_client):
    # given
    draft = TournamentFactory(status=TournamentStatus.DRAFT)
    registration = RegistrationFactory(tournament=draft, user=UserFactory())
    PaymentFactory(registration=registration, status=PaymentStatus.SUBMITTED)
    match = MatchFactory(
        participant1=registration,
        participant2=RegistrationFactory(tournament=draft),
        state=MatchState.SCHEDULED,
        completed_at=None,
    )
    DisputeFactory(match=match, opened_by=registration)

    # when
    responses = [staff_client.get(url(draft.pk)) for url in ALL_URLS]

    # then
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert responses[0].json()["payment_count"] == 1
    assert responses[1].json()["match_count"] == 1
    assert responses[2].json()["dispute_count"] == 1


@pytest.mark.parametrize("url", ALL_URLS)
def test_not_gated_by_the_api_flag(staff_client, ops, monkeypatch, url):
    # given the public API switched off by its emergency override
    monkeypatch.setenv("LEADERBOARDS_API_ENABLED", "false")

    # when
    response = staff_client.get(url(ops.tournament.pk))

    # then
    assert response.status_code == 200


@pytest.mark.parametrize("url", ALL_URLS)
def test_wrong_method_is_405(staff_client, ops, url):
    # when
    response = staff_client.post(url(ops.tournament.pk), {}, format="json")

    # then
    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


# --- rate limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ALL_URLS)
def test_success_carries_rate_limit_headers(staff_client, ops, url):
    # when
    response = staff_client.get(url(ops.tournament.pk))

    # then
    assert response["X-RateLimit-Limit"] == "100"
    assert response["X-RateLimit-Remaining"] == "99"
    assert int(response["X-RateLimit-Reset"]) > 0


def test_each_endpoint_has_its_own_budget(staff_client, ops, settings):
    # given a budget of two requests per endpoint
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "admin": 2}
    tournament_id = ops.tournament.pk

    # when
    payments = [staff_client.get(payments_url(tournament_id)).status_code for _ in range(3)]
    refused = staff_client.get(payments_url(tournament_id))
    matches = [staff_client.get(matches_url(tournament_id)).status_code for _ in range(2)]
    disputes = staff_client.get(disputes_url(tournament_id)).status_code

    # then
    assert payments == [200, 200, 429]
    assert matches == [200, 200]
    assert disputes == 200
    assert refused.status_code == 429
    body = refused.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert body["retry_after_seconds"] >= 1
    assert refused["Retry-After"] == str(body["retry_after_seconds"])
    assert refused["X-RateLimit-Limit"] == "2"
    assert refused["X-RateLimit-Remaining"] == "0"


def test_rejected_requests_count_against_the_budget(staff_client, ops, settings):
    # given
    settings.LEADERBOARD_RATE_LIMITS = {**settings.LEADERBOARD_RATE_LIMITS, "admin": 2}

    # when: a 400 and a 404 use up the budget
    bad = staff_client.get(payments_url(ops.tournament.pk), {"limit": "0"})
    unknown = staff_client.get(payments_url(999_999_999))
    third = staff_client.get(payments_url(ops.tournament.pk))

    # then
    assert [bad.status_code, unknown.status_code, third.status_code] == [400, 404, 429]


# --- ids only -----------------------------------------------------------------------------------


def _keys_at_any_depth(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _keys_at_any_depth(child)
    elif isinstance(value, list):
        for child in value:
            yield from _keys_at_any_depth(child)


QUERIES = [
    (payments_url, {}),
    (payments_url, {"status": "verified"}),
    (payments_url, {"limit": "1", "offset": "3"}),
    (matches_url, {}),
    (matches_url, {"state": "disputed"}),
    (disputes_url, {}),
    (disputes_url, {"status": "open"}),
    (disputes_url, {"reason": "no_show", "limit": "1"}),
]


@pytest.mark.parametrize(("url", "query"), QUERIES)
def test_responses_carry_ids_only(staff_client, ops, url, query):
    # when
    response = staff_client.get(url(ops.tournament.pk), query)

    # then
    assert response.status_code == 200
    keys = set(_keys_at_any_depth(response.json()))
    assert keys.isdisjoint(FORBIDDEN_KEYS), keys & FORBIDDEN_KEYS
    text = response.content.decode()
    leaked = [secret for secret in SECRETS if secret.lower() in text.lower()]
    assert leaked == []


def test_the_secrets_are_really_in_the_database(ops):
    """Guards the ids-only test: every secret it looks for was seeded."""
    seeded = json.dumps(
        [
            list(Payment.objects.values_list("transaction_reference", "proof_file")),
            list(Dispute.objects.values_list("notes", "evidence")),
            list(
                User.objects.values_list(
                    "username", "email", "display_name", "first_name", "last_name"
                )
            ),
            list(Tournament.objects.values_list("name", flat=True)),
        ]
    )
    assert [secret for secret in SECRETS if secret not in seeded] == []
