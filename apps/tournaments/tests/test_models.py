"""Data rules of contract section 2: row invariants are database constraints (they hold even for
`QuerySet.update()` and `bulk_create()`, which skip `save()`); cross-row invariants are enforced by
`clean()`, which `save()` runs.

Each constraint test breaks exactly one rule, so the constraint named in the error is the one
under test (SQLite and PostgreSQL both name the violated CHECK constraint).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.models import FeatureFlag, FlagName
from apps.tournaments.models import (
    Dispute,
    Match,
    MatchState,
    ParticipationType,
    Payment,
    Registration,
    Tournament,
)
from apps.tournaments.tests.factories import (
    BASE_TIME,
    DisputeFactory,
    MatchFactory,
    PaymentFactory,
    RegistrationFactory,
    TeamFactory,
    TournamentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _assert_constraint_rejects(constraint: str, write) -> None:
    """`write()` fails in the database, naming `constraint`, and changes nothing."""
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        write()
    assert constraint in str(raised.value)


@pytest.fixture
def solo_tournament() -> Tournament:
    return TournamentFactory(participation_type=ParticipationType.SOLO)


@pytest.fixture
def team_tournament() -> Tournament:
    return TournamentFactory(participation_type=ParticipationType.TEAM)


@pytest.fixture
def decided_match(solo_tournament: Tournament) -> Match:
    """A completed match in the solo tournament that participant1 won 2:1."""
    home = RegistrationFactory(tournament=solo_tournament)
    away = RegistrationFactory(tournament=solo_tournament)
    return MatchFactory(participant1=home, participant2=away, score1=2, score2=1, winner=home)


@pytest.fixture
def drawn_match(solo_tournament: Tournament) -> Match:
    """A completed match in the solo tournament, 1:1, no winner."""
    home = RegistrationFactory(tournament=solo_tournament)
    away = RegistrationFactory(tournament=solo_tournament)
    return MatchFactory(participant1=home, participant2=away, score1=1, score2=1, winner=None)


# --- Valid data saves -----------------------------------------------------------------------------


def test_valid_solo_registration_team_registration_and_matches_save(
    solo_tournament: Tournament, team_tournament: Tournament
) -> None:
    # given a user, and a team of two
    player = UserFactory()
    team = TeamFactory(members=[UserFactory(), UserFactory()])

    # when they register where they belong and play a decided match, a draw and a forfeit
    solo_registration = Registration(tournament=solo_tournament, user=player)
    solo_registration.save()
    team_registration = Registration(tournament=team_tournament, team=team)
    team_registration.save()
    opponent = RegistrationFactory(tournament=solo_tournament)
    decided = MatchFactory(
        participant1=solo_registration,
        participant2=opponent,
        score1=3,
        score2=0,
        winner=solo_registration,
    )
    draw = MatchFactory(
        participant1=solo_registration, participant2=opponent, score1=2, score2=2, winner=None
    )
    forfeit = MatchFactory(
        participant1=solo_registration,
        participant2=opponent,
        state=MatchState.FORFEIT,
        winner=opponent,
    )
    scheduled = MatchFactory(
        participant1=solo_registration,
        participant2=opponent,
        state=MatchState.SCHEDULED,
        completed_at=None,
    )

    # then all of it is stored as given
    assert Registration.objects.get(pk=solo_registration.pk).competitor_id == player.pk
    assert Registration.objects.get(pk=team_registration.pk).competitor_id == team.pk
    assert list(
        Match.objects.filter(tournament=solo_tournament)
        .order_by("pk")
        .values_list("pk", "state", "winner_id", "score1", "score2")
    ) == [
        (decided.pk, "completed", solo_registration.pk, 3, 0),
        (draw.pk, "completed", None, 2, 2),
        (forfeit.pk, "forfeit", opponent.pk, 0, 0),
        (scheduled.pk, "scheduled", None, 0, 0),
    ]


def test_draw_is_a_completed_match_without_winner(drawn_match: Match) -> None:
    # given a drawn match; when it is validated and saved again
    drawn_match.full_clean()
    drawn_match.save()

    # then it is completed, with no winner
    stored = Match.objects.get(pk=drawn_match.pk)
    assert (stored.state, stored.winner_id) == (MatchState.COMPLETED, None)


# --- Database constraints (save() bypassed) -------------------------------------------------------


def test_registration_with_both_user_and_team_is_rejected_by_the_database(
    solo_tournament: Tournament,
) -> None:
    registration = RegistrationFactory(tournament=solo_tournament)
    team = TeamFactory()

    _assert_constraint_rejects(
        "registration_exactly_one_of_user_or_team",
        lambda: Registration.objects.filter(pk=registration.pk).update(team=team),
    )
    assert Registration.objects.get(pk=registration.pk).team_id is None


def test_registration_with_neither_user_nor_team_is_rejected_by_the_database(
    solo_tournament: Tournament,
) -> None:
    _assert_constraint_rejects(
        "registration_exactly_one_of_user_or_team",
        lambda: Registration.objects.bulk_create(
            [Registration(tournament=solo_tournament, user=None, team=None)]
        ),
    )
    assert Registration.objects.filter(tournament=solo_tournament).count() == 0


def test_match_between_a_registration_and_itself_is_rejected_by_the_database(
    drawn_match: Match,
) -> None:
    _assert_constraint_rejects(
        "match_participants_differ",
        lambda: Match.objects.filter(pk=drawn_match.pk).update(
            participant2=drawn_match.participant1
        ),
    )


def test_match_winner_who_is_not_a_participant_is_rejected_by_the_database(
    drawn_match: Match, solo_tournament: Tournament
) -> None:
    bystander = RegistrationFactory(tournament=solo_tournament)

    _assert_constraint_rejects(
        "match_winner_is_a_participant",
        lambda: Match.objects.filter(pk=drawn_match.pk).update(winner=bystander),
    )
    assert Match.objects.get(pk=drawn_match.pk).winner_id is None


@pytest.mark.parametrize("state", [MatchState.COMPLETED, MatchState.FORFEIT])
def test_counted_match_without_completed_at_is_rejected_by_the_database(
    decided_match: Match, state: MatchState
) -> None:
    _assert_constraint_rejects(
        "match_counted_has_completed_at",
        lambda: Match.objects.filter(pk=decided_match.pk).update(state=state, completed_at=None),
    )


def test_counted_match_without_completed_at_is_rejected_by_bulk_create(
    solo_tournament: Tournament,
) -> None:
    home = RegistrationFactory(tournament=solo_tournament)
    away = RegistrationFactory(tournament=solo_tournament)

    _assert_constraint_rejects(
        "match_counted_has_completed_at",
        lambda: Match.objects.bulk_create(
            [
                Match(
                    tournament=solo_tournament,
                    participant1=home,
                    participant2=away,
                    state=MatchState.COMPLETED,
                    completed_at=None,
                )
            ]
        ),
    )
    assert Match.objects.filter(tournament=solo_tournament).count() == 0


def test_forfeit_without_winner_is_rejected_by_the_database(drawn_match: Match) -> None:
    _assert_constraint_rejects(
        "match_forfeit_has_winner",
        lambda: Match.objects.filter(pk=drawn_match.pk).update(state=MatchState.FORFEIT),
    )
    assert Match.objects.get(pk=drawn_match.pk).state == MatchState.COMPLETED


@pytest.mark.parametrize(
    "state",
    [
        MatchState.SCHEDULED,
        MatchState.LIVE,
        MatchState.PENDING_RESULT,
        MatchState.DISPUTED,
        MatchState.CANCELLED,
    ],
)
def test_match_that_is_not_a_result_with_a_winner_is_rejected_by_the_database(
    decided_match: Match, state: MatchState
) -> None:
    _assert_constraint_rejects(
        "match_only_results_have_winner",
        lambda: Match.objects.filter(pk=decided_match.pk).update(state=state),
    )


@pytest.mark.parametrize("field", ["score1", "score2"])
def test_negative_score_is_rejected_by_the_database(decided_match: Match, field: str) -> None:
    _assert_constraint_rejects(
        field, lambda: Match.objects.filter(pk=decided_match.pk).update(**{field: -1})
    )
    stored = Match.objects.get(pk=decided_match.pk)
    assert (stored.score1, stored.score2) == (2, 1)


def test_invalid_match_state_is_rejected_by_the_database(drawn_match: Match) -> None:
    _assert_constraint_rejects(
        "match_state_valid",
        lambda: Match.objects.filter(pk=drawn_match.pk).update(state="finished"),
    )


def test_invalid_registration_status_is_rejected_by_the_database(
    solo_tournament: Tournament,
) -> None:
    registration = RegistrationFactory(tournament=solo_tournament)

    _assert_constraint_rejects(
        "registration_status_valid",
        lambda: Registration.objects.filter(pk=registration.pk).update(status="approved"),
    )


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("status", "finished", "tournament_status_valid"),
        ("participation_type", "duo", "tournament_participation_type_valid"),
        ("format", "ladder", "tournament_format_valid"),
        ("tiebreak_ruleset", "coin-flip", "tournament_tiebreak_ruleset_valid"),
    ],
)
def test_invalid_tournament_choice_is_rejected_by_the_database(
    solo_tournament: Tournament, field: str, value: str, constraint: str
) -> None:
    _assert_constraint_rejects(
        constraint,
        lambda: Tournament.objects.filter(pk=solo_tournament.pk).update(**{field: value}),
    )


def test_invalid_payment_status_is_rejected_by_the_database() -> None:
    payment = PaymentFactory()

    _assert_constraint_rejects(
        "payment_status_valid",
        lambda: Payment.objects.filter(pk=payment.pk).update(status="paid"),
    )


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [("status", "closed", "dispute_status_valid"), ("reason", "rage", "dispute_reason_valid")],
)
def test_invalid_dispute_choice_is_rejected_by_the_database(
    field: str, value: str, constraint: str
) -> None:
    dispute = DisputeFactory()

    _assert_constraint_rejects(
        constraint, lambda: Dispute.objects.filter(pk=dispute.pk).update(**{field: value})
    )


def test_flag_rollout_above_100_percent_is_rejected_by_the_database() -> None:
    _assert_constraint_rejects(
        "featureflag_rollout_percent_at_most_100",
        lambda: FeatureFlag.objects.filter(name=FlagName.COMPUTE).update(rollout_percent=101),
    )
    assert FeatureFlag.objects.get(name=FlagName.COMPUTE).rollout_percent == 100


def test_flag_rollout_of_exactly_100_and_0_percent_is_accepted() -> None:
    updated_to_0 = FeatureFlag.objects.filter(name=FlagName.COMPUTE).update(rollout_percent=0)
    updated_to_100 = FeatureFlag.objects.filter(name=FlagName.CACHE).update(rollout_percent=100)

    assert (updated_to_0, updated_to_100) == (1, 1)


# --- clean() / save() validation (rules that span rows) -------------------------------------------


def test_team_registration_in_a_solo_tournament_is_rejected_on_save(
    solo_tournament: Tournament,
) -> None:
    team = TeamFactory()

    with pytest.raises(ValidationError) as raised:
        Registration(tournament=solo_tournament, team=team).save()

    assert raised.value.message_dict == {
        "team": ["A solo tournament takes user registrations, not teams."]
    }
    assert Registration.objects.filter(tournament=solo_tournament).count() == 0


def test_user_registration_in_a_team_tournament_is_rejected_on_save(
    team_tournament: Tournament,
) -> None:
    player = UserFactory()

    with pytest.raises(ValidationError) as raised:
        Registration(tournament=team_tournament, user=player).save()

    assert raised.value.message_dict == {
        "user": ["A team tournament takes team registrations, not users."]
    }
    assert Registration.objects.filter(tournament=team_tournament).count() == 0


def test_registration_with_both_user_and_team_is_rejected_on_save(
    solo_tournament: Tournament,
) -> None:
    with pytest.raises(ValidationError) as raised:
        Registration(tournament=solo_tournament, user=UserFactory(), team=TeamFactory()).save()

    assert raised.value.message_dict == {
        "user": ["A registration has exactly one of user or team."]
    }


def test_match_with_a_participant_from_another_tournament_is_rejected_on_save(
    solo_tournament: Tournament,
) -> None:
    # given a registration in this tournament and one in another tournament
    home = RegistrationFactory(tournament=solo_tournament)
    stranger = RegistrationFactory(tournament=TournamentFactory())

    # when a match between them is saved
    with pytest.raises(ValidationError) as raised:
        Match(
            tournament=solo_tournament,
            participant1=home,
            participant2=stranger,
            state=MatchState.SCHEDULED,
        ).save()

    # then it is refused, naming the stranger
    assert raised.value.message_dict == {
        "participant2": [f"Registration {stranger.pk} is not in tournament {solo_tournament.pk}."]
    }
    assert Match.objects.count() == 0


def test_match_won_by_a_registration_that_did_not_play_is_rejected_on_save(
    solo_tournament: Tournament,
) -> None:
    home = RegistrationFactory(tournament=solo_tournament)
    away = RegistrationFactory(tournament=solo_tournament)
    bystander = RegistrationFactory(tournament=solo_tournament)

    with pytest.raises(ValidationError) as raised:
        Match(
            tournament=solo_tournament,
            participant1=home,
            participant2=away,
            state=MatchState.COMPLETED,
            completed_at=BASE_TIME,
            winner=bystander,
        ).save()

    assert raised.value.message_dict == {
        "winner": [f"Registration {bystander.pk} did not play this match."]
    }
    assert Match.objects.count() == 0


def test_changing_a_saved_match_to_an_invalid_result_is_rejected_on_save(
    decided_match: Match,
) -> None:
    # given a decided match; when it is turned back to scheduled keeping its winner
    decided_match.state = MatchState.SCHEDULED

    with pytest.raises(ValidationError) as raised:
        decided_match.save()

    # then save refuses and the stored match is unchanged
    assert raised.value.message_dict == {"winner": ["A scheduled match has no winner."]}
    assert Match.objects.get(pk=decided_match.pk).state == MatchState.COMPLETED


def test_completed_match_without_completed_at_is_rejected_on_save(
    solo_tournament: Tournament,
) -> None:
    home = RegistrationFactory(tournament=solo_tournament)
    away = RegistrationFactory(tournament=solo_tournament)

    with pytest.raises(ValidationError) as raised:
        Match(
            tournament=solo_tournament,
            participant1=home,
            participant2=away,
            state=MatchState.FORFEIT,
            winner=home,
        ).save()

    assert raised.value.message_dict == {"completed_at": ["A forfeit match needs completed_at."]}
