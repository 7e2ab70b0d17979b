"""Benchmark of a board as a player reads it (contract section 9) against a plain board.

    python bench/player_reading.py [--database-url URL] [--redis-url URL] [--repeat N]
                                   [--cached-repeat N] [--json out.json] [--keep-database]
                                   [--seed N]

On the tournament board of contract section 8 (256 competitors, 8,000 counted matches; built
by bench/dataset.py in a database of its own, handled as bench/bench_leaderboards.py handles it)
it measures, as ratios to a baseline timed in the same run (interleaved round by round: the
machine is shared and noisy):

1. cached: `GET /api/tournaments/{id}/leaderboard/` through Django's test Client in this
   process (middleware, token authentication, query parsing, the service, Redis) for a plain
   page and for `around`, `around=me`, `ids`, `compare_to` (and `as_of`, reported): the same
   request repeated (a page hit, one Redis round trip), and a "slice" request whose page is not
   cached yet but whose documents are; the page hits' medians must be within 1.25x of the plain
   page hit's;
2. uncached: `compute_board` of the board as of an instant in the middle of its matches (about
   half of them count) against the current board (and as of after the last match, reported);
   within 2x.

PASS / MISS with PostgreSQL, a Redis server (--redis-url) and the contract's sizes; "reported"
otherwise (SQLite, the embedded Redis, the smoke test's tiny sizes). Progress goes to stderr,
the report to stdout. `run` is the part after Django is set up, and what the smoke test runs
(apps/tournaments/tests/test_bench_player_reading.py). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as `python bench/player_reading.py`
    sys.path.insert(0, str(REPO_ROOT))

from bench.bench_leaderboards import (  # noqa: E402 - after the path set-up above
    BudgetLine,
    _load_average,
    _machine_info,
    _ms,
    _stderr,
    _table,
    migrated_database,
)

if TYPE_CHECKING:
    from bench.dataset import BenchSizes
    from bench.measurements import Timing

DEFAULT_REPEAT = 40  # rounds of the uncached computations
DEFAULT_CACHED_REPEAT = 200  # rounds of the HTTP requests (about 1 ms each)
WINDOW_SIZE = 11
FRIENDS = 20  # ids in an `ids` request, spread over the board
# Contract section 9.
CACHED_MAX_RATIO = 1.25
AS_OF_MAX_RATIO = 2.0


class BenchRequestError(RuntimeError):
    """A measured request was not answered 200."""


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading the board over HTTP: its page hit, and its slice of the cached
    documents (None where the benchmark has no slice of that kind)."""

    key: str
    label: str
    query: str  # the page hit's query string
    slice_query: str  # one of the slice requests' query strings ("" without)
    judged: bool  # part of the cached line's verdict
    queries: int  # SQL statements of one page hit (token authentication)
    hit: Timing
    hit_cpu: Timing
    sliced: Timing | None
    sliced_cpu: Timing | None


@dataclass(frozen=True, slots=True)
class Computation:
    """One uncached computation of the board (`compute_board`, no cache)."""

    key: str
    label: str
    as_of: str | None
    counted_matches: int
    rows: int
    queries: int
    uncached: Timing
    cpu: Timing
    bare_sql: Timing  # the statements compute_board ran, replayed with a cursor
    server_sql_ms: float | None


@dataclass(frozen=True, slots=True)
class PlayerReadingReport:
    machine: dict[str, str]
    command: str | None
    sizes: BenchSizes
    board: dict[str, Any]
    cached_repeat: int
    repeat: int
    build_seconds: float
    measure_seconds: float
    requests: int  # every request made, warm-ups and checks included; each answered 200
    unexpected_paths: dict[str, int]  # per reading: timed requests not served as intended
    readings: tuple[Reading, ...]
    computations: tuple[Computation, ...]
    held: bool  # PostgreSQL, a Redis server, the contract's sizes: PASS / MISS verdicts

    def reading(self, key: str) -> Reading:
        return next(reading for reading in self.readings if reading.key == key)

    def computation(self, key: str) -> Computation:
        return next(each for each in self.computations if each.key == key)

    def hit_ratio(self, key: str) -> float:
        return self.reading(key).hit.median / self.reading("plain").hit.median

    def slice_ratio(self, key: str) -> float | None:
        timing = self.reading(key).sliced
        return None if timing is None else timing.median / self.reading("plain").hit.median

    def compute_ratio(self, key: str) -> float:
        return self.computation(key).uncached.median / self.computation("current").uncached.median

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "command": self.command,
            "sizes": asdict(self.sizes),
            "board": self.board,
            "cached_repeat": self.cached_repeat,
            "repeat": self.repeat,
            "build_seconds": round(self.build_seconds, 2),
            "measure_seconds": round(self.measure_seconds, 2),
            "requests": self.requests,
            "unexpected_paths": self.unexpected_paths,
            "readings": [
                {
                    "key": reading.key,
                    "query": reading.query,
                    "slice_query": reading.slice_query,
                    "queries": reading.queries,
                    "page_hit": reading.hit.summary(),
                    "page_hit_cpu": reading.hit_cpu.summary(),
                    "page_hit_ratio_to_plain": round(self.hit_ratio(reading.key), 3),
                    "slice": reading.sliced.summary() if reading.sliced else None,
                    "slice_cpu": reading.sliced_cpu.summary() if reading.sliced_cpu else None,
                    "slice_ratio_to_plain_hit": _rounded(self.slice_ratio(reading.key)),
                }
                for reading in self.readings
            ],
            "computations": [
                {
                    "key": each.key,
                    "as_of": each.as_of,
                    "counted_matches": each.counted_matches,
                    "rows": each.rows,
                    "queries": each.queries,
                    "uncached": each.uncached.summary(),
                    "cpu": each.cpu.summary(),
                    "bare_sql": each.bare_sql.summary(),
                    "server_sql_ms": each.server_sql_ms,
                    "ratio_to_current": round(self.compute_ratio(each.key), 3),
                }
                for each in self.computations
            ],
            "held": self.held,
            "budget": [asdict(line) for line in budget_lines(self)],
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --- the requests ------------------------------------------------------------------------------


@dataclass(slots=True)
class PathCounter:
    """Renders and computations of the service (its `render_page` and `compute_board`, wrapped
    while the requests run): a page hit has neither, a slice one render and no computation. The
    wrappers cost a call only where they are called, so a page hit pays nothing for them."""

    renders: int = 0
    computations: int = 0

    @contextmanager
    def installed(self) -> Iterator[None]:
        from apps.tournaments.services import leaderboard_service as service

        render, compute = service.render_page, service.compute_board

        def counted_render(*args: Any, **kwargs: Any) -> Any:
            self.renders += 1
            return render(*args, **kwargs)

        def counted_compute(*args: Any, **kwargs: Any) -> Any:
            self.computations += 1
            return compute(*args, **kwargs)

        service.render_page, service.compute_board = counted_render, counted_compute
        try:
            yield
        finally:
            service.render_page, service.compute_board = render, compute


@dataclass(slots=True)
class Requester:
    """GETs of one board's URL through Django's test Client, as the reader (a token); every
    answer must be a 200. `unexpected` counts, per reading, timed requests that were not served
    the way their reading intends (a page hit rendered, or a slice computing a document)."""

    client: Any
    path: str
    authorization: str
    counter: PathCounter
    requests: int = 0
    unexpected: dict[str, int] = field(default_factory=dict)

    def get(self, query: str) -> None:
        self.requests += 1
        response = self.client.get(f"{self.path}?{query}", HTTP_AUTHORIZATION=self.authorization)
        if response.status_code != 200:
            raise BenchRequestError(
                f"GET {self.path}?{query}: {response.status_code} {response.content[:300]!r}"
            )

    def timed(self, key: str, queries: Callable[[], str], *, renders: int) -> Callable[[], None]:
        """One request per call (the query from `queries`), checked: `renders` renders (0 for a
        page hit, 1 for a slice) and no computation."""
        counter = self.counter
        self.unexpected.setdefault(key, 0)

        def request() -> None:
            before = (counter.renders, counter.computations)
            self.get(queries())
            if (counter.renders - before[0], counter.computations - before[1]) != (renders, 0):
                self.unexpected[key] += 1

        return request


def _cycle(values: Sequence[str]) -> Callable[[], str]:
    """The values in turn, round and round."""
    state = {"next": 0}

    def following() -> str:
        value = values[state["next"] % len(values)]
        state["next"] += 1
        return value

    return following


def _query(*pairs: tuple[str, Any]) -> str:
    return urlencode([(name, str(value)) for name, value in pairs], safe=",:")


@dataclass(frozen=True, slots=True)
class ReadingPlan:
    key: str
    label: str
    query: str
    slices: tuple[str, ...]  # slice queries, used in turn (empty: no slice measured)
    judged: bool


def reading_plans(competitors: Sequence[int], instant: str) -> list[ReadingPlan]:
    """The readings, from the board's competitor ids in rank order. Slices vary the window's
    competitor (or the set of ids, or the page size) from request to request, never asking for
    a page hit's own page."""
    count = len(competitors)
    target = competitors[count // 4]
    friends = min(FRIENDS, count // 2)  # fewer than all: other sets of as many ids exist
    positions = [index * count // friends for index in range(friends)]
    spread = sorted(competitors[position] for position in positions)
    around = [
        _query(("around", each), ("size", WINDOW_SIZE)) for each in competitors if each != target
    ]
    shifted = {
        tuple(sorted(competitors[(position + shift) % count] for position in positions))
        for shift in range(1, count)
    } - {tuple(spread)}
    id_sets = [_query(("ids", ",".join(map(str, each)))) for each in sorted(shifted)]
    page_sizes = [size for size in range(30, 71) if size != 50]

    def at_instant(name: str) -> tuple[str, ...]:
        return tuple(f"{name}={instant}&{each}" for each in around)

    return [
        ReadingPlan(
            "plain",
            "plain page",
            _query(("page_size", 50)),
            tuple(_query(("page_size", size)) for size in page_sizes),
            judged=False,
        ),
        ReadingPlan(
            "around",
            f"around ({WINDOW_SIZE})",
            _query(("around", target), ("size", WINDOW_SIZE)),
            tuple(around),
            judged=True,
        ),
        ReadingPlan(
            "around_me",
            f"around=me ({WINDOW_SIZE})",
            _query(("around", "me"), ("size", WINDOW_SIZE)),
            (),
            judged=True,
        ),
        ReadingPlan(
            "ids",
            f"ids ({friends})",
            _query(("ids", ",".join(map(str, spread)))),
            tuple(id_sets),
            judged=True,
        ),
        ReadingPlan(
            "compare_to",
            "compare_to",
            _query(("page_size", 50), ("compare_to", instant)),
            at_instant("compare_to"),
            judged=True,
        ),
        ReadingPlan(
            "as_of",
            "as_of",
            _query(("page_size", 50), ("as_of", instant)),
            at_instant("as_of"),
            judged=False,
        ),
    ]


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardFacts:
    tournament_id: int
    competitors: tuple[int, ...]  # user ids in rank order
    reader: int  # the requests' user: a competitor in the middle of the board
    counted_matches: int
    middle: dt.datetime  # completed_at of the median counted match
    after_last: dt.datetime


def board_facts(tournament_id: int) -> BoardFacts:
    from apps.tournaments.boards import BoardRef
    from apps.tournaments.models import COUNTED_MATCH_STATES, Match
    from apps.tournaments.services.board_compute import compute_board

    document = compute_board(BoardRef.tournament(tournament_id))
    competitors = tuple(int(row["participant_id"]) for row in document.rows)
    completed = list(
        Match.objects.filter(tournament_id=tournament_id, state__in=COUNTED_MATCH_STATES)
        .order_by("completed_at")
        .values_list("completed_at", flat=True)
    )
    last = completed[-1].replace(second=0, microsecond=0)
    return BoardFacts(
        tournament_id=tournament_id,
        competitors=competitors,
        reader=competitors[len(competitors) // 2],
        counted_matches=len(completed),
        middle=completed[len(completed) // 2],
        after_last=last + dt.timedelta(hours=1),
    )


def measure_readings(
    board: BoardFacts, cached_repeat: int, progress: Callable[[str], None]
) -> tuple[list[Reading], int, dict[str, int]]:
    """The HTTP readings, page hits and slices interleaved in one loop. Returns the readings,
    the number of requests made and the unexpected paths per reading."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from apps.common.redis_gateway import redis_client
    from apps.common.timestamps import iso_utc
    from apps.tournaments.boards import BoardRef
    from apps.tournaments.services.board_cache.keys import board_key
    from bench.measurements import UNLIMITED, _interleaved

    token = Token.objects.create(user_id=board.reader)
    plans = reading_plans(board.competitors, iso_utc(board.middle) or "")
    counter = PathCounter()
    requester = Requester(
        Client(),
        f"/api/tournaments/{board.tournament_id}/leaderboard/",
        f"Token {token.key}",
        counter,
    )
    hash_key = board_key(BoardRef.tournament(board.tournament_id).name)
    redis = redis_client()
    limits = {**settings.LEADERBOARD_RATE_LIMITS, "public": UNLIMITED}
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    with override_settings(LEADERBOARD_RATE_LIMITS=limits, ALLOWED_HOSTS=hosts):
        # Each page hit's first request computes what it needs (documents now, as of and
        # compared to the middle instant) and stores its page: what stays between rounds.
        for plan in plans:
            requester.get(plan.query)
        kept = set(redis.hkeys(hash_key))

        def forget_slices() -> None:
            """Drop the pages the slices stored (untimed, after each round): each slice stays a
            first request, and the board's hash never reaches its field limit."""
            stored = [name for name in redis.hkeys(hash_key) if name not in kept]
            if stored:
                redis.hdel(hash_key, *stored)

        functions: dict[str, Callable[[], None]] = {}
        for plan in plans:
            functions[f"{plan.key}:hit"] = requester.timed(
                plan.key, _cycle([plan.query]), renders=0
            )
        for plan in plans:
            if plan.slices:
                functions[f"{plan.key}:slice"] = requester.timed(
                    f"{plan.key} slice", _cycle(plan.slices), renders=1
                )
        progress(
            f"timing {len(functions)} kinds of request, {cached_repeat} interleaved rounds ..."
        )
        with counter.installed():
            wall, cpu = _interleaved(functions, cached_repeat, math.inf, forget_slices)
        queries = {}
        for plan in plans:
            with CaptureQueriesContext(connection) as captured:
                requester.get(plan.query)
            queries[plan.key] = len(captured.captured_queries)
    readings = [
        Reading(
            key=plan.key,
            label=plan.label,
            query=plan.query,
            slice_query=plan.slices[0] if plan.slices else "",
            judged=plan.judged,
            queries=queries[plan.key],
            hit=wall[f"{plan.key}:hit"],
            hit_cpu=cpu[f"{plan.key}:hit"],
            sliced=wall.get(f"{plan.key}:slice"),
            sliced_cpu=cpu.get(f"{plan.key}:slice"),
        )
        for plan in plans
    ]
    return readings, requester.requests, dict(requester.unexpected)


def measure_computations(
    board: BoardFacts, repeat: int, progress: Callable[[str], None]
) -> list[Computation]:
    """compute_board now, as of the middle instant and as of after the last match, interleaved
    with the replay of each one's SQL statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.common.timestamps import iso_utc
    from apps.tournaments.boards import BoardRef
    from apps.tournaments.models import COUNTED_MATCH_STATES, Match
    from apps.tournaments.services.board_compute import compute_board
    from bench.measurements import _interleaved, recorded_statements, replay, server_sql_ms

    ref = BoardRef.tournament(board.tournament_id)
    cases = [
        ("current", "current board", None),
        ("as_of_middle", "as_of, middle", board.middle),
        ("as_of_end", "as_of, after the last match", board.after_last),
    ]
    functions: dict[str, Callable[[], Any]] = {}
    facts: dict[str, tuple[int, int, list[tuple[str, Any]]]] = {}
    for key, _, instant in cases:
        with CaptureQueriesContext(connection) as captured, recorded_statements() as statements:
            document = compute_board(ref, instant)
        facts[key] = (len(document.rows), len(captured.captured_queries), list(statements))
        functions[key] = lambda instant=instant: compute_board(ref, instant)
        functions[f"{key}:sql"] = lambda key=key: replay(facts[key][2])
    progress(f"timing {len(cases)} uncached computations, {repeat} interleaved rounds ...")
    wall, cpu = _interleaved(functions, repeat, math.inf)
    counted = Match.objects.filter(
        tournament_id=board.tournament_id, state__in=COUNTED_MATCH_STATES
    )
    return [
        Computation(
            key=key,
            label=label,
            as_of=iso_utc(instant),
            counted_matches=(
                counted.count()
                if instant is None
                else counted.filter(completed_at__lte=instant).count()
            ),
            rows=facts[key][0],
            queries=facts[key][1],
            uncached=wall[key],
            cpu=cpu[key],
            bare_sql=wall[f"{key}:sql"],
            server_sql_ms=server_sql_ms(facts[key][2]),
        )
        for key, label, instant in cases
    ]


@dataclass(frozen=True, slots=True)
class RedisBefore:
    """What the Redis database held before the run, of the keys a run creates besides its
    board's: the outbox's `applied` markers (the build's bulk writes announce their results;
    applying them after the commit marks them), the fleet cache totals and the shared flag
    cache. The run deletes those it created; totals that existed keep the run's counts."""

    applied: frozenset[bytes]
    absent: tuple[str, ...]  # the shared keys that did not exist

    @staticmethod
    def applied_markers() -> frozenset[bytes]:
        from apps.common.redis_gateway import redis_client
        from apps.tournaments.services.board_cache.keys import APPLIED_PREFIX

        return frozenset(redis_client().scan_iter(match=f"{APPLIED_PREFIX}*", count=1000))

    @classmethod
    def read(cls) -> RedisBefore:
        from apps.common.flags import SHARED_CACHE_KEY
        from apps.common.redis_gateway import redis_client
        from apps.tournaments.services.cache_stats import STATS_KEY

        client = redis_client()
        absent = tuple(key for key in (STATS_KEY, SHARED_CACHE_KEY) if not client.exists(key))
        return cls(cls.applied_markers(), absent)


def forget_run(board: BoardFacts | None, before: RedisBefore) -> None:
    """Leave nothing of the run in Redis: the board's hash and version key, its lock keys, the
    reader's rate-limit window, and the keys of RedisBefore that were not there before. Never
    a flush."""
    from apps.common.rate_limits import RateLimitCount
    from apps.common.redis_gateway import redis_client
    from apps.tournaments.api.leaderboards import TournamentLeaderboardView
    from apps.tournaments.boards import BoardRef
    from apps.tournaments.services import cache_stats
    from apps.tournaments.services.board_cache import store
    from apps.tournaments.services.board_cache.keys import document_field, lock_key

    client = redis_client()
    cache_stats.accumulator.flush()  # now, not at exit: after the deletion it would write again
    keys: list[str | bytes] = [*before.absent]
    keys += [key for key in before.applied_markers() if key not in before.applied]
    if board is not None:
        ref = BoardRef.tournament(board.tournament_id)
        store.delete_boards([ref.name])
        window = RateLimitCount.of(TournamentLeaderboardView.endpoint_name, board.reader, "public")
        keys += [lock_key(ref, document_field(instant)) for instant in (None, board.middle)]
        keys.append(window.key)
    client.delete(*keys)


def run(
    sizes: BenchSizes | None = None,
    repeat: int = DEFAULT_REPEAT,
    progress: Callable[[str], None] = _stderr,
    *,
    cached_repeat: int = DEFAULT_CACHED_REPEAT,
    seed: int | None = None,
    command: str | None = None,
) -> PlayerReadingReport:
    """Build the data sets in the connected (migrated, empty) database and measure. Needs
    Django set up. Leaves the rows in the database and nothing of the board in the cache."""
    from django.db import connection

    from apps.common import redis_gateway
    from apps.tournaments.boards import BoardRef
    from apps.tournaments.services.board_cache import store
    from bench import dataset

    sizes = sizes or dataset.CONTRACT_SIZES
    load_before = _load_average()
    redis_before = RedisBefore.read()
    board = None
    try:
        started = time.perf_counter()
        progress(f"building data sets ({sizes.tournament_counted_matches:,}-match board) ...")
        data = dataset.build_bench_data(sizes, dataset.DEFAULT_SEED if seed is None else seed)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # fresh tables have no planner statistics
        build_seconds = time.perf_counter() - started

        started = time.perf_counter()
        board = board_facts(data.tournament_id)
        store.delete_boards([BoardRef.tournament(board.tournament_id).name])  # start cold
        readings, requests, unexpected = measure_readings(board, cached_repeat, progress)
        computations = measure_computations(board, repeat, progress)
    finally:
        forget_run(board, redis_before)
    measure_seconds = time.perf_counter() - started
    held = (
        connection.vendor == "postgresql"
        and not redis_gateway.is_embedded()
        and sizes == dataset.CONTRACT_SIZES
    )
    return PlayerReadingReport(
        machine=_machine_info(connection, load_before),
        command=command,
        sizes=sizes,
        board={
            "tournament_id": board.tournament_id,
            "competitors": len(board.competitors),
            "counted_matches": board.counted_matches,
            "reader_user_id": board.reader,
            "reader_rank": board.competitors.index(board.reader) + 1,
        },
        cached_repeat=cached_repeat,
        repeat=repeat,
        build_seconds=build_seconds,
        measure_seconds=measure_seconds,
        requests=requests,
        unexpected_paths=unexpected,
        readings=tuple(readings),
        computations=tuple(computations),
        held=held,
    )


def budget_lines(report: PlayerReadingReport) -> list[BudgetLine]:
    """The two lines of contract section 9 this benchmark checks, judged on p50s, and the
    slices' ratios (reported)."""

    def verdict(passed: bool) -> str:
        if not report.held:
            return "reported"
        return "PASS" if passed else "MISS"

    plain = report.reading("plain")
    judged = [reading for reading in report.readings if reading.judged]
    hit_ratios = {reading.key: report.hit_ratio(reading.key) for reading in judged}
    current = report.computation("current")
    middle, end = report.computation("as_of_middle"), report.computation("as_of_end")
    unexpected = sum(report.unexpected_paths.values())
    sliced = [reading for reading in report.readings if reading.sliced is not None]
    return [
        BudgetLine(
            f"cached around / ids / compare_to: p50 within {CACHED_MAX_RATIO}x of a plain "
            "cached page (page hits)",
            ", ".join(
                f"{reading.label} {hit_ratios[reading.key]:.2f}x ({reading.hit.median:.2f} ms)"
                for reading in judged
            )
            + f"; plain page {plain.hit.median:.2f} ms",
            verdict(max(hit_ratios.values()) <= CACHED_MAX_RATIO and unexpected == 0),
        ),
        BudgetLine(
            f"uncached as_of board within {AS_OF_MAX_RATIO}x of the current board's computation",
            f"as_of middle ({middle.counted_matches:,} of {current.counted_matches:,} matches) "
            f"{report.compute_ratio('as_of_middle'):.2f}x ({middle.uncached.median:.2f} ms vs "
            f"{current.uncached.median:.2f} ms); as_of after the last match "
            f"{report.compute_ratio('as_of_end'):.2f}x ({end.uncached.median:.2f} ms, reported)",
            verdict(report.compute_ratio("as_of_middle") <= AS_OF_MAX_RATIO),
        ),
        BudgetLine(
            "slices of the cached documents (page not cached yet) against the plain page hit",
            ", ".join(
                f"{reading.label} {_ratio(report.slice_ratio(reading.key))} "
                f"({_ms(reading.sliced.median if reading.sliced else None)} ms)"
                for reading in sliced
            ),
            "reported",
        ),
    ]


# --- the report text ---------------------------------------------------------------------------


def format_report(report: PlayerReadingReport) -> str:
    board = report.board
    current = report.computation("current")
    middle = report.computation("as_of_middle")
    lines = ["DeltaCrown leaderboards: a board as a player reads it", ""]
    facts = {
        **report.machine,
        "command": report.command or "run() (no command line)",
        "board": f"tournament {board['tournament_id']}: {board['competitors']} competitors, "
        f"{board['counted_matches']:,} counted matches (deltacrown-5step)",
        "reader": f"user {board['reader_user_id']} (token), rank {board['reader_rank']}: "
        "the requests' user and around=me",
        "instants": f"compare_to and as_of (middle) {middle.as_of}: "
        f"{middle.counted_matches:,} of {current.counted_matches:,} counted matches completed "
        f"by then; as_of after the last match {report.computation('as_of_end').as_of}",
        "rounds": f"{report.cached_repeat} of the HTTP requests, {report.repeat} of the "
        "uncached computations; round-robin, 2 untimed warm-up rounds",
        "requests": f"{report.requests:,} GETs, every one answered 200",
        "data build": f"{report.build_seconds:.1f} s, measurements {report.measure_seconds:.1f} s",
    }
    width = max(len(name) for name in facts)
    lines += [f"{name.ljust(width)}  {value}" for name, value in facts.items()]
    plain = report.reading("plain")
    lines += [
        "",
        "Cached reads, GET /api/tournaments/{id}/leaderboard/?<query> through Django's test "
        "Client (ms): page hit = the same request again (its page is cached: one Redis round "
        "trip); slice = a request whose page is not cached yet, cut from the cached document(s) "
        "(the window's competitor, the ids or the page size change from request to request); "
        f"ratios to the plain page hit's p50 ({plain.hit.median:.2f} ms); CPU = this process's; "
        "SQL = statements per request (the token lookup)",
        _table(
            [
                "reading",
                "page hit p50",
                "p95",
                "CPU p50",
                "ratio",
                "slice p50",
                "p95",
                "CPU p50",
                "ratio",
                "SQL",
            ],
            [
                [
                    reading.label + ("" if reading.judged or reading.key == "plain" else " *"),
                    _ms(reading.hit.median),
                    _ms(reading.hit.p95),
                    _ms(reading.hit_cpu.median),
                    f"{report.hit_ratio(reading.key):.2f}x",
                    _ms(reading.sliced.median if reading.sliced else None),
                    _ms(reading.sliced.p95 if reading.sliced else None),
                    _ms(reading.sliced_cpu.median if reading.sliced_cpu else None),
                    _ratio(report.slice_ratio(reading.key)),
                    str(reading.queries),
                ]
                for reading in report.readings
            ],
        ),
        "* reported, not part of a line",
        "",
        "Queries (the page hit's; the first of the slices', which change from request to request)",
        *_queries_table(report.readings),
        "",
        "Uncached computations, compute_board without the cache (ms); bare SQL = the same "
        "statements replayed with a cursor; server SQL = PostgreSQL's planning + execution",
        _table(
            [
                "board",
                "counted",
                "rows",
                "queries",
                "p50",
                "p95",
                "CPU p50",
                "ratio",
                "bare SQL p50",
                "beyond SQL",
                "server SQL",
            ],
            [
                [
                    each.label,
                    f"{each.counted_matches:,}",
                    str(each.rows),
                    str(each.queries),
                    _ms(each.uncached.median),
                    _ms(each.uncached.p95),
                    _ms(each.cpu.median),
                    f"{report.compute_ratio(each.key):.2f}x",
                    _ms(each.bare_sql.median),
                    _ms(each.uncached.median - each.bare_sql.median),
                    _ms(each.server_sql_ms),
                ]
                for each in report.computations
            ],
        ),
    ]
    unexpected = {key: count for key, count in report.unexpected_paths.items() if count}
    if unexpected:
        lines.append(
            "warning: timed requests not served as intended (a page hit rendered, or a document "
            "computed): " + ", ".join(f"{key} {count}" for key, count in unexpected.items())
        )
    lines += ["", "Contract section 9 (ratios of p50s measured in this run)"]
    lines += [
        f"{line.verdict:<8}  {line.text}\n          {line.measured}"
        for line in budget_lines(report)
    ]
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _queries_table(readings: Sequence[Reading]) -> list[str]:
    width = max(len(reading.label) for reading in readings)
    hit_width = max(len(reading.query) for reading in readings)
    return [
        f"{reading.label.ljust(width)}  {reading.query.ljust(hit_width)}  "
        f"{reading.slice_query or '-'}"
        for reading in readings
    ]


# --- command line ------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL of a database it may drop and recreate (name starting with "
        "'bench_'); omit for a temporary SQLite file",
    )
    parser.add_argument("--redis-url", help="Redis of its own; omit for the embedded one")
    parser.add_argument(
        "--repeat", type=int, default=DEFAULT_REPEAT, help="rounds of the uncached computations"
    )
    parser.add_argument(
        "--cached-repeat",
        type=int,
        default=DEFAULT_CACHED_REPEAT,
        help="rounds of the HTTP requests",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep-database", action="store_true", help="leave the database")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the data sets")
    arguments = parser.parse_args(argv)
    if arguments.repeat < 1 or arguments.cached_repeat < 1:
        parser.error("--repeat and --cached-repeat must be at least 1")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    command = " ".join(["python", "bench/player_reading.py", *(argv or sys.argv[1:])])
    with migrated_database(
        arguments.database_url, arguments.redis_url, keep=arguments.keep_database
    ):
        report = run(
            repeat=arguments.repeat,
            cached_repeat=arguments.cached_repeat,
            seed=arguments.seed,
            command=command,
        )
        print(format_report(report))
        if arguments.json:
            arguments.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
            _stderr(f"wrote {arguments.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
