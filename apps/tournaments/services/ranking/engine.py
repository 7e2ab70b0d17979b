"""`rank_competitors`: refines one block of rows, criterion by criterion, into single rows.

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

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise

from apps.tournaments.services.ranking.head_to_head import (
    _index_matches,
    _split_by_head_to_head,
)
from apps.tournaments.services.ranking.opponents import NO_OPPONENTS, opponent_records
from apps.tournaments.services.ranking.rows import (
    DEFAULT_POINTS_SCHEME,
    CompetitorTotals,
    CountedMatch,
    PointsScheme,
    RankedRow,
    Ranking,
    TraceStep,
    _Block,
    _Refinement,
    _Split,
    _TraceValue,
)
from apps.tournaments.services.ranking.rulesets import (
    IDENTITY_STEP,
    Criterion,
    CriterionValue,
    Direction,
    HeadToHeadCriterion,
    KeyCriterion,
    OpponentCriterion,
    Ruleset,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def rank_competitors(
    totals: Sequence[CompetitorTotals],
    ruleset: Ruleset,
    *,
    matches: Sequence[CountedMatch] = (),
    points: PointsScheme = DEFAULT_POINTS_SCHEME,
) -> Ranking:
    """Rank `totals` under `ruleset` (contract section 3).

    `points` scores the head-to-head mini-table only (row points come precomputed in the totals).
    `matches` are the tournament's counted matches; those involving a registration
    that is not on the board can never be between tied competitors and are ignored.

    Guarantees: ranks 1..N; the same result for any order of `totals` and of the matches; see the
    module docstring for `decided_by` and the trace.

    Raises ValueError when two rows share a registration id, two rows without a registration id
    share a competitor id, or the ruleset uses head_to_head and a row has no registration id.
    """
    rows = tuple(totals)
    _check_identities_are_unique(rows)
    matches_by_registration: dict[int, list[CountedMatch]] = {}
    if ruleset.uses_head_to_head:
        matches_by_registration = _index_matches(rows, ruleset, matches)
    criteria = ruleset.criteria
    if ruleset.uses_opponents:
        criteria = _with_opponent_values(rows, ruleset, matches, points)

    blocks: list[tuple[CompetitorTotals, ...]] = [rows] if rows else []
    splits: list[_Split] = []
    for stage in _stages(criteria):
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


def _with_opponent_values(
    rows: Sequence[CompetitorTotals],
    ruleset: Ruleset,
    matches: Sequence[CountedMatch],
    points: PointsScheme,
) -> tuple[Criterion, ...]:
    """The ruleset's criteria with each opponent criterion turned into a key criterion over its
    values, computed once per row from one pass over the matches."""
    for row in rows:
        if row.registration_id is None:
            raise ValueError(
                f"ruleset {ruleset.name!r} weighs opponents by registration, but competitor "
                f"{row.competitor_id} has no registration id"
            )
    records = opponent_records(matches, points)
    resolved: list[Criterion] = []
    for criterion in ruleset.criteria:
        if not isinstance(criterion, OpponentCriterion):
            resolved.append(criterion)
            continue
        values = {
            row.registration_id: criterion.value(records.get(row.registration_id, NO_OPPONENTS))
            for row in rows
        }
        lookup = _registration_value(values)
        resolved.append(KeyCriterion(criterion.name, lookup, criterion.direction))
    return tuple(resolved)


def _registration_value(
    values: dict[int | None, int | float],
) -> Callable[[CompetitorTotals], CriterionValue]:
    def value(row: CompetitorTotals) -> CriterionValue:
        return values[row.registration_id]

    return value


def _stages(criteria: Sequence[Criterion]) -> list[tuple[KeyCriterion, ...] | HeadToHeadCriterion]:
    """Consecutive key criteria merged into one stage (one sort on a composite key)."""
    stages: list[tuple[KeyCriterion, ...] | HeadToHeadCriterion] = []
    run: list[KeyCriterion] = []
    for criterion in criteria:
        if isinstance(criterion, OpponentCriterion):  # resolved before (_with_opponent_values)
            raise TypeError(f"unresolved opponent criterion {criterion.name!r}")
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
