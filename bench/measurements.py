"""What the benchmark measures on a built data set, board by board (see bench/README.md).

For each board:
- `uncached`: the board document computed from SQL and ranked (`compute_board`, what a cache miss
  runs, its season / game lookups included);
- `bare_sql`: the aggregation module's own statements, replayed with a cursor (execute + fetchall)
  on the same data; `ratio` = uncached / bare_sql (medians of one interleaved loop, so machine
  noise hits both alike);
- `beyond_sql`: the median over those rounds of (uncached - bare SQL) of the same round, the
  engine's own share, split into `row_building` (the aggregation module's functions with their
  SQL answered from memory: one `CompetitorTotals`, or head-to-head match, per fetched row),
  `ranking` (the ranking alone on the aggregate's result) and the remainder `rest_ms` (the
  lookups with their SQL round trips, and the board's row dicts);
- `cached`: a `read_board_page` read on a warm cache (Redis; without --redis-url the embedded
  one, fakeredis in this process, which replaced the in-process store), its rate-limit count
  (a budget no run reaches) in the same round trip as the page read, as in a request;
- `encode` / `decode` / `render`: the document to JSON bytes (what a miss stores), back, and one
  page of 50 rows cut from the decoded document (what a page miss on a cached document costs);
- `uncached_cpu`: this process's CPU time during `uncached` (Python work, including the
  driver's; not the database server's), which machine load inflates far less than wall time;
- `queries`: SQL statements of one uncached computation (must be the documented constant,
  `EXPECTED_QUERIES`, whatever the size) and of one cached read.

The bare SQL is not copied from aggregation.py: the statements are captured with
`connection.execute_wrapper` while the module's functions run, then replayed verbatim (same SQL
text, same parameters). Its private helpers (`_sides_sql`, `_TOTAL_COLUMNS`) are not enough to
rebuild it, because the outer SELECT / GROUP BY templates live inside the function bodies.
The row building is timed by answering the module's private `_fetch` from memory; the smoke test
fails if that seam moves.
"""

from __future__ import annotations

import gc
import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.rate_limits import KEY_PREFIX as RATE_LIMIT_KEY_PREFIX
from apps.common.rate_limits import RateLimitCount
from apps.common.redis_gateway import redis_client
from apps.tournaments.boards import BoardRef, Scope
from apps.tournaments.models import (
    BOARD_VISIBLE_STATUSES,
    COUNTED_MATCH_STATES,
    Match,
    ParticipationType,
    Tournament,
)
from apps.tournaments.services import aggregation
from apps.tournaments.services.board_cache import store
from apps.tournaments.services.board_cache.keys import lock_key
from apps.tournaments.services.board_compute import (
    SEASON_RULESET,
    TOURNAMENT_FIELDS,
    compute_board,
    rank_tournament,
    reads_matches,
)
from apps.tournaments.services.board_documents import BoardDocument, PageSpec, render_page
from apps.tournaments.services.leaderboard_service import BoardPage, read_board_page
from apps.tournaments.services.ranking import get_ruleset, rank_competitors
from bench.dataset import BenchData

# SQL statements of one uncached computation, whatever the board's size (asserted by the smoke
# test; the engine's own tests pin the same numbers).
EXPECTED_QUERIES: Mapping[str, int] = {
    "tournament": 2,  # tournament row + aggregate
    "tournament_head_to_head": 3,  # + the counted matches for the mini-tables
    "tournament_small": 2,
    "season": 2,  # the season's id (compute_board looks it up) + the aggregate
    "all_time": 1,  # the aggregate (no game: no game lookup)
    "history": 5,  # user exists, aggregate, tournaments, own registrations, matches (h2h)
}
PAGE_SIZE = 50
MICRO_REPEAT_MIN = 50  # sub-millisecond timings take at least this many samples
WARMUP_ROUNDS = 2
SERVER_SQL_ROUNDS = 5
# The uncached / bare SQL rounds of one board stop after this long (at least MIN_ROUNDS
# rounds): a season board on a loaded SQLite takes ~1.5 s per round.
BOARD_BUDGET_SECONDS = 15.0
MIN_ROUNDS = 5
SOLO = str(ParticipationType.SOLO)
# The reader of the cached reads: no user row is read, and with the flags at 100 % every id gets
# the same answer (the old service's reads had no user at all).
READER_USER_ID = 0
# One rate-limit window for the whole run (removed at the end, with the boards), under a budget
# no run reaches: the cached read pays the count's script in its round trip, as a request does,
# and is never refused.
RATE_LIMIT_KEY = f"{RATE_LIMIT_KEY_PREFIX}bench:{uuid.uuid4().hex}"
UNLIMITED = 10**9


def unlimited_count() -> RateLimitCount:
    """One request counted against a budget no run reaches (cf. the tests' `unlimited_count`)."""
    now = time.time()
    return RateLimitCount(RATE_LIMIT_KEY, UNLIMITED, now, f"{now:.6f}:{uuid.uuid4().hex}")


def read_page(board: BoardRef, spec: PageSpec) -> BoardPage:
    """A page read through the service, as a board view makes it."""
    return read_board_page(board, spec, user_id=READER_USER_ID, count=unlimited_count())


@dataclass(frozen=True, slots=True)
class Timing:
    """Samples in milliseconds; median and p95 (nearest rank)."""

    samples_ms: tuple[float, ...]

    @property
    def median(self) -> float:
        ordered = sorted(self.samples_ms)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def minimum(self) -> float:
        return min(self.samples_ms)

    def summary(self) -> dict[str, float | int]:
        return {
            "median_ms": round(self.median, 3),
            "p95_ms": round(self.p95, 3),
            "min_ms": round(self.minimum, 3),
            "samples": len(self.samples_ms),
        }


@dataclass(frozen=True, slots=True)
class BoardResult:
    key: str
    label: str
    rows: int
    counted_matches: int
    queries: int
    expected_queries: int
    cached_queries: int
    cached_hits: int  # timed cached reads that were served from the cache
    uncached: Timing
    uncached_cpu: Timing  # this process's CPU time: the Python side, not waiting for SQL
    bare_sql: Timing
    beyond_sql: Timing  # per round: uncached - bare SQL
    row_building: Timing
    ranking: Timing
    cached: Timing
    encode: Timing
    decode: Timing
    render: Timing
    server_sql_ms: float | None  # PostgreSQL: planning + execution, EXPLAIN ANALYZE

    @property
    def ratio(self) -> float:
        return self.uncached.median / self.bare_sql.median

    @property
    def rest_ms(self) -> float:
        """The engine's share beyond SQL that is neither row building nor ranking: the lookups
        (their SQL round trips and ORM overhead) and the board's row dicts."""
        return self.beyond_sql.median - self.row_building.median - self.ranking.median

    def to_json(self) -> dict[str, Any]:
        timings = (
            "uncached",
            "uncached_cpu",
            "bare_sql",
            "beyond_sql",
            "row_building",
            "ranking",
            "cached",
            "encode",
            "decode",
        )
        return {
            "key": self.key,
            "label": self.label,
            "rows": self.rows,
            "counted_matches": self.counted_matches,
            "queries": self.queries,
            "expected_queries": self.expected_queries,
            "cached_queries": self.cached_queries,
            "cached_hits": self.cached_hits,
            "ratio_uncached_to_bare_sql": round(self.ratio, 3),
            "rest_ms": round(self.rest_ms, 3),
            "server_sql_ms": self.server_sql_ms,
            **{name: getattr(self, name).summary() for name in timings},
            "render_page_of_50": self.render.summary(),
        }


@dataclass(frozen=True, slots=True)
class BoardCase:
    """One board and the callables that exercise each layer of it."""

    key: str
    label: str
    board: BoardRef
    compute: Callable[[], BoardDocument]
    aggregate: Callable[[], Any]
    rank: Callable[[Any], Any]
    cached_page: Callable[[], BoardPage]
    counted_matches: int


# --- cases ----------------------------------------------------------------------------------------


def _tournament_values(ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = Tournament.objects.filter(pk__in=ids).values(*TOURNAMENT_FIELDS, "starts_at", "ends_at")
    return {row["id"]: row for row in rows}


def _counted(**filters: Any) -> int:
    return Match.objects.filter(state__in=COUNTED_MATCH_STATES, **filters).count()


def _spec(path: str) -> PageSpec:
    return PageSpec(page=1, page_size=PAGE_SIZE, base_url=f"http://localhost:8000{path}")


def _tournament_case(key: str, label: str, tournament_id: int) -> BoardCase:
    tournament = _tournament_values([tournament_id])[tournament_id]
    uses_matches = reads_matches(tournament["tiebreak_ruleset"])
    spec = _spec(f"/api/leaderboards/tournament/{tournament_id}/")

    def aggregate() -> tuple[list[aggregation.RegistrationTotals], list[Any]]:
        totals = aggregation.tournament_totals(tournament_id)
        matches = aggregation.counted_match_rows([tournament_id]) if uses_matches else []
        return totals, matches

    def rank(aggregated: tuple[list[Any], list[Any]]) -> Any:
        return rank_tournament(tournament, *aggregated)

    board = BoardRef.tournament(tournament_id)
    return BoardCase(
        key=key,
        label=label,
        board=board,
        compute=lambda: compute_board(board),
        aggregate=aggregate,
        rank=rank,
        cached_page=lambda: read_page(board, spec),
        counted_matches=_counted(tournament_id=tournament_id),
    )


def _scoped_case(key: str, label: str, season_slug: str | None, season_id: int | None) -> BoardCase:
    if season_slug is not None:
        board = BoardRef(Scope.SEASON, season=season_slug, participant_type=SOLO)
        spec = _spec(f"/api/leaderboards/season/{season_slug}/")
    else:
        board = BoardRef(Scope.ALL_TIME, participant_type=SOLO)
        spec = _spec("/api/leaderboards/all-time/")

    def aggregate() -> list[Any]:
        return aggregation.competitor_totals_across_tournaments(
            participant_type=SOLO, season_id=season_id, game_id=None
        )

    scope_filter: dict[str, Any] = {
        "tournament__status__in": BOARD_VISIBLE_STATUSES,
        "tournament__participation_type": SOLO,
    }
    if season_id is not None:
        scope_filter["tournament__season_id"] = season_id
    return BoardCase(
        key=key,
        label=label,
        board=board,
        compute=lambda: compute_board(board),
        aggregate=aggregate,
        rank=lambda totals: rank_competitors(totals, get_ruleset(SEASON_RULESET)),
        cached_page=lambda: read_page(board, spec),
        counted_matches=_counted(**scope_filter),
    )


def _history_case(user_id: int) -> BoardCase:
    # The tournaments are looked up once here (the engine looks them up on every computation).
    tournament_ids = sorted(
        {each.tournament_id for each in aggregation.totals_for_tournaments_of_user(user_id)}
    )
    tournaments = _tournament_values(tournament_ids)
    head_to_head_ids = [
        tournament_id
        for tournament_id, row in tournaments.items()
        if reads_matches(row["tiebreak_ruleset"])
    ]
    spec = _spec(f"/api/leaderboards/participant/{user_id}/history/")

    def aggregate() -> tuple[list[aggregation.RegistrationTotals], list[Any]]:
        totals = aggregation.totals_for_tournaments_of_user(user_id)
        return totals, aggregation.counted_match_rows(head_to_head_ids)

    def rank(aggregated: tuple[list[aggregation.RegistrationTotals], list[Any]]) -> list[Any]:
        totals, matches = aggregated
        per_tournament: dict[int, list[aggregation.RegistrationTotals]] = {}
        for each in totals:
            per_tournament.setdefault(each.tournament_id, []).append(each)
        return [
            rank_tournament(tournaments[tournament_id], members, matches)
            for tournament_id, members in per_tournament.items()
        ]

    board = BoardRef.history(user_id)
    return BoardCase(
        key="history",
        label=f"history ({len(tournament_ids)} tournaments)",
        board=board,
        compute=lambda: compute_board(board),
        aggregate=aggregate,
        rank=rank,
        cached_page=lambda: read_page(board, spec),
        counted_matches=_counted(tournament_id__in=tournament_ids),
    )


def board_cases(data: BenchData) -> list[BoardCase]:
    sizes = data.sizes
    board_size = f"{sizes.tournament_competitors} / {sizes.tournament_counted_matches:,}"
    season_size = f"{sizes.season_tournaments} / {sizes.season_counted_matches:,}"
    return [
        _tournament_case("tournament", f"tournament {board_size}", data.tournament_id),
        _tournament_case(
            "tournament_head_to_head",
            f"tournament {board_size} h2h",
            data.head_to_head_tournament_id,
        ),
        _tournament_case("tournament_small", "tournament (season one)", data.small_tournament_id),
        _scoped_case("season", f"season {season_size}", data.season_slug, data.season_id),
        _scoped_case("all_time", "all-time (solo)", None, None),
        _history_case(data.history_user_id),
    ]


# --- timing -----------------------------------------------------------------------------------


def _elapsed_ms(function: Callable[[], Any]) -> float:
    started = time.perf_counter_ns()
    function()
    return (time.perf_counter_ns() - started) / 1e6


def time_calls(function: Callable[[], Any], repeat: int) -> Timing:
    """`repeat` timed calls after WARMUP_ROUNDS untimed ones."""
    for _ in range(WARMUP_ROUNDS):
        function()
    gc.collect(1)  # the young generations: a full collection costs ~0.2 s under pytest
    return Timing(tuple(_elapsed_ms(function) for _ in range(repeat)))


@contextmanager
def recorded_statements() -> Iterator[list[tuple[str, Any]]]:
    """Every (sql, params) the connection executes inside the block, exactly as passed."""
    statements: list[tuple[str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def replay(statements: Sequence[tuple[str, Any]]) -> None:
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            cursor.fetchall()


def server_sql_ms(statements: Sequence[tuple[str, Any]]) -> float | None:
    """PostgreSQL's own planning + execution time of the statements (median of a few runs);
    None on other databases."""
    if connection.vendor != "postgresql":
        return None
    totals = []
    with connection.cursor() as cursor:
        for _ in range(SERVER_SQL_ROUNDS):
            total = 0.0
            for sql, params in statements:
                cursor.execute(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0]
                if isinstance(plan, str):
                    plan = json.loads(plan)
                total += plan[0]["Planning Time"] + plan[0]["Execution Time"]
            totals.append(total)
    return round(Timing(tuple(totals)).median, 3)


def _interleaved(
    functions: Mapping[str, Callable[[], Any]],
    repeat: int,
    budget_seconds: float,
    between_rounds: Callable[[], Any] | None = None,
) -> tuple[dict[str, Timing], dict[str, Timing]]:
    """Each function once per round, round after round, so drift hits every series alike.
    Returns (wall-clock timings, this process's CPU timings). `between_rounds`, if given, runs
    untimed after every round (warm-up rounds included).

    Stops after `repeat` rounds, or earlier once `budget_seconds` have passed and at least
    MIN_ROUNDS were timed (a heavy board on a slow database keeps the run short)."""
    for _ in range(WARMUP_ROUNDS):
        for function in functions.values():
            function()
        if between_rounds is not None:
            between_rounds()
    gc.collect(1)  # the young generations: a full collection costs ~0.2 s under pytest
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    deadline = time.monotonic() + budget_seconds
    for round_number in range(1, repeat + 1):
        for name, function in functions.items():
            cpu_started = time.process_time_ns()
            wall[name].append(_elapsed_ms(function))
            cpu[name].append((time.process_time_ns() - cpu_started) / 1e6)
        if between_rounds is not None:
            between_rounds()
        if round_number >= MIN_ROUNDS and time.monotonic() > deadline:
            break
    return (
        {name: Timing(tuple(values)) for name, values in wall.items()},
        {name: Timing(tuple(values)) for name, values in cpu.items()},
    )


@contextmanager
def sql_answered_from_memory(
    answers: Mapping[tuple[str, tuple[Any, ...]], list[Any]],
) -> Iterator[None]:
    """The aggregation module's `_fetch` returns the recorded rows instead of querying, so its
    functions can be timed on their Python work alone."""
    original = aggregation._fetch

    def fetch(sql: str, params: Sequence[Any]) -> list[Any]:
        return answers[(sql, tuple(params))]

    aggregation._fetch = fetch
    try:
        yield
    finally:
        aggregation._fetch = original


def measure_board(case: BoardCase, repeat: int) -> BoardResult:
    micro_repeat = max(repeat, MICRO_REPEAT_MIN)
    with CaptureQueriesContext(connection) as captured:
        document = case.compute()
    queries = len(captured.captured_queries)

    with recorded_statements() as recorded:
        aggregated = case.aggregate()
    statements = list(recorded)
    answers: dict[tuple[str, tuple[Any, ...]], list[Any]] = {}
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            answers[(sql, tuple(params))] = cursor.fetchall()

    series, cpu_series = _interleaved(
        {"uncached": case.compute, "bare_sql": lambda: replay(statements)},
        repeat,
        BOARD_BUDGET_SECONDS,
    )
    beyond_sql = Timing(
        tuple(
            uncached - bare
            for uncached, bare in zip(
                series["uncached"].samples_ms, series["bare_sql"].samples_ms, strict=True
            )
        )
    )
    with sql_answered_from_memory(answers):
        row_building = time_calls(case.aggregate, micro_repeat)
    ranking = time_calls(lambda: case.rank(aggregated), micro_repeat)

    encoded = document.encode()
    decoded = BoardDocument.decode(encoded)
    spec = PageSpec(page=1, page_size=PAGE_SIZE)
    encode = time_calls(document.encode, micro_repeat)
    decode = time_calls(lambda: BoardDocument.decode(encoded), micro_repeat)
    render = time_calls(lambda: render_page(decoded, spec), micro_repeat)

    # Start cold: drop whatever this board had cached, then one miss stores the document and
    # page 1, and the next read is a hit.
    store.delete_boards([case.board.name])
    case.cached_page()
    served_from_cache: list[bool] = []
    cached = time_calls(lambda: served_from_cache.append(case.cached_page().cached), micro_repeat)
    cached_hits = sum(served_from_cache[WARMUP_ROUNDS:])
    with CaptureQueriesContext(connection) as captured_cached:
        case.cached_page()

    return BoardResult(
        key=case.key,
        label=case.label,
        rows=len(document.rows),
        counted_matches=case.counted_matches,
        queries=queries,
        expected_queries=EXPECTED_QUERIES[case.key],
        cached_queries=len(captured_cached.captured_queries),
        cached_hits=cached_hits,
        uncached=series["uncached"],
        uncached_cpu=cpu_series["uncached"],
        bare_sql=series["bare_sql"],
        beyond_sql=beyond_sql,
        row_building=row_building,
        ranking=ranking,
        cached=cached,
        encode=encode,
        decode=decode,
        render=render,
        server_sql_ms=server_sql_ms(statements),
    )


PROFILE_SECONDS = 5.0
PROFILE_MAX_CALLS = 200


def profile_board(data: BenchData, key: str) -> str:
    """pyinstrument's call tree of uncached computations of one board, repeated for about
    PROFILE_SECONDS. pyinstrument is an optional tool (`pip install pyinstrument`)."""
    from pyinstrument import Profiler

    case = next(case for case in board_cases(data) if case.key == key)
    case.compute()
    profiler = Profiler(interval=0.0005)
    calls = 0
    deadline = time.monotonic() + PROFILE_SECONDS
    profiler.start()
    while calls < PROFILE_MAX_CALLS and (calls < MIN_ROUNDS or time.monotonic() < deadline):
        case.compute()
        calls += 1
    profiler.stop()
    tree = profiler.output_text(unicode=False, color=False)
    return f"pyinstrument: {calls} uncached computations of {case.label}\n{tree}"


def forget_boards(cases: Sequence[BoardCase]) -> None:
    """Leave nothing of the benchmark's boards in the cache (documents, versions, locks), nor
    its rate-limit window."""
    boards = [case.board for case in cases]
    store.delete_boards(board.name for board in boards)  # each board's hash and version key
    redis_client().delete(*[lock_key(board) for board in boards], RATE_LIMIT_KEY)


def measure_boards(
    data: BenchData, repeat: int, progress: Callable[[str], None] = lambda _: None
) -> list[BoardResult]:
    cases = board_cases(data)
    results = []
    gc.collect()
    try:
        for case in cases:
            progress(f"measuring {case.label} ...")
            results.append(measure_board(case, repeat))
    finally:
        forget_boards(cases)
    return results
