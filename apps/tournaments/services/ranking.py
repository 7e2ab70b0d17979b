"""Ranking core: competitor totals + a ruleset -> a total order, with the reason for every split.

Pure: no Django, no I/O, no clock; every input and output is a frozen dataclass, so the rules are
tested without a database (contract section 3).

How a board is ranked. The rows start as one block. Each criterion of the ruleset, in order,
refines every block that still holds more than one row into ordered sub-blocks; a block's rows are
tied on every criterion applied so far. After the last criterion the rows still tied (only the
same competitor registered twice, or a ruleset without an `id` step) are ordered by competitor id,
then registration id, reported as step `id`. The result is a partition tree whose leaves are
single rows, which gives:

- a total order: ranks are exactly 1..N, without gaps or repeats;
- `decided_by` of a row: the criterion at which it was split from the row directly above it;
- the trace: one entry per adjacent pair, that criterion and the two rows' values of it;
- independence from input order: every split compares values only, and the final fallback is a
  total order on (competitor_id, registration_id), which is unique per row (checked).

Key criteria are applied by sorting (consecutive key criteria in one sort on a composite key), so
a board costs O(N log N) plus, under `head-to-head`, the matches between tied competitors.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from itertools import pairwise
from types import MappingProxyType
from typing import NamedTuple, TypeAlias

# The step reported for the final fallback (same competitor twice: lower registration id first).
IDENTITY_STEP = "id"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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

    def __post_init__(self) -> None:
        _require_aware("earliest_win_at", self.earliest_win_at)
        _require_aware("last_updated_at", self.last_updated_at)


@dataclass(frozen=True, slots=True)
class HeadToHeadMatch:
    """One counted match of the tournament between two registrations.

    `winner_registration_id` is None for a draw, else one of the two sides (checked). A forfeit is
    a win for its winner whatever the scores; the scores are carried but the mini-table does not
    use them.
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
    """Points per result; used for the head-to-head mini-table."""

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

    Values are JSON-serialisable: ints, ISO-8601 UTC strings ending in "Z", or None. For
    `head_to_head` they are the two rows' mini-table points in the (sub-)group that split them.
    """

    rank_above: int
    rank_below: int
    step: str
    value_above: int | str | None
    value_below: int | str | None


@dataclass(frozen=True, slots=True)
class Ranking:
    """Invariants: `rows[i].rank == i + 1`; `len(trace) == max(len(rows) - 1, 0)`;
    `trace[i].step == rows[i + 1].decided_by`."""

    rows: tuple[RankedRow, ...]
    trace: tuple[TraceStep, ...]


class Direction(StrEnum):
    HIGHER_FIRST = "higher_first"
    LOWER_FIRST = "lower_first"


CriterionValue: TypeAlias = int | datetime | None


@dataclass(frozen=True, slots=True)
class KeyCriterion:
    """Orders rows by one value per row (a field or a value derived from the totals).

    A missing value (None) comes after every present value, whichever the direction. Datetimes
    are compared as instants and reported in the trace as ISO-8601 UTC strings.
    """

    name: str
    value: Callable[[CompetitorTotals], CriterionValue]
    direction: Direction


@dataclass(frozen=True, slots=True)
class HeadToHeadCriterion:
    """Orders a tied group by a mini-table of only the matches between its members, scored with
    the points scheme; each sub-group still tied after a split is re-ranked by its own mini-table,
    recursively, until a mini-table splits no further. Needs `registration_id` on every row."""

    name: str = "head_to_head"


Criterion: TypeAlias = KeyCriterion | HeadToHeadCriterion


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A named, ordered tuple of criteria; criterion names are unique (checked)."""

    name: str
    criteria: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a ruleset needs a name")
        if not self.criteria:
            raise ValueError(f"ruleset {self.name!r} has no criteria")
        names = [criterion.name for criterion in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError(f"ruleset {self.name!r} repeats a criterion name: {names}")

    @property
    def uses_head_to_head(self) -> bool:
        return any(isinstance(criterion, HeadToHeadCriterion) for criterion in self.criteria)


def score_difference(totals: CompetitorTotals) -> int:
    """Overall score difference: score_for - score_against."""
    return totals.score_for - totals.score_against


POINTS = KeyCriterion("points", operator.attrgetter("points"), Direction.HIGHER_FIRST)
WINS = KeyCriterion("wins", operator.attrgetter("wins"), Direction.HIGHER_FIRST)
MATCHES_PLAYED = KeyCriterion(
    "matches_played", operator.attrgetter("matches_played"), Direction.LOWER_FIRST
)
EARLIEST_WIN = KeyCriterion(
    "earliest_win", operator.attrgetter("earliest_win_at"), Direction.LOWER_FIRST
)
SCORE_DIFFERENCE = KeyCriterion("score_difference", score_difference, Direction.HIGHER_FIRST)
SCORE_FOR = KeyCriterion("score_for", operator.attrgetter("score_for"), Direction.HIGHER_FIRST)
COMPETITOR_ID = KeyCriterion(
    IDENTITY_STEP, operator.attrgetter("competitor_id"), Direction.LOWER_FIRST
)
HEAD_TO_HEAD = HeadToHeadCriterion("head_to_head")

DELTACROWN_5STEP = Ruleset(
    "deltacrown-5step", (POINTS, WINS, MATCHES_PLAYED, EARLIEST_WIN, COMPETITOR_ID)
)
HEAD_TO_HEAD_RULESET = Ruleset(
    "head-to-head", (POINTS, HEAD_TO_HEAD, SCORE_DIFFERENCE, SCORE_FOR, WINS, COMPETITOR_ID)
)

RULESETS: Mapping[str, Ruleset] = MappingProxyType(
    {ruleset.name: ruleset for ruleset in (DELTACROWN_5STEP, HEAD_TO_HEAD_RULESET)}
)


class UnknownRulesetError(ValueError):
    """A ruleset name that is not in RULESETS."""


def get_ruleset(name: str) -> Ruleset:
    """The ruleset called `name`; UnknownRulesetError (a ValueError) names the known ones."""
    try:
        return RULESETS[name]
    except KeyError:
        known = ", ".join(sorted(RULESETS))
        raise UnknownRulesetError(f"unknown ruleset {name!r}; known rulesets: {known}") from None


def rank_competitors(
    totals: Sequence[CompetitorTotals],
    ruleset: Ruleset,
    *,
    head_to_head_matches: Sequence[HeadToHeadMatch] = (),
    points: PointsScheme = DEFAULT_POINTS_SCHEME,
) -> Ranking:
    """Rank `totals` under `ruleset` (contract section 3).

    `points` scores the head-to-head mini-table only (row points come precomputed in the totals).
    `head_to_head_matches` are the tournament's counted matches; those involving a registration
    that is not on the board can never be between tied competitors and are ignored.

    Guarantees: ranks 1..N; the same result for any order of `totals` and of the matches; see the
    module docstring for `decided_by` and the trace.

    Raises ValueError when two rows share a registration id, two rows without a registration id
    share a competitor id, or the ruleset uses head_to_head and a row has no registration id.
    """
    rows = tuple(totals)
    _check_identities_are_unique(rows)
    matches_by_registration: dict[int, list[HeadToHeadMatch]] = {}
    if ruleset.uses_head_to_head:
        matches_by_registration = _index_matches(rows, ruleset, head_to_head_matches)

    blocks: list[tuple[CompetitorTotals, ...]] = [rows] if rows else []
    splits: list[_Split] = []
    for stage in _stages(ruleset.criteria):
        if all(len(block) == 1 for block in blocks):
            break
        split_block: Callable[[_Block], _Refinement]
        if isinstance(stage, HeadToHeadCriterion):
            split_block = partial(
                _split_by_head_to_head,
                step=stage.name,
                matches_by_registration=matches_by_registration,
                points=points,
            )
        else:
            split_block = partial(_split_by_keys, criteria=stage)
        blocks, splits = _refine(blocks, splits, split_block)
    blocks, splits = _refine(blocks, splits, _split_by_identity)

    ranked_rows = tuple(
        RankedRow(
            totals=block[0],
            rank=position + 1,
            decided_by=None if position == 0 else splits[position - 1].step,
        )
        for position, block in enumerate(blocks)
    )
    trace = tuple(
        TraceStep(
            rank_above=position + 1,
            rank_below=position + 2,
            step=split.step,
            value_above=split.value_above,
            value_below=split.value_below,
        )
        for position, split in enumerate(splits)
    )
    return Ranking(rows=ranked_rows, trace=trace)


# --- internals -------------------------------------------------------------------------------

_Block: TypeAlias = tuple[CompetitorTotals, ...]
_TraceValue: TypeAlias = int | str | None


class _Split(NamedTuple):
    """The boundary between two adjacent blocks: the step and the adjacent rows' values."""

    step: str
    value_above: _TraceValue
    value_below: _TraceValue


# A block refined into ordered sub-blocks, with len(sub-blocks) - 1 splits between them.
_Refinement: TypeAlias = tuple[list[_Block], list[_Split]]


def _check_identities_are_unique(rows: Sequence[CompetitorTotals]) -> None:
    registrations: set[int] = set()
    unregistered_competitors: set[int] = set()
    for row in rows:
        if row.registration_id is not None:
            if row.registration_id in registrations:
                raise ValueError(f"registration {row.registration_id} appears on two rows")
            registrations.add(row.registration_id)
        else:
            if row.competitor_id in unregistered_competitors:
                raise ValueError(
                    f"competitor {row.competitor_id} appears on two rows without a registration id"
                )
            unregistered_competitors.add(row.competitor_id)


def _index_matches(
    rows: Sequence[CompetitorTotals], ruleset: Ruleset, matches: Sequence[HeadToHeadMatch]
) -> dict[int, list[HeadToHeadMatch]]:
    """Matches between two registrations on the board, listed under each of the two."""
    on_board: set[int] = set()
    for row in rows:
        if row.registration_id is None:
            raise ValueError(
                f"ruleset {ruleset.name!r} ranks head to head by registration, but competitor "
                f"{row.competitor_id} has no registration id"
            )
        on_board.add(row.registration_id)
    index: dict[int, list[HeadToHeadMatch]] = {}
    for match in matches:
        if match.registration1_id in on_board and match.registration2_id in on_board:
            index.setdefault(match.registration1_id, []).append(match)
            index.setdefault(match.registration2_id, []).append(match)
    return index


def _stages(criteria: Sequence[Criterion]) -> list[tuple[KeyCriterion, ...] | HeadToHeadCriterion]:
    """Consecutive key criteria merged into one stage (one sort on a composite key)."""
    stages: list[tuple[KeyCriterion, ...] | HeadToHeadCriterion] = []
    run: list[KeyCriterion] = []
    for criterion in criteria:
        if isinstance(criterion, KeyCriterion):
            run.append(criterion)
            continue
        if run:
            stages.append(tuple(run))
            run = []
        stages.append(criterion)
    if run:
        stages.append(tuple(run))
    return stages


def _refine(
    blocks: list[_Block],
    splits: list[_Split],
    split_block: Callable[[_Block], _Refinement],
) -> tuple[list[_Block], list[_Split]]:
    """Refine every block of two or more rows; the splits between existing blocks are kept."""
    refined_blocks: list[_Block] = []
    refined_splits: list[_Split] = []
    for position, block in enumerate(blocks):
        if position:
            refined_splits.append(splits[position - 1])
        if len(block) == 1:
            refined_blocks.append(block)
            continue
        sub_blocks, sub_splits = split_block(block)
        refined_blocks.extend(sub_blocks)
        refined_splits.extend(sub_splits)
    return refined_blocks, refined_splits


# Sorts after every ordinal, whichever the direction: a missing value comes last.
_MISSING_LAST = float("inf")


def _sort_ordinals(values: Sequence[CriterionValue], direction: Direction) -> list[int | float]:
    """One sortable number per value: ascending order is the criterion's order, None last.

    Datetimes become microseconds since the epoch (exact for aware datetimes); ints compare
    exactly with the float infinity.
    """
    sign = -1 if direction is Direction.HIGHER_FIRST else 1
    return [
        _MISSING_LAST
        if value is None
        else sign * ((value - _EPOCH) // _MICROSECOND if isinstance(value, datetime) else value)
        for value in values
    ]


def _trace_value(value: CriterionValue) -> _TraceValue:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"
    return value


def _split_by_keys(block: _Block, criteria: tuple[KeyCriterion, ...]) -> _Refinement:
    """One sort on the composite key; adjacent rows split at their first differing criterion.

    Works column by column (one list per criterion) because this is the hot path of every board.
    """
    values = [list(map(criterion.value, block)) for criterion in criteria]
    keys = list(
        zip(
            *(
                _sort_ordinals(column, criterion.direction)
                for criterion, column in zip(criteria, values, strict=True)
            ),
            strict=True,
        )
    )
    order = sorted(range(len(block)), key=keys.__getitem__)

    sub_blocks: list[list[CompetitorTotals]] = [[block[order[0]]]]
    splits: list[_Split] = []
    for above, below in pairwise(order):
        key_above, key_below = keys[above], keys[below]
        if key_above == key_below:
            sub_blocks[-1].append(block[below])
            continue
        differing = 0
        while key_above[differing] == key_below[differing]:
            differing += 1
        splits.append(
            _Split(
                criteria[differing].name,
                _trace_value(values[differing][above]),
                _trace_value(values[differing][below]),
            )
        )
        sub_blocks.append([block[below]])
    return [tuple(sub_block) for sub_block in sub_blocks], splits


def _identity_key(row: CompetitorTotals) -> tuple[int, bool, int]:
    return (row.competitor_id, row.registration_id is None, row.registration_id or 0)


def _split_by_identity(block: _Block) -> _Refinement:
    """The final fallback: competitor id, then registration id (None last), reported as `id`.

    Every pair of rows differs here (identities are unique), so every row becomes a block."""
    ordered = sorted(block, key=_identity_key)
    splits = [
        _Split(step=IDENTITY_STEP, value_above=above.competitor_id, value_below=below.competitor_id)
        for above, below in pairwise(ordered)
    ]
    return [(row,) for row in ordered], splits


def _match_points(match: HeadToHeadMatch, registration_id: int, points: PointsScheme) -> int:
    if match.winner_registration_id is None:
        return points.draw
    return points.win if match.winner_registration_id == registration_id else points.loss


def _mini_table(
    block: _Block,
    matches_by_registration: Mapping[int, list[HeadToHeadMatch]],
    points: PointsScheme,
) -> dict[int, int]:
    """Mini-table points per registration from only the matches between members of `block`."""
    table = {row.registration_id: 0 for row in block if row.registration_id is not None}
    for registration_id in table:
        for match in matches_by_registration.get(registration_id, ()):
            opponent = (
                match.registration2_id
                if match.registration1_id == registration_id
                else match.registration1_id
            )
            if opponent in table:
                table[registration_id] += _match_points(match, registration_id, points)
    return table


def _split_by_head_to_head(
    block: _Block,
    step: str,
    matches_by_registration: Mapping[int, list[HeadToHeadMatch]],
    points: PointsScheme,
) -> _Refinement:
    """Split by mini-table, then re-split each still-tied sub-group by its own mini-table, until
    a mini-table splits no further.

    Walked depth-first with an explicit stack (no recursion limit on large tied groups). Each
    pending block carries the split that precedes it in the output, so leaves come out in order.
    """
    out_blocks: list[_Block] = []
    out_splits: list[_Split] = []
    pending: list[tuple[_Block, _Split | None]] = [(block, None)]
    while pending:
        current, split_before = pending.pop()
        sub_blocks, sub_splits = _split_once_by_mini_table(
            current, step, matches_by_registration, points
        )
        if len(sub_blocks) == 1:
            if split_before is not None:
                out_splits.append(split_before)
            out_blocks.append(current)
            continue
        befores = [split_before, *sub_splits]
        pending.extend(reversed(list(zip(sub_blocks, befores, strict=True))))
    return out_blocks, out_splits


def _split_once_by_mini_table(
    block: _Block,
    step: str,
    matches_by_registration: Mapping[int, list[HeadToHeadMatch]],
    points: PointsScheme,
) -> _Refinement:
    if len(block) == 1:
        return [block], []
    table = _mini_table(block, matches_by_registration, points)
    if len(set(table.values())) == 1:
        return [block], []

    def mini_points(row: CompetitorTotals) -> int:
        return table[row.registration_id] if row.registration_id is not None else 0

    ordered = sorted(block, key=mini_points, reverse=True)
    sub_blocks: list[list[CompetitorTotals]] = [[ordered[0]]]
    splits: list[_Split] = []
    for above, below in pairwise(ordered):
        if mini_points(above) == mini_points(below):
            sub_blocks[-1].append(below)
            continue
        splits.append(
            _Split(step=step, value_above=mini_points(above), value_below=mini_points(below))
        )
        sub_blocks.append([below])
    return [tuple(sub_block) for sub_block in sub_blocks], splits
