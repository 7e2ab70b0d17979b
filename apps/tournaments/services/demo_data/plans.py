"""What the demo data set holds: accounts, games, seasons, teams and the tournament plans.

Data only; `builder` and `matches` turn it into rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from apps.tournaments.models import (
    DisputeReason,
    DisputeStatus,
    MatchState,
    ParticipationType,
    RegistrationStatus,
    TiebreakRuleset,
    TournamentFormat,
    TournamentStatus,
)

DEMO_RANDOM_SEED = 20260307
DEMO_EMAIL_DOMAIN = "demo.deltacrown.test"
DEMO_PASSWORD = "deltacrown-demo"  # noqa: S105 - printed by seed_demo; local demo accounts only
STAFF_USERNAME = "staff"
PLAYER_USERNAME = "player"
DEMO_PLAYER_COUNT = 48

GAMES = {"efootball": "eFootball", "valorant": "VALORANT"}
SEASONS = {
    "2026-spring": ("Spring 2026", dt.date(2026, 3, 1), dt.date(2026, 5, 31)),
    "2026-autumn": ("Autumn 2026", dt.date(2026, 9, 1), dt.date(2026, 11, 30)),
}
VALORANT_TEAMS = (
    ("Dhaka Dragons", "DDR"),
    ("Chattogram Vipers", "CTGV"),
    ("Sylhet Storm", "SYS"),
    ("Khulna Knights", "KHK"),
    ("Rajshahi Royals", "RJR"),
    ("Barishal Blaze", "BBZ"),
    ("Rangpur Rangers", "RGR"),
    ("Cumilla Comets", "CMC"),
)
EFOOTBALL_DUOS = (
    ("Penalty Kings", "PK"),
    ("Golden Boots", "GB"),
    ("Offside Trap", "OFT"),
    ("Counter Press", "CP"),
    ("False Nine", "F9"),
    ("Park The Bus", "PTB"),
    ("Tiki Taka", "TT"),
    ("Long Ball FC", "LBFC"),
)
FIRST_NAMES = (
    "Arif", "Nusrat", "Tanvir", "Farhana", "Rakib", "Sadia", "Imran", "Mehjabin", "Shuvo",
    "Tasnim", "Zubair", "Priya", "Fahim", "Anika", "Rafsan", "Lamia",
)  # fmt: skip
LAST_NAMES = (
    "Rahman", "Hossain", "Chowdhury", "Islam", "Ahmed", "Karim", "Das", "Sarker", "Uddin",
    "Begum", "Talukder", "Mahmud",
)  # fmt: skip
TAG_WORDS = (
    "Shadow", "Blitz", "Nova", "Viper", "Echo", "Rogue", "Falcon", "Storm", "Raven", "Cipher",
    "Titan", "Ghost", "Frost", "Ember", "Pulse", "Striker",
)  # fmt: skip
PAYMENT_METHODS = ("bkash", "nagad", "rocket", "bank", "deltacoin")
PAYMENT_METHOD_WEIGHTS = (40, 25, 10, 10, 15)
DISPUTE_NOTES = {
    DisputeReason.SCORE_MISMATCH: "Both sides reported a different final score.",
    DisputeReason.NO_SHOW: "Opponent did not join the lobby within 15 minutes.",
    DisputeReason.CHEATING: "Suspicious aim patterns in the second half; clip attached.",
    DisputeReason.TECHNICAL_ISSUE: "Server crashed mid-match; asking for a replay.",
    DisputeReason.OTHER: "Lobby settings differed from the tournament rules.",
}


def _at(year: int, month: int, day: int, hour: int = 14) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class TournamentPlan:
    """One demo tournament. `field_size` registrations play; `extra` ones never do."""

    name: str
    game: str
    season: str | None
    participation_type: ParticipationType
    format: TournamentFormat
    status: TournamentStatus
    starts_at: dt.datetime
    ends_at: dt.datetime
    field_size: int
    entry_fee: Decimal
    days_per_round: int = 1
    ruleset: TiebreakRuleset = TiebreakRuleset.DELTACROWN_5STEP
    legs: int = 1
    rounds_played: int | None = None  # live tournaments: rounds fully played before the current
    current_round_states: tuple[MatchState, ...] = ()
    include_player: bool = False
    player_status: RegistrationStatus = RegistrationStatus.CONFIRMED
    extra: tuple[RegistrationStatus, ...] = ()
    withdrawal_after_round: int | None = None  # one competitor cancels; later games forfeited
    disputes: tuple[tuple[DisputeStatus, DisputeReason], ...] = ()
    # Results written out instead of drawn: (round, seat, seat, winning seat or None for a draw),
    # seats 1..field_size; and each seat's seed (None: unseeded) instead of seeding by skill.
    scripted: tuple[tuple[int, int, int, int | None], ...] = ()
    seeds: tuple[int | None, ...] = ()


S, C, T = ParticipationType.SOLO, ParticipationType.TEAM, TournamentStatus
RR = TournamentFormat.ROUND_ROBIN
SE = TournamentFormat.SINGLE_ELIMINATION
DE = TournamentFormat.DOUBLE_ELIMINATION
RS, MS, DS, DR = RegistrationStatus, MatchState, DisputeStatus, DisputeReason

# The two Swiss rulesets' demo boards (contract section 10), results written out so that every
# criterion of the ruleset decides at least one place (apps/tournaments/tests/test_seed_demo.py
# checks it). swiss-buchholz, 18 players: seats 1-8 play three rounds in which points, Buchholz
# Cut 1, Buchholz and Sonneborn-Berger decide places; seats 9-16 four rounds with draws, in which
# wins decide two players equal on every opponent criterion; seats 17 and 18 one draw, equal on
# everything, decided by id.
SWISS_BUCHHOLZ_RESULTS: tuple[tuple[int, int, int, int | None], ...] = (
    (1, 7, 8, 7), (1, 4, 1, 4), (1, 5, 6, 6), (1, 2, 3, 2),
    (2, 7, 3, 3), (2, 8, 4, 8), (2, 5, 1, 1), (2, 6, 2, 6),
    (3, 2, 8, 2), (3, 3, 5, 5), (3, 4, 6, 4), (3, 7, 1, 7),
    (1, 9, 15, 15), (1, 13, 14, 13), (1, 10, 16, 10), (1, 12, 11, None),
    (2, 11, 10, 11), (2, 15, 13, None), (2, 12, 14, None), (2, 16, 9, 16),
    (3, 14, 11, None), (3, 15, 16, None), (3, 12, 9, 12), (3, 13, 10, 10),
    (4, 15, 12, None), (4, 9, 10, 9), (4, 16, 14, 14), (4, 13, 11, 13),
    (1, 17, 18, None),
)  # fmt: skip
# cs-swiss, 8 teams, three rounds (a map split 1-1 is a draw): wins, losses, the opponents'
# win-loss sums, seed and id each decide a place.
CS_SWISS_RESULTS: tuple[tuple[int, int, int, int | None], ...] = (
    (1, 2, 6, None), (1, 7, 8, None), (1, 5, 3, 3), (1, 4, 1, 1),
    (2, 5, 4, 4), (2, 2, 8, None), (2, 7, 3, None), (2, 1, 6, 1),
    (3, 4, 8, None), (3, 2, 3, 3), (3, 1, 5, None), (3, 6, 7, None),
)  # fmt: skip
CS_SWISS_SEEDS = (4, 8, 4, 2, None, 2, 7, 6)

TOURNAMENT_PLANS = (
    TournamentPlan(
        "eFootball Spring Solo League", "efootball", "2026-spring", S, RR, T.COMPLETED,
        _at(2026, 3, 7), _at(2026, 5, 2, 23), 16, Decimal("150.00"), days_per_round=4,
        include_player=True, extra=(RS.CANCELLED, RS.REJECTED), withdrawal_after_round=9,
        disputes=(
            (DS.ESCALATED, DR.CHEATING), (DS.RESOLVED, DR.SCORE_MISMATCH),
            (DS.RESOLVED, DR.NO_SHOW), (DS.DISMISSED, DR.TECHNICAL_ISSUE),
            (DS.DISMISSED, DR.OTHER),
        ),
    ),
    TournamentPlan(
        "eFootball Spring Co-op League", "efootball", "2026-spring", C, RR, T.COMPLETED,
        _at(2026, 3, 14), _at(2026, 5, 18, 23), 8, Decimal("300.00"), days_per_round=5,
        ruleset=TiebreakRuleset.HEAD_TO_HEAD, legs=2,
        disputes=((DS.RESOLVED, DR.TECHNICAL_ISSUE), (DS.ESCALATED, DR.SCORE_MISMATCH)),
    ),
    TournamentPlan(
        "VALORANT Spring Aim Duel Cup", "valorant", "2026-spring", S, SE, T.COMPLETED,
        _at(2026, 4, 11), _at(2026, 4, 14, 23), 16, Decimal("100.00"), include_player=True,
        extra=(RS.CANCELLED, RS.REJECTED), disputes=((DS.DISMISSED, DR.CHEATING),),
    ),
    TournamentPlan(
        "VALORANT Spring Team Championship", "valorant", "2026-spring", C, DE, T.COMPLETED,
        _at(2026, 5, 2), _at(2026, 5, 9, 23), 8, Decimal("1000.00"),
        disputes=((DS.RESOLVED, DR.SCORE_MISMATCH),),
    ),
    TournamentPlan(
        "eFootball Autumn Solo League", "efootball", "2026-autumn", S, RR, T.LIVE,
        _at(2026, 9, 5), _at(2026, 12, 12, 23), 16, Decimal("150.00"), days_per_round=7,
        rounds_played=11,
        current_round_states=(
            MS.COMPLETED, MS.COMPLETED, MS.COMPLETED, MS.LIVE, MS.PENDING_RESULT, MS.DISPUTED,
            MS.DISPUTED, MS.SCHEDULED,
        ),
        include_player=True, extra=(RS.PENDING, RS.CANCELLED),
        disputes=(
            (DS.OPEN, DR.SCORE_MISMATCH), (DS.UNDER_REVIEW, DR.NO_SHOW),
            (DS.RESOLVED, DR.CHEATING), (DS.OPEN, DR.OTHER),
        ),
    ),
    TournamentPlan(
        "VALORANT Autumn Team Cup", "valorant", "2026-autumn", C, SE, T.LIVE,
        _at(2026, 11, 14), _at(2026, 11, 28, 23), 8, Decimal("1000.00"), days_per_round=7,
        rounds_played=1, current_round_states=(MS.PENDING_RESULT, MS.DISPUTED),
        disputes=((DS.UNDER_REVIEW, DR.TECHNICAL_ISSUE),),
    ),
    TournamentPlan(
        "VALORANT Autumn Charity Showdown", "valorant", "2026-autumn", C, RR, T.CANCELLED,
        _at(2026, 10, 10), _at(2026, 10, 22, 23), 6, Decimal("500.00"), days_per_round=3,
        rounds_played=1,
    ),
    TournamentPlan(
        "VALORANT Winter Open Swiss", "valorant", None, S, TournamentFormat.SWISS,
        T.REGISTRATION_OPEN, _at(2026, 12, 5), _at(2026, 12, 6, 23), 6, Decimal("100.00"),
        include_player=True, player_status=RS.PENDING,
        extra=(RS.PENDING, RS.PENDING, RS.PENDING, RS.REJECTED, RS.CANCELLED),
    ),
    TournamentPlan(
        "eFootball New Year Invitational", "efootball", None, S, SE, T.DRAFT,
        _at(2027, 1, 16), _at(2027, 1, 18, 23), 8, Decimal("0.00"), include_player=True,
    ),
    TournamentPlan(
        "DeltaCrown All-Stars Exhibition", "efootball", None, S, RR, T.COMPLETED,
        _at(2025, 12, 13), _at(2025, 12, 19, 23), 8, Decimal("0.00"), include_player=True,
    ),
    TournamentPlan(
        "eFootball Autumn Swiss Open", "efootball", None, S, TournamentFormat.SWISS,
        T.COMPLETED, _at(2026, 11, 21), _at(2026, 11, 24, 23), 18, Decimal("50.00"),
        ruleset=TiebreakRuleset.SWISS_BUCHHOLZ, include_player=True,
        scripted=SWISS_BUCHHOLZ_RESULTS,
    ),
    TournamentPlan(
        "VALORANT Autumn Swiss Stage", "valorant", None, C, TournamentFormat.SWISS,
        T.COMPLETED, _at(2026, 11, 7), _at(2026, 11, 9, 23), 8, Decimal("500.00"),
        ruleset=TiebreakRuleset.CS_SWISS, scripted=CS_SWISS_RESULTS, seeds=CS_SWISS_SEEDS,
    ),
)  # fmt: skip
DEMO_TOURNAMENT_NAMES = tuple(plan.name for plan in TOURNAMENT_PLANS)
DEMO_TEAM_NAMES = tuple(name for name, _ in VALORANT_TEAMS + EFOOTBALL_DUOS)
# The tournaments the printed examples point at.
EXAMPLE_TOURNAMENT_NAME = "eFootball Spring Solo League"
EXAMPLE_SEASON_SLUG = "2026-spring"
