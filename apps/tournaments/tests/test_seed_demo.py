"""`manage.py seed_demo`: the data set's shape, flags and tokens, idempotency, determinism."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from apps.common import flags
from apps.common.models import AuditAction, AuditRecord, FeatureFlag, FlagName, User
from apps.tournaments.boards import BoardRef
from apps.tournaments.models import (
    Dispute,
    DisputeReason,
    DisputeStatus,
    Game,
    Match,
    MatchState,
    ParticipationType,
    Payment,
    PaymentStatus,
    Registration,
    RegistrationStatus,
    Season,
    Team,
    TiebreakRuleset,
    Tournament,
    TournamentFormat,
    TournamentStatus,
)
from apps.tournaments.services.board_compute import compute_board
from apps.tournaments.services.ranking import get_ruleset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _fingerprint() -> list[tuple[object, ...]]:
    """Everything that should repeat from build to build (ids aside)."""
    return list(
        Match.objects.order_by("tournament__name", "round", "match_number").values_list(
            "tournament__name",
            "round",
            "match_number",
            "participant1__user__username",
            "participant1__team__name",
            "participant2__user__username",
            "participant2__team__name",
            "score1",
            "score2",
            "state",
            "completed_at",
        )
    ) + list(
        Payment.objects.order_by("registration__tournament__name", "submitted_at", "id")
        .values_list("registration__tournament__name", "status", "method", "amount")
        .distinct()
    )


def test_seed_builds_the_demo_data_set() -> None:
    output = _seed()

    assert "Demo data created" in output
    assert Game.objects.count() == 2
    assert Season.objects.count() == 2
    tournaments = Tournament.objects.all()
    assert tournaments.count() >= 8
    assert set(tournaments.values_list("participation_type", flat=True)) == {
        ParticipationType.SOLO,
        ParticipationType.TEAM,
    }
    assert {
        TournamentFormat.ROUND_ROBIN,
        TournamentFormat.SINGLE_ELIMINATION,
        TournamentFormat.DOUBLE_ELIMINATION,
    } <= set(tournaments.values_list("format", flat=True))
    statuses = list(tournaments.values_list("status", flat=True))
    assert statuses.count(TournamentStatus.DRAFT) == 1
    assert statuses.count(TournamentStatus.CANCELLED) == 1
    assert {TournamentStatus.COMPLETED, TournamentStatus.LIVE} <= set(statuses)
    assert tournaments.filter(season__isnull=True, status=TournamentStatus.COMPLETED).exists()

    matches = Match.objects.all()
    assert matches.count() >= 300
    assert matches.filter(state=MatchState.COMPLETED, winner__isnull=True).count() > 0  # draws
    assert matches.filter(state=MatchState.FORFEIT).count() > 0
    assert matches.filter(state=MatchState.DISPUTED).count() > 0
    assert set(matches.values_list("state", flat=True)) == set(MatchState.values)
    elimination = (TournamentFormat.SINGLE_ELIMINATION, TournamentFormat.DOUBLE_ELIMINATION)
    for tournament in tournaments.filter(format__in=elimination):
        assert not tournament.matches.filter(
            state=MatchState.COMPLETED, winner__isnull=True
        ).exists(), f"an elimination match of {tournament} ended in a draw"

    disputes = Dispute.objects.all()
    assert set(disputes.values_list("status", flat=True)) == set(DisputeStatus.values)
    assert set(disputes.values_list("reason", flat=True)) == set(DisputeReason.values)
    assert not disputes.filter(
        status__in=[DisputeStatus.RESOLVED, DisputeStatus.DISMISSED], resolved_at__isnull=True
    ).exists()

    payments = Payment.objects.all()
    assert set(payments.values_list("status", flat=True)) == set(PaymentStatus.values)
    assert len(set(payments.values_list("method", flat=True))) >= 4
    assert Registration.objects.filter(status=RegistrationStatus.CANCELLED).exists()

    team_registrations = Registration.objects.filter(team__isnull=False)
    assert team_registrations.exists()
    assert all(registration.roster.exists() for registration in team_registrations)
    assert all(team.members.exists() for team in Team.objects.all())


def test_seed_turns_the_flags_on_with_audit_records_and_creates_tokens() -> None:
    output = _seed()

    for name in FlagName:
        flag = FeatureFlag.objects.get(name=name.value)
        assert flag.is_enabled and flag.rollout_percent == 100
        assert name.value in output
    flags.forget_local_rows()
    assert all(flags.is_flag_enabled(name) for name in FlagName)
    audited = AuditRecord.objects.filter(action=AuditAction.FLAG_CHANGED)
    assert {record.details["flag"] for record in audited} == {name.value for name in FlagName}
    assert "Feature flags turned ON" in output

    staff = User.objects.get(username="staff")
    assert {record.actor_id for record in audited} == {staff.pk}
    player = User.objects.get(username="player")
    assert staff.is_staff and not player.is_staff
    staff_token = Token.objects.get(user=staff).key
    player_token = Token.objects.get(user=player).key
    assert f"Authorization: Token {player_token}" in output
    assert f"Authorization: Token {staff_token}" in output
    example = Tournament.objects.get(name="eFootball Spring Solo League")
    assert f"/api/tournaments/{example.pk}/leaderboard/" in output
    assert f"/api/tournaments/leaderboards/participant/{player.pk}/history/" in output
    assert f"/api/admin/leaderboards/inspect/{example.pk}/" in output
    assert "scope=season&season=2026-spring" in output

    confirmed_in = Tournament.objects.filter(
        registrations__status=RegistrationStatus.CONFIRMED, registrations__user=player
    ) | Tournament.objects.filter(
        registrations__status=RegistrationStatus.CONFIRMED, registrations__roster=player
    )
    assert confirmed_in.distinct().count() >= 5


def test_a_second_run_writes_nothing_and_prints_the_same_tokens() -> None:
    _seed()
    counts = (Tournament.objects.count(), Match.objects.count(), Payment.objects.count())
    audit_count = AuditRecord.objects.count()
    player_token = Token.objects.get(user__username="player").key

    output = _seed()

    assert "already present" in output
    assert (Tournament.objects.count(), Match.objects.count(), Payment.objects.count()) == counts
    assert User.objects.filter(username="player").count() == 1
    assert AuditRecord.objects.count() == audit_count
    assert f"Authorization: Token {player_token}" in output


@pytest.mark.slow
def test_reset_rebuilds_the_same_data_set_and_leaves_other_data_alone() -> None:
    other = Tournament.objects.create(
        name="Club Cup", game=Game.objects.create(slug="chess", name="Chess")
    )
    _seed()
    first = _fingerprint()
    tournament_count = Tournament.objects.count()

    output = _seed("--reset")

    assert "Demo data created" in output
    assert Tournament.objects.count() == tournament_count
    assert _fingerprint() == first
    assert Tournament.objects.filter(pk=other.pk).exists()


def test_seed_refuses_production(settings) -> None:
    settings.IS_PRODUCTION = True

    with pytest.raises(CommandError, match="production"):
        _seed()
    assert not Tournament.objects.exists()


@pytest.mark.parametrize("ruleset", [TiebreakRuleset.SWISS_BUCHHOLZ, TiebreakRuleset.CS_SWISS])
def test_each_swiss_demo_board_has_every_criterion_of_its_ruleset_decide_a_place(ruleset) -> None:
    _seed()
    tournament = Tournament.objects.get(tiebreak_ruleset=ruleset)

    document = compute_board(BoardRef.tournament(tournament.pk))

    decided = {row["decided_by"] for row in document.rows[1:]}
    assert decided == {criterion.name for criterion in get_ruleset(ruleset).criteria}
    assert tournament.format == TournamentFormat.SWISS
    assert tournament.status == TournamentStatus.COMPLETED
