"""Criteria and the named rulesets built from them; a new ruleset is data, not code."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from apps.tournaments.services.ranking import opponents
from apps.tournaments.services.ranking.opponents import OpponentRecord
from apps.tournaments.services.ranking.rows import CompetitorTotals

# The step reported for the final fallback (same competitor twice: lower registration id first).
IDENTITY_STEP = "id"


class Direction(StrEnum):
    HIGHER_FIRST = "higher_first"
    LOWER_FIRST = "lower_first"


CriterionValue: TypeAlias = int | float | datetime | None


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


@dataclass(frozen=True, slots=True)
class OpponentCriterion:
    """Orders rows by a value of the competitor's opponents in the counted matches (`value` reads
    the competitor's `OpponentRecord`, see `opponents.py`); needs `registration_id` on every
    row. A missing value cannot occur: a competitor who met nobody has the empty record."""

    name: str
    value: Callable[[OpponentRecord], int | float]
    direction: Direction


Criterion: TypeAlias = KeyCriterion | HeadToHeadCriterion | OpponentCriterion


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

    @property
    def uses_opponents(self) -> bool:
        return any(isinstance(criterion, OpponentCriterion) for criterion in self.criteria)

    @property
    def reads_matches(self) -> bool:
        """Whether ranking needs the tournament's counted matches, not only the totals."""
        return self.uses_head_to_head or self.uses_opponents


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
LOSSES = KeyCriterion("losses", operator.attrgetter("losses"), Direction.LOWER_FIRST)
SEED = KeyCriterion("seed", operator.attrgetter("seed"), Direction.LOWER_FIRST)  # None last
BUCHHOLZ_CUT1 = OpponentCriterion("buchholz_cut1", opponents.buchholz_cut1, Direction.HIGHER_FIRST)
BUCHHOLZ = OpponentCriterion("buchholz", opponents.buchholz, Direction.HIGHER_FIRST)
SONNEBORN_BERGER = OpponentCriterion(
    "sonneborn_berger", opponents.sonneborn_berger, Direction.HIGHER_FIRST
)
BUCHHOLZ_DIFFICULTY = OpponentCriterion(
    "buchholz_difficulty", opponents.buchholz_difficulty, Direction.HIGHER_FIRST
)

DELTACROWN_5STEP = Ruleset(
    "deltacrown-5step", (POINTS, WINS, MATCHES_PLAYED, EARLIEST_WIN, COMPETITOR_ID)
)
HEAD_TO_HEAD_RULESET = Ruleset(
    "head-to-head", (POINTS, HEAD_TO_HEAD, SCORE_DIFFERENCE, SCORE_FOR, WINS, COMPETITOR_ID)
)

# FIDE's tie-break regulations (Handbook C.07): Buchholz Cut 1, Buchholz, Sonneborn-Berger.
SWISS_BUCHHOLZ = Ruleset(
    "swiss-buchholz",
    (POINTS, BUCHHOLZ_CUT1, BUCHHOLZ, SONNEBORN_BERGER, WINS, COMPETITOR_ID),
)
# The Counter-Strike Major Swiss stage: record, then the opponents' records, then seed.
CS_SWISS = Ruleset("cs-swiss", (WINS, LOSSES, BUCHHOLZ_DIFFICULTY, SEED, COMPETITOR_ID))

RULESETS: Mapping[str, Ruleset] = MappingProxyType(
    {
        ruleset.name: ruleset
        for ruleset in (DELTACROWN_5STEP, HEAD_TO_HEAD_RULESET, SWISS_BUCHHOLZ, CS_SWISS)
    }
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
