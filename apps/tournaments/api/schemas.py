"""Response shapes for the OpenAPI schema and for name resolution.

Board responses are rendered by the service straight to bytes (so a cached page is served as
is); these serializers describe those bytes for drf-spectacular and schemathesis.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from apps.common.models import MAX_ID
from apps.tournaments.boards import PUBLIC_SCOPES
from apps.tournaments.services.ranking import RULESETS

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        required=False,
        description="1 to 2^63 - 1, default 1. Past the last page: 404 NOT_FOUND.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        required=False,
        description=f"1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}.",
    ),
]
SLUG = {"type": "string", "minLength": 1, "pattern": "^[-a-zA-Z0-9_]+$"}
RULESET_NAMES = list(RULESETS)
CRITERION_NAMES = sorted(
    {criterion.name for ruleset in RULESETS.values() for criterion in ruleset.criteria}
)
RULESET_HELP = (
    "The tie-break ruleset that ranked the board: the tournament's own on a tournament board "
    "(deltacrown-5step, head-to-head, swiss-buchholz, cs-swiss); deltacrown-5step on season and "
    "all-time boards."
)

# Reading a board as a player (contract section 9).
DEFAULT_WINDOW_SIZE = 11
MAX_WINDOW_SIZE = 101
MAX_BOARD_IDS = 100
_INSTANT = {"type": "string", "format": "date-time"}
_ID = "[1-9][0-9]{0,17}"  # the pattern says less than the server takes (ids up to 2^63 - 1)
READING_PARAMETERS = [
    OpenApiParameter(
        "around",
        {"type": "string", "pattern": "^(me|[1-9][0-9]{0,17})$"},
        required=False,
        description=(
            "A window of `size` rows around one competitor: a participant id on a solo board, a "
            "team id on a team board, or `me` (you; on a tournament's team board, your team). "
            "Not with `page`, `page_size` or `ids`. No row for it: 404 PARTICIPANT_NOT_FOUND."
        ),
        examples=[
            OpenApiExample("Around me", value="me"),
            OpenApiExample("Around competitor 42", value="42"),
        ],
    ),
    OpenApiParameter(
        "size",
        {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_SIZE},
        required=False,
        description=f"Rows in the window, 1-{MAX_WINDOW_SIZE}, default {DEFAULT_WINDOW_SIZE}; "
        "only with `around`.",
    ),
    OpenApiParameter(
        "ids",
        {"type": "string", "pattern": f"^{_ID}(,{_ID}){{0,{MAX_BOARD_IDS - 1}}}$"},
        required=False,
        description=(
            f"Only these competitors' rows (1-{MAX_BOARD_IDS} distinct ids, comma-separated), "
            "each with its rank on the whole board; `missing_ids` lists those without a row. "
            "Not with `page`, `page_size` or `around`."
        ),
        examples=[OpenApiExample("Three friends", value="12,40,7")],
    ),
    OpenApiParameter(
        "as_of",
        _INSTANT,
        required=False,
        description=(
            "The board as it stood at this instant (ISO 8601 with an offset; encode `+` as "
            "`%2B`): only matches completed by then count."
        ),
        examples=[OpenApiExample("Yesterday evening", value="2026-06-01T18:00:00Z")],
    ),
    OpenApiParameter(
        "compare_to",
        _INSTANT,
        required=False,
        description=(
            "Rows add `previous_rank` (at this instant) and `rank_change` (positive: moved up). "
            "Not later than `as_of`."
        ),
        examples=[OpenApiExample("A day earlier", value="2026-05-31T18:00:00Z")],
    ),
]


class ErrorSerializer(serializers.Serializer):
    error_code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    retry_after_seconds = serializers.IntegerField(required=False)


_ERROR_DESCRIPTIONS = {
    400: "VALIDATION_ERROR: a bad query or body; `errors` names each field.",
    401: "NOT_AUTHENTICATED: no or bad credentials.",
    403: "PERMISSION_DENIED: authenticated but not allowed (staff only).",
    404: "Not found: an unknown id, slug or path, or a page past the last.",
    405: "METHOD_NOT_ALLOWED.",
    429: "RATE_LIMIT_EXCEEDED, with `retry_after_seconds` and rate-limit headers.",
    503: "FEATURE_DISABLED (flag off) or SERVICE_UNAVAILABLE (database or Redis down).",
}


def responses(success: Any, *statuses: int, success_status: int = 200) -> dict[int, Any]:
    """A 200 shape plus the error envelope for 401, 405 and every status named."""
    documented: dict[int, Any] = {success_status: success}
    for status in sorted({401, 405, *statuses}):
        documented[status] = OpenApiResponse(
            ErrorSerializer, description=_ERROR_DESCRIPTIONS[status]
        )
    documented[304] = OpenApiResponse(description="Not modified (If-None-Match matched the ETag).")
    return documented


class _PagedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class BoardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    participant_id = serializers.IntegerField(allow_null=True)
    team_id = serializers.IntegerField(allow_null=True)
    registration_id = serializers.IntegerField(allow_null=True)
    points = serializers.IntegerField()
    wins = serializers.IntegerField()
    draws = serializers.IntegerField()
    losses = serializers.IntegerField()
    matches_played = serializers.IntegerField()
    score_for = serializers.IntegerField()
    score_against = serializers.IntegerField()
    earliest_win_at = serializers.DateTimeField(allow_null=True)
    last_updated_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.ChoiceField(
        choices=CRITERION_NAMES,
        allow_null=True,
        help_text="The tie-break step that put this row below the row above it; null for rank 1.",
    )
    previous_rank = serializers.IntegerField(
        allow_null=True, required=False, help_text="With compare_to: the rank then."
    )
    rank_change = serializers.IntegerField(
        allow_null=True, required=False, help_text="With compare_to: previous_rank - rank."
    )


class ScopedBoardRowSerializer(BoardRowSerializer):
    tournaments_played = serializers.IntegerField()


class _ReadingSerializer(_PagedSerializer):
    """The keys a board body adds as a player reads it (contract section 9)."""

    is_final = serializers.BooleanField()
    around = serializers.IntegerField(required=False, allow_null=True)
    missing_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    as_of = serializers.DateTimeField(required=False)
    compare_to = serializers.DateTimeField(required=False)


class TournamentBoardSerializer(_ReadingSerializer):
    tournament_id = serializers.IntegerField()
    participant_type = serializers.ChoiceField(choices=["solo", "team"])
    ruleset = serializers.ChoiceField(choices=RULESET_NAMES, help_text=RULESET_HELP)
    computed_at = serializers.DateTimeField()
    computation_enabled = serializers.BooleanField()
    results = BoardRowSerializer(many=True)


class ScopedBoardSerializer(_ReadingSerializer):
    scope = serializers.ChoiceField(choices=[scope.value for scope in PUBLIC_SCOPES])
    season = serializers.CharField(required=False)
    tournament_id = serializers.IntegerField(allow_null=True)
    participant_type = serializers.ChoiceField(choices=["solo", "team"])
    ruleset = serializers.ChoiceField(choices=RULESET_NAMES, help_text=RULESET_HELP)
    computed_at = serializers.DateTimeField()
    computation_enabled = serializers.BooleanField()
    results = ScopedBoardRowSerializer(many=True)


class HistoryItemSerializer(serializers.Serializer):
    tournament_id = serializers.IntegerField()
    team_id = serializers.IntegerField(allow_null=True)
    registration_id = serializers.IntegerField()
    rank = serializers.IntegerField()
    field_size = serializers.IntegerField()
    points = serializers.IntegerField()
    wins = serializers.IntegerField()
    draws = serializers.IntegerField()
    losses = serializers.IntegerField()
    matches_played = serializers.IntegerField()
    tournament_status = serializers.CharField()
    tournament_ended_at = serializers.DateTimeField(allow_null=True)


class HistorySerializer(_PagedSerializer):
    participant_id = serializers.IntegerField()
    computation_enabled = serializers.BooleanField()
    results = HistoryItemSerializer(many=True)


# --- name resolution (the only responses that carry names) --------------------------------------


class ProfileNameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()


class TeamNameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    tag = serializers.CharField()


MAX_NAME_IDS = 200
# Ids of up to 18 digits (all below 2^63), up to MAX_NAME_IDS of them: every value this pattern
# allows is accepted. The server also takes ids up to 2^63 - 1, leading zeros and repeats.
_NAME_ID = "[1-9][0-9]{0,17}"
NAME_IDS = {"type": "string", "pattern": f"^{_NAME_ID}(,{_NAME_ID}){{0,{MAX_NAME_IDS - 1}}}$"}


def name_ids_parameter(kind: str, example: str) -> OpenApiParameter:
    """The `ids` query parameter of a names-in-bulk endpoint."""
    return OpenApiParameter(
        "ids",
        NAME_IDS,
        required=True,
        description=(
            f"Comma-separated {kind} ids, 1 to {MAX_NAME_IDS} distinct integers from 1 to "
            "2^63 - 1; repeats are ignored. Anything else: 400 VALIDATION_ERROR naming `ids`."
        ),
        examples=[OpenApiExample("Three ids", value=example)],
    )


class ProfileNameListSerializer(serializers.Serializer):
    """Names in bulk: the known ids, ascending; unknown ids are left out."""

    results = ProfileNameSerializer(many=True)


class TeamNameListSerializer(serializers.Serializer):
    """Names in bulk: the known ids, ascending; unknown ids are left out."""

    results = TeamNameSerializer(many=True)


class TournamentMetadataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    game = serializers.CharField()
    season = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    participation_type = serializers.CharField()
    format = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)


class PingSerializer(serializers.Serializer):
    ok = serializers.BooleanField()


# --- staff debug endpoints ----------------------------------------------------------------------


class FlagStateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    source = serializers.ChoiceField(choices=["env", "db", "default"])


class RawAggregationSerializer(serializers.Serializer):
    registration_id = serializers.IntegerField()
    participant_id = serializers.IntegerField(allow_null=True)
    team_id = serializers.IntegerField(allow_null=True)
    points = serializers.IntegerField()
    wins = serializers.IntegerField()
    draws = serializers.IntegerField()
    losses = serializers.IntegerField()
    total_matches = serializers.IntegerField()
    match_ids = serializers.ListField(child=serializers.IntegerField())
    earliest_win = serializers.DateTimeField(allow_null=True)


class TraceStepSerializer(serializers.Serializer):
    rank_above = serializers.IntegerField()
    rank_below = serializers.IntegerField()
    step = serializers.ChoiceField(choices=CRITERION_NAMES)
    value_above = serializers.JSONField(allow_null=True)
    value_below = serializers.JSONField(allow_null=True)


class CacheMetadataSerializer(serializers.Serializer):
    cached = serializers.BooleanField()
    cache_key = serializers.CharField()
    ttl_seconds = serializers.IntegerField(allow_null=True)
    last_refresh = serializers.DateTimeField(allow_null=True)


class InspectSerializer(serializers.Serializer):
    tournament_id = serializers.IntegerField()
    flag_states = serializers.DictField(child=FlagStateSerializer())
    raw_aggregations = RawAggregationSerializer(many=True)
    tiebreak_trace = TraceStepSerializer(many=True)
    cache_metadata = CacheMetadataSerializer()
    computed_at = serializers.DateTimeField()


class CacheMetricsSerializer(serializers.Serializer):
    cache_hit_ratio = serializers.FloatField(allow_null=True)
    total_requests = serializers.IntegerField(allow_null=True)
    cache_hits = serializers.IntegerField(allow_null=True)
    cache_misses = serializers.IntegerField(allow_null=True)
    evictions_count = serializers.IntegerField(allow_null=True)


# Three keys start with a digit and cannot be class attributes: build the class from a dict.
TtlDistributionSerializer = type(
    "TtlDistributionSerializer",
    (serializers.Serializer,),
    {
        name: serializers.IntegerField(allow_null=True)
        for name in (
            "expired_count",
            "0_60_seconds",
            "60_180_seconds",
            "180_300_seconds",
            "over_300_seconds",
        )
    },
)


class CacheStatusSerializer(serializers.Serializer):
    cache_enabled = serializers.BooleanField()
    redis_connected = serializers.BooleanField()
    cache_keys_count = serializers.IntegerField(allow_null=True)
    metrics = CacheMetricsSerializer()
    ttl_distribution = TtlDistributionSerializer()
    checked_at = serializers.DateTimeField()


class InvalidationSerializer(serializers.Serializer):
    cache_keys_removed = serializers.ListField(child=serializers.CharField())
    invalidated_count = serializers.IntegerField()
    invalidated_at = serializers.DateTimeField()
