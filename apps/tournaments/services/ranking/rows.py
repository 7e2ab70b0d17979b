"""What the ranking core reads and returns: competitor totals in, ranked rows and a trace out.

Also the shapes the engine passes between its steps while it splits tied blocks (package-internal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeAlias


def _require_aware(field_name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{field_name} must be an aware datetime, got naive {value!r}")


@dataclass(frozen=True, slots=True)
class CompetitorTotals:
    """One competitor's standing on a board, as the aggregation computed it.

    Invariants: datetimes are aware (checked here); on a tournament board `registration_id` is set
    and unique, on season / all-time boards it is None and `competitor_id` is unique (checked by
    `rank_competitors`). `points` are already computed with the tournament's points scheme.
    """

    competitor_id: int
    registration_id: int | None
    points: int
    wins: int
    draws: int
    losses: int
    matches_played: int
    score_for: int
    score_against: int
    earliest_win_at: datetime | None
    last_updated_at: datetime | None
    tournaments_played: int = 0
    seed: int | None = None  # the registration's seed (tournament boards)

    def __post_init__(self) -> None:
        _require_aware("earliest_win_at", self.earliest_win_at)
        _require_aware("last_updated_at", self.last_updated_at)


@dataclass(frozen=True, slots=True)
class CountedMatch:
    """One counted match of the tournament between two registrations (read by the head-to-head
    mini-table and by the opponent criteria).

    `winner_registration_id` is None for a draw, else one of the two sides (checked). A forfeit is
    a win for its winner whatever the scores; the scores are carried but no criterion reads them.
    """

    registration1_id: int
    registration2_id: int
    winner_registration_id: int | None
    score1: int
    score2: int

    def __post_init__(self) -> None:
        if self.registration1_id == self.registration2_id:
            raise ValueError(f"a match needs two registrations, got {self.registration1_id} twice")
        if self.winner_registration_id not in (None, self.registration1_id, self.registration2_id):
            raise ValueError(
                f"winner {self.winner_registration_id} is neither side of the match "
                f"{self.registration1_id} v {self.registration2_id}"
            )


@dataclass(frozen=True, slots=True)
class PointsScheme:
    """Points per result: the head-to-head mini-table's, and an opponent's points when the
    opponent criteria count them from the matches."""

    win: int = 3
    draw: int = 1
    loss: int = 0


DEFAULT_POINTS_SCHEME = PointsScheme()


@dataclass(frozen=True, slots=True)
class RankedRow:
    """A row with its rank (1..N) and the step that split it from the row above (None for 1)."""

    totals: CompetitorTotals
    rank: int
    decided_by: str | None


@dataclass(frozen=True, slots=True)
class TraceStep:
    """Why the row at `rank_below` comes after the row at `rank_above` (= `rank_below - 1`).

    Values are JSON-serialisable: ints, floats (Sonneborn-Berger's halves), ISO-8601 UTC
    strings ending in "Z", or None. For `head_to_head` they are the two rows' mini-table points
    in the (sub-)group that split them.
    """

    rank_above: int
    rank_below: int
    step: str
    value_above: int | float | str | None
    value_below: int | float | str | None


@dataclass(frozen=True, slots=True)
class Ranking:
    """Invariants: `rows[i].rank == i + 1`; `len(trace) == max(len(rows) - 1, 0)`;
    `trace[i].step == rows[i + 1].decided_by`."""

    rows: tuple[RankedRow, ...]
    trace: tuple[TraceStep, ...]


# --- shapes shared by the engine and head_to_head --------------------------------------------

_Block: TypeAlias = tuple[CompetitorTotals, ...]
_TraceValue: TypeAlias = int | float | str | None


class _Split(NamedTuple):
    """The boundary between two adjacent blocks: the step and the adjacent rows' values."""

    step: str
    value_above: _TraceValue
    value_below: _TraceValue


# A block refined into ordered sub-blocks, with len(sub-blocks) - 1 splits between them.
_Refinement: TypeAlias = tuple[list[_Block], list[_Split]]
