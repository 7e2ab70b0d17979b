"""Staff views of the leaderboard machinery: a live board with its tie-break trace, the cache's
health, and manual invalidation. Nothing here writes a board to the cache."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import structlog
from django.utils import timezone

from apps.common.audit import record_audit
from apps.common.flags import all_flag_states, flag_state
from apps.common.metrics import RedisOperation
from apps.common.models import AuditAction, FlagName
from apps.common.redis_gateway import is_embedded, is_redis_reachable, require_redis
from apps.common.timestamps import iso_utc
from apps.tournaments.boards import BoardRef, EvictionReason, Scope
from apps.tournaments.errors import TournamentNotFoundError
from apps.tournaments.models import Tournament
from apps.tournaments.services import aggregation, cache_stats
from apps.tournaments.services.board_cache import invalidation, store
from apps.tournaments.services.board_cache.keys import board_key
from apps.tournaments.services.board_compute import rank_tournament, tournament_row
from apps.tournaments.services.board_documents import BoardDocument

log = structlog.get_logger(__name__)

# Upper bounds (inclusive) of the TTL buckets of the cache-status endpoint, in seconds.
TTL_BUCKETS = (("0_60_seconds", 60), ("60_180_seconds", 180), ("180_300_seconds", 300))
OVER_TTL_BUCKET = "over_300_seconds"


def inspect_tournament(tournament_id: int) -> dict[str, Any]:
    """The board computed live (3 queries), its trace, the flags and the cache's view of it."""
    tournament = tournament_row(tournament_id)
    registration_totals = aggregation.tournament_totals(tournament_id)
    matches = aggregation.counted_match_rows([tournament_id])
    ranking = rank_tournament(tournament, registration_totals, matches)
    match_ids: dict[int, list[int]] = defaultdict(list)
    for match_id, _, first, second, *_ in matches:
        match_ids[first].append(match_id)
        match_ids[second].append(match_id)
    by_registration = {each.totals.registration_id: each for each in registration_totals}
    raw = []
    for ranked in ranking.rows:
        totals = ranked.totals
        registration = by_registration[totals.registration_id]
        raw.append(
            {
                "registration_id": totals.registration_id,
                "participant_id": registration.participant_id,
                "team_id": registration.team_id,
                "points": totals.points,
                "wins": totals.wins,
                "draws": totals.draws,
                "losses": totals.losses,
                "total_matches": totals.matches_played,
                "match_ids": sorted(match_ids.get(totals.registration_id, [])),
                "earliest_win": iso_utc(totals.earliest_win_at),
            }
        )
    trace = [
        {
            "rank_above": step.rank_above,
            "rank_below": step.rank_below,
            "step": step.step,
            "value_above": step.value_above,
            "value_below": step.value_below,
        }
        for step in ranking.trace
    ]
    return {
        "tournament_id": tournament_id,
        "flag_states": {
            name: {"enabled": state.enabled, "source": state.source.value}
            for name, state in all_flag_states().items()
        },
        "raw_aggregations": raw,
        "tiebreak_trace": trace,
        "cache_metadata": _cache_metadata(BoardRef.tournament(tournament_id)),
        "computed_at": iso_utc(timezone.now()),
    }


def _cache_metadata(board: BoardRef) -> dict[str, Any]:
    read = store.read(board, None)
    key = board_key(board.name)
    if read.document is None:
        return {"cached": False, "cache_key": key, "ttl_seconds": None, "last_refresh": None}
    return {
        "cached": True,
        "cache_key": key,
        "ttl_seconds": store.ttl_seconds(key),
        "last_refresh": BoardDocument.decode(read.document).header.get("computed_at"),
    }


def _ttl_distribution(keys: list[str]) -> dict[str, int | None]:
    buckets: dict[str, int | None] = {name: 0 for name, _ in TTL_BUCKETS}
    buckets[OVER_TTL_BUCKET] = 0

    def call(client):  # type: ignore[no-untyped-def]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.ttl(key)
        return pipe.execute()

    for ttl in require_redis(RedisOperation.TTL, call):
        if ttl is None or ttl < 0:
            continue
        for name, upper in TTL_BUCKETS:
            if ttl <= upper:
                buckets[name] = (buckets[name] or 0) + 1
                break
        else:
            buckets[OVER_TTL_BUCKET] = (buckets[OVER_TTL_BUCKET] or 0) + 1
    return {"expired_count": _expired_keys(), **buckets}


def _expired_keys() -> int | None:
    """Redis's expired-keys statistic; None where the backend cannot tell (the embedded Redis
    has no INFO)."""
    if is_embedded():
        return None
    stats = require_redis(RedisOperation.TTL, lambda client: client.info("stats"))
    return int(stats.get("expired_keys", 0))


def cache_status() -> dict[str, Any]:
    """Key count, fleet-wide hit ratio, TTL spread and whether Redis answers."""
    connected = is_redis_reachable()
    keys_count: int | None = None
    distribution: dict[str, int | None] = {
        "expired_count": None,
        **{name: None for name, _ in TTL_BUCKETS},
        OVER_TTL_BUCKET: None,
    }
    if connected:
        keys = store.board_keys(None)
        keys_count = len(keys)
        distribution = _ttl_distribution(keys)
    totals = cache_stats.accumulator.totals()
    return {
        "cache_enabled": flag_state(FlagName.CACHE.value).enabled,
        "redis_connected": connected,
        "cache_keys_count": keys_count,
        "metrics": {
            "cache_hit_ratio": totals.hit_ratio if totals else None,
            "total_requests": totals.requests if totals else None,
            "cache_hits": totals.hits if totals else None,
            "cache_misses": totals.misses if totals else None,
            "evictions_count": totals.evictions if totals else None,
        },
        "ttl_distribution": distribution,
        "checked_at": iso_utc(timezone.now()),
    }


def record_refused_invalidation(
    *, actor_id: int, status_code: int, error_code: str, target: dict[str, Any] | None
) -> None:
    """The audit record of an invalidation call that removed nothing (contract: every call
    leaves one): who, the answer, and what was asked when the body was readable."""
    record_audit(
        AuditAction.CACHE_INVALIDATED,
        actor_id,
        **(target or {}),
        outcome="refused",
        status_code=status_code,
        error_code=error_code,
        cache_keys_removed=[],
        invalidated_count=0,
    )


def invalidate(
    *, actor_id: int, tournament_id: int | None = None, scope: str | None = None
) -> dict[str, Any]:
    """Manual invalidation by tournament (its board, the season and all-time boards and the
    histories it feeds) or by scope (`all` = every board). Leaves an audit record."""
    if tournament_id is not None:
        if not Tournament.objects.filter(pk=tournament_id).exists():
            raise TournamentNotFoundError.for_id(tournament_id)
        removed = invalidation.invalidate_tournament(tournament_id, EvictionReason.MANUAL)
        target: dict[str, Any] = {"tournament_id": tournament_id}
    else:
        chosen = None if scope == "all" else Scope(scope)
        removed = invalidation.invalidate_scope(chosen, EvictionReason.MANUAL)
        target = {"scope": scope}
    record_audit(
        AuditAction.CACHE_INVALIDATED,
        actor_id,
        **target,
        outcome="done",
        cache_keys_removed=removed,
        invalidated_count=len(removed),
    )
    return {
        "cache_keys_removed": removed,
        "invalidated_count": len(removed),
        "invalidated_at": iso_utc(timezone.now()),
    }
