"""The ranking core: competitor totals and a ruleset in, a total order with its reasons out.

Pure Python over frozen dataclasses (no Django, no I/O, no clock), so the rules are tested without
a database. The modules: `rows` (inputs and outputs), `rulesets` (criteria and the named
rulesets), `head_to_head` (the mini-table criterion), `engine` (`rank_competitors`). Import the
public names from this package.
"""

from apps.tournaments.services.ranking.engine import rank_competitors
from apps.tournaments.services.ranking.head_to_head import (
    DEFAULT_POINTS_SCHEME,
    HeadToHeadMatch,
    PointsScheme,
)
from apps.tournaments.services.ranking.rows import (
    CompetitorTotals,
    RankedRow,
    Ranking,
    TraceStep,
)
from apps.tournaments.services.ranking.rulesets import (
    COMPETITOR_ID,
    DELTACROWN_5STEP,
    EARLIEST_WIN,
    HEAD_TO_HEAD,
    HEAD_TO_HEAD_RULESET,
    IDENTITY_STEP,
    MATCHES_PLAYED,
    POINTS,
    RULESETS,
    SCORE_DIFFERENCE,
    SCORE_FOR,
    WINS,
    Criterion,
    CriterionValue,
    Direction,
    HeadToHeadCriterion,
    KeyCriterion,
    Ruleset,
    UnknownRulesetError,
    get_ruleset,
    score_difference,
)

__all__ = [
    "COMPETITOR_ID",
    "DEFAULT_POINTS_SCHEME",
    "DELTACROWN_5STEP",
    "EARLIEST_WIN",
    "HEAD_TO_HEAD",
    "HEAD_TO_HEAD_RULESET",
    "IDENTITY_STEP",
    "MATCHES_PLAYED",
    "POINTS",
    "RULESETS",
    "SCORE_DIFFERENCE",
    "SCORE_FOR",
    "WINS",
    "CompetitorTotals",
    "Criterion",
    "CriterionValue",
    "Direction",
    "HeadToHeadCriterion",
    "HeadToHeadMatch",
    "KeyCriterion",
    "PointsScheme",
    "RankedRow",
    "Ranking",
    "Ruleset",
    "TraceStep",
    "UnknownRulesetError",
    "get_ruleset",
    "rank_competitors",
    "score_difference",
]
