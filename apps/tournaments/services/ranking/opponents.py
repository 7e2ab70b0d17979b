"""Criteria that weigh whom a competitor played: the Swiss tie-breaks (contract section 10).

In a Swiss stage every competitor meets different opposition, so equal records are told apart
by the strength of the opponents: the Buchholz family of FIDE's tie-break regulations
(Buchholz, Buchholz Cut 1, Sonneborn-Berger) and the Counter-Strike Majors' "Buchholz
difficulty" (the opponents' win-loss differences).

A competitor's opponents are the other sides of its counted matches in the tournament, once per
match (an opponent met twice counts twice), forfeits included. An opponent's points, wins and
losses are its totals over all its counted matches, computed here from the matches themselves,
so an opponent whose registration is no longer confirmed (and has no row) still counts with its
results. One pass over the matches builds every competitor's record: O(matches).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from apps.tournaments.services.ranking.rows import CountedMatch, PointsScheme

# A competitor's share of one match, in half points: what Sonneborn-Berger weighs the opponent
# by (1 for a win, 1/2 for a draw, 0 for a loss), doubled to stay in integers.
WIN_HALVES, DRAW_HALVES, LOSS_HALVES = 2, 1, 0


@dataclass(slots=True)
class Standing:
    """A registration's totals over all its counted matches of the tournament."""

    points: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0


@dataclass(frozen=True, slots=True)
class Meeting:
    """One counted match from one side: the opponent's standing and this side's half points."""

    opponent: Standing
    halves: int


@dataclass(frozen=True, slots=True)
class OpponentRecord:
    """Everyone a competitor met, once per counted match."""

    meetings: tuple[Meeting, ...] = field(default=())


NO_OPPONENTS = OpponentRecord()


def opponent_records(
    matches: Iterable[CountedMatch], points: PointsScheme
) -> dict[int, OpponentRecord]:
    """The record of every registration that played a counted match, by registration id."""
    standings: dict[int, Standing] = {}
    sides: dict[int, list[tuple[int, int]]] = {}  # registration -> [(opponent, halves)]
    for match in matches:
        first, second = match.registration1_id, match.registration2_id
        for me, them in ((first, second), (second, first)):
            standing = standings.setdefault(me, Standing())
            if match.winner_registration_id is None:
                standing.draws += 1
                standing.points += points.draw
                halves = DRAW_HALVES
            elif match.winner_registration_id == me:
                standing.wins += 1
                standing.points += points.win
                halves = WIN_HALVES
            else:
                standing.losses += 1
                standing.points += points.loss
                halves = LOSS_HALVES
            sides.setdefault(me, []).append((them, halves))
    return {
        registration: OpponentRecord(
            tuple(Meeting(standings[opponent], halves) for opponent, halves in met)
        )
        for registration, met in sides.items()
    }


def buchholz(record: OpponentRecord) -> int:
    """The sum of the opponents' points."""
    return sum(meeting.opponent.points for meeting in record.meetings)


def buchholz_cut1(record: OpponentRecord) -> int:
    """Buchholz without the lowest opponent's points; 0 with fewer than two opponents."""
    if len(record.meetings) < 2:
        return 0
    return buchholz(record) - min(meeting.opponent.points for meeting in record.meetings)


def sonneborn_berger(record: OpponentRecord) -> int | float:
    """The sum over matches of the opponent's points times 1 (won), 1/2 (drawn) or 0 (lost): an
    int, or a float ending in .5 (exact: halves of integers are binary fractions)."""
    doubled = sum(meeting.opponent.points * meeting.halves for meeting in record.meetings)
    return doubled // 2 if doubled % 2 == 0 else doubled / 2


def buchholz_difficulty(record: OpponentRecord) -> int:
    """The sum over opponents of their wins minus their losses (the Counter-Strike Majors)."""
    return sum(meeting.opponent.wins - meeting.opponent.losses for meeting in record.meetings)
