"""The head-to-head criterion: a mini-table of the matches between tied competitors only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from apps.tournaments.services.ranking.rows import (
    CompetitorTotals,
    CountedMatch,
    PointsScheme,
    _Block,
    _Refinement,
    _Split,
)
from apps.tournaments.services.ranking.rulesets import Ruleset


def _index_matches(
    rows: Sequence[CompetitorTotals], ruleset: Ruleset, matches: Sequence[CountedMatch]
) -> dict[int, list[CountedMatch]]:
    """Matches between two registrations on the board, listed under each of the two."""
    on_board: set[int] = set()
    for row in rows:
        if row.registration_id is None:
            raise ValueError(
                f"ruleset {ruleset.name!r} ranks head to head by registration, but competitor "
                f"{row.competitor_id} has no registration id"
            )
        on_board.add(row.registration_id)
    index: dict[int, list[CountedMatch]] = {}
    for match in matches:
        if match.registration1_id in on_board and match.registration2_id in on_board:
            index.setdefault(match.registration1_id, []).append(match)
            index.setdefault(match.registration2_id, []).append(match)
    return index


def _match_points(match: CountedMatch, registration_id: int, points: PointsScheme) -> int:
    if match.winner_registration_id is None:
        return points.draw
    return points.win if match.winner_registration_id == registration_id else points.loss


def _mini_table(
    block: _Block,
    matches_by_registration: Mapping[int, list[CountedMatch]],
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
    matches_by_registration: Mapping[int, list[CountedMatch]],
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
    matches_by_registration: Mapping[int, list[CountedMatch]],
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
