"""Benchmark of the leaderboard engine against the budget of contract section 8.

    python bench/bench_leaderboards.py [--database-url URL] [--redis-url URL] [--repeat N]
                                       [--json out.json] [--keep-database]

Without --database-url it runs on a temporary SQLite file; with a PostgreSQL URL it drops and
creates that database (its name must start with `bench_`, so no other database can ever be
dropped), migrates it, builds the data sets of section 8 (bench/dataset.py), measures every board
(bench/measurements.py) and drops the database again. Without --redis-url the board cache is the
embedded Redis (fakeredis in this process, `redis_gateway.is_embedded()`; it replaced the
in-process store). Progress goes to stderr, the report to stdout. See bench/README.md.

The database and the cache are chosen by environment variables read by the settings module, so
this module imports nothing of Django's at import time: `main` sets the environment first, then
calls `django.setup()`. `run_benchmark` is the part after that and is what the smoke test runs
(apps/tournaments/tests/test_bench_smoke.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as `python bench/bench_leaderboards.py`
    sys.path.insert(0, str(REPO_ROOT))

if TYPE_CHECKING:
    from bench.dataset import BenchSizes
    from bench.measurements import BoardResult

DEFAULT_DATABASE_NAME = "bench_leaderboards"
OWNED_DATABASE_PREFIX = "bench_"
DEFAULT_REPEAT = 20
# Flag overrides in the environment would win over the rows the benchmark turns on.
FLAG_VARIABLES = (
    "LEADERBOARDS_COMPUTE_ENABLED",
    "LEADERBOARDS_CACHE_ENABLED",
    "LEADERBOARDS_API_ENABLED",
)

# Board keys of bench/measurements.py (not imported here: it needs Django set up).
PROFILE_BOARDS = (
    "tournament",
    "tournament_head_to_head",
    "tournament_small",
    "season",
    "all_time",
    "history",
)

# Contract section 8.
TOURNAMENT_BUDGET_MS = 30.0
TOURNAMENT_MAX_RATIO = 3.0
SEASON_BUDGET_MS = 300.0


# --- the database the benchmark owns -----------------------------------------------------------


class PostgresDatabase:
    """A PostgreSQL database created for the run and dropped after it."""

    def __init__(self, url: str) -> None:
        import dj_database_url

        config = dj_database_url.parse(url)
        self.name = config["NAME"] or DEFAULT_DATABASE_NAME
        if not self.name.startswith(OWNED_DATABASE_PREFIX):
            raise SystemExit(
                f"refusing to drop and recreate database {self.name!r}: the benchmark only "
                f"owns databases whose name starts with {OWNED_DATABASE_PREFIX!r}"
            )
        self.connect_kwargs = {
            "host": config.get("HOST") or None,
            "port": config.get("PORT") or None,
            "user": config.get("USER") or None,
            "password": config.get("PASSWORD") or None,
        }
        parts = urlsplit(url)
        self.url = parts._replace(path=f"/{self.name}").geturl()
        self.description = f"{parts.hostname}:{parts.port or 5432}/{self.name}"

    def _execute(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            dbname="postgres", autocommit=True, connect_timeout=5, **self.connect_kwargs
        ) as admin:
            admin.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def create(self) -> None:
        self._execute("DROP DATABASE IF EXISTS {}")
        self._execute("CREATE DATABASE {}")

    def drop(self) -> None:
        self._execute("DROP DATABASE IF EXISTS {}")


class SqliteDatabase:
    """A SQLite file in a temporary directory, removed after the run."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bench_leaderboards_"))
        path = self.directory / "bench.sqlite3"
        self.url = f"sqlite:///{path}"
        self.description = str(path)

    def create(self) -> None:
        """The file appears on the first connection."""

    def drop(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def owned_database(url: str | None) -> PostgresDatabase | SqliteDatabase:
    if not url:
        return SqliteDatabase()
    if urlsplit(url).scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit("--database-url must be a PostgreSQL URL (omit it for SQLite)")
    return PostgresDatabase(url)


def configure_environment(database_url: str, redis_url: str | None) -> list[str]:
    """Point the settings at the benchmark's database and cache. Returns the flag overrides
    that were removed from this process's environment."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "deltacrown.settings"
    os.environ["DATABASE_URL"] = database_url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_DEBUG"] = "false"  # DEBUG records every query: not what production runs
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no `board_computed` line per miss
    return [name for name in FLAG_VARIABLES if os.environ.pop(name, None) is not None]


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetLine:
    text: str
    measured: str
    verdict: str  # PASS, MISS, or "reported" where the contract does not hold the figure


@dataclass(frozen=True, slots=True)
class BenchReport:
    machine: dict[str, str]
    sizes: BenchSizes
    repeat: int
    build_seconds: float
    measure_seconds: float
    results: tuple[BoardResult, ...]
    budget: tuple[BudgetLine, ...]
    profile: str | None = None

    def result(self, key: str) -> BoardResult:
        return next(result for result in self.results if result.key == key)

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "sizes": asdict(self.sizes),
            "repeat": self.repeat,
            "build_seconds": round(self.build_seconds, 2),
            "measure_seconds": round(self.measure_seconds, 2),
            "boards": [result.to_json() for result in self.results],
            "budget": [asdict(line) for line in self.budget],
        }


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_benchmark(
    sizes: BenchSizes | None = None,
    repeat: int = DEFAULT_REPEAT,
    seed: int | None = None,
    progress: Callable[[str], None] = _stderr,
    profile: str | None = None,
) -> BenchReport:
    """Build the data sets in the connected (migrated, empty) database and measure every board.

    Needs Django set up. Leaves the rows in the database and nothing in the board cache.
    `profile` (a board key of `measurements.EXPECTED_QUERIES`) adds pyinstrument's call tree of
    that board's uncached computation.
    """
    from django.db import connection

    from apps.common.flags import is_flag_enabled
    from apps.common.models import FlagName
    from bench import dataset, measurements

    sizes = sizes or dataset.CONTRACT_SIZES
    load_before = _load_average()
    started = time.perf_counter()
    progress(
        f"building data sets ({sizes.tournament_counted_matches:,} + "
        f"{sizes.season_counted_matches:,} counted matches) ..."
    )
    data = dataset.build_bench_data(sizes, dataset.DEFAULT_SEED if seed is None else seed)
    if connection.vendor == "postgresql":
        # Fresh tables have no planner statistics; production tables do (autovacuum).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    build_seconds = time.perf_counter() - started

    reader = measurements.READER_USER_ID
    if not (is_flag_enabled(FlagName.COMPUTE, reader) and is_flag_enabled(FlagName.CACHE, reader)):
        raise RuntimeError(f"{FlagName.COMPUTE} and {FlagName.CACHE} must be on to benchmark")

    started = time.perf_counter()
    results = tuple(measurements.measure_boards(data, repeat, progress))
    measure_seconds = time.perf_counter() - started
    profile_text = None
    if profile is not None:
        progress(f"profiling {profile} ...")
        profile_text = measurements.profile_board(data, profile)
    machine = _machine_info(connection, load_before)
    return BenchReport(
        machine=machine,
        sizes=sizes,
        repeat=repeat,
        build_seconds=build_seconds,
        measure_seconds=measure_seconds,
        results=results,
        budget=tuple(
            budget_lines(
                results,
                held=connection.vendor == "postgresql" and sizes == dataset.CONTRACT_SIZES,
            )
        ),
        profile=profile_text,
    )


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _machine_info(connection: Any, load_before: str) -> dict[str, str]:
    import django

    from apps.common import redis_gateway

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        database = f"PostgreSQL {version} (database {connection.settings_dict['NAME']})"
    else:
        database = f"SQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})"
    if redis_gateway.is_embedded():
        cache = "embedded Redis (fakeredis in this process, no REDIS_URL)"
    else:
        client = redis_gateway.redis_client()
        info = client.info("server")
        kwargs = client.connection_pool.connection_kwargs
        cache = (
            f"Redis {info.get('redis_version')} "
            f"({kwargs.get('host')}:{kwargs.get('port')} db {kwargs.get('db')})"
        )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": f"{os.cpu_count()} x {_cpu_model()}",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": database,
        "cache": cache,
        "load average (1/5/15 min) before / after": f"{load_before} / {_load_average()}",
    }


def budget_lines(results: Sequence[BoardResult], *, held: bool) -> list[BudgetLine]:
    """The section 8 lines this benchmark can check, judged on medians; `held` False (SQLite,
    or sizes other than the contract's) reports the figures without a verdict."""
    by_key = {result.key: result for result in results}
    board, small, season = by_key["tournament"], by_key["tournament_small"], by_key["season"]

    def verdict(passed: bool) -> str:
        if not held:
            return "reported"
        return "PASS" if passed else "MISS"

    constant_queries = board.queries == small.queries == board.expected_queries
    return [
        BudgetLine(
            "uncached tournament board (256 / 8,000): under 30 ms and within 3x of bare SQL",
            f"{board.uncached.median:.2f} ms median (p95 {board.uncached.p95:.2f}), "
            f"{board.ratio:.2f}x bare SQL ({board.bare_sql.median:.2f} ms), "
            f"{board.queries} queries ({small.queries} on a {small.rows}-row board)",
            verdict(
                board.uncached.median < TOURNAMENT_BUDGET_MS
                and board.ratio <= TOURNAMENT_MAX_RATIO
                and constant_queries
            ),
        ),
        BudgetLine(
            "season board (200 / 50,000): under 300 ms uncached",
            f"{season.uncached.median:.2f} ms median (p95 {season.uncached.p95:.2f})",
            verdict(season.uncached.median < SEASON_BUDGET_MS),
        ),
    ]


# --- the report --------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [str(first).ljust(widths[0])]
            + [str(cell).rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        )

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_report(report: BenchReport) -> str:
    lines = ["DeltaCrown leaderboards benchmark", ""]
    width = max(len(name) for name in report.machine)
    lines += [f"{name.ljust(width)}  {value}" for name, value in report.machine.items()]
    lines += [
        f"{'repeat'.ljust(width)}  {report.repeat} rounds per board (a board past 15 s stops "
        "after 5 or more: column n); sub-ms timings at least 50 samples",
        f"{'data build'.ljust(width)}  {report.build_seconds:.1f} s, "
        f"measurements {report.measure_seconds:.1f} s",
        "",
        "Boards (ms; queries: SQL statements of one uncached computation / one cached read; "
        "p95 of under 20 samples is the slowest one)",
    ]
    lines.append(
        _table(
            [
                "board",
                "rows",
                "counted",
                "queries",
                "n",
                "uncached med",
                "p95",
                "cached med",
                "p95",
                "bare SQL med",
                "ratio",
                "server SQL",
            ],
            [
                [
                    result.label,
                    str(result.rows),
                    f"{result.counted_matches:,}",
                    f"{result.queries}/{result.cached_queries}"
                    + ("" if result.queries == result.expected_queries else " (!)"),
                    str(len(result.uncached.samples_ms)),
                    _ms(result.uncached.median),
                    _ms(result.uncached.p95),
                    _ms(result.cached.median),
                    _ms(result.cached.p95),
                    _ms(result.bare_sql.median),
                    f"{result.ratio:.2f}x",
                    _ms(result.server_sql_ms),
                ]
                for result in report.results
            ],
        )
    )
    lines += [
        "",
        "Where the uncached time goes (medians, ms): uncached = bare SQL + beyond SQL; beyond "
        "SQL (per round: uncached - bare SQL) = row building + ranking + rest (lookups, row dicts)",
        "Python CPU = this process's CPU time in the uncached computation; JSON encode / decode "
        "and render 50 are the cache side: a miss stores the encoded document, a page miss on a "
        "cached document decodes it and renders one page",
    ]
    lines.append(
        _table(
            [
                "board",
                "uncached",
                "bare SQL",
                "beyond SQL",
                "row building",
                "ranking",
                "rest",
                "Python CPU",
                "JSON encode",
                "JSON decode",
                "render 50",
            ],
            [
                [
                    result.label,
                    _ms(result.uncached.median),
                    _ms(result.bare_sql.median),
                    _ms(result.beyond_sql.median),
                    _ms(result.row_building.median),
                    _ms(result.ranking.median),
                    _ms(result.rest_ms),
                    _ms(result.uncached_cpu.median),
                    _ms(result.encode.median),
                    _ms(result.decode.median),
                    _ms(result.render.median),
                ]
                for result in report.results
            ],
        )
    )
    board, head_to_head = report.result("tournament"), report.result("tournament_head_to_head")
    lines += [
        "",
        f"page render, 50 rows from a cached document ({board.label}): "
        f"{board.render.median:.2f} ms median (p95 {board.render.p95:.2f})",
        f"ranking alone, {board.rows} rows (deltacrown-5step): "
        f"{board.ranking.median:.2f} ms median (p95 {board.ranking.p95:.2f})",
        f"ranking alone, {head_to_head.rows} rows (head-to-head, "
        f"{head_to_head.counted_matches:,} matches): "
        f"{head_to_head.ranking.median:.2f} ms median (p95 {head_to_head.ranking.p95:.2f})",
    ]
    misses = [
        result.label
        for result in report.results
        if result.cached_hits < len(result.cached.samples_ms)
    ]
    if misses:
        lines.append(f"warning: some timed cached reads were misses: {', '.join(misses)}")
    lines += ["", "Contract section 8"]
    lines += [
        f"{line.verdict:<8}  {line.text}\n          {line.measured}" for line in report.budget
    ]
    if report.profile:
        lines += ["", report.profile]
    return "\n".join(lines)


# --- command line ------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL of a database the benchmark may drop and recreate (name starting "
        f"with {OWNED_DATABASE_PREFIX!r}, default {DEFAULT_DATABASE_NAME}); omit for SQLite",
    )
    parser.add_argument(
        "--redis-url",
        help="Redis for the board cache (a database of its own); omit for the embedded one",
    )
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="timed runs per figure")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the database in place afterwards"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed of the data sets")
    parser.add_argument(
        "--profile",
        choices=PROFILE_BOARDS,
        help="also print pyinstrument's call tree of this board's uncached computation "
        "(optional tool: pip install pyinstrument)",
    )
    arguments = parser.parse_args(argv)
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    if arguments.profile and importlib.util.find_spec("pyinstrument") is None:
        parser.error("--profile needs pyinstrument: pip install pyinstrument")
    return arguments


@contextlib.contextmanager
def migrated_database(
    database_url: str | None, redis_url: str | None, *, keep: bool
) -> Iterator[None]:
    """A database of the benchmark's own, created, migrated with Django set up for it, and
    dropped at the end (unless `keep`)."""
    database = owned_database(database_url)
    removed_overrides = configure_environment(database.url, redis_url)
    if removed_overrides:
        _stderr(f"ignoring flag overrides in the environment: {', '.join(removed_overrides)}")
    _stderr(f"creating database {database.description} ...")
    database.create()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        _stderr("migrating ...")
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        if "django" in sys.modules and "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if keep:
            _stderr(f"kept database {database.description}")
        else:
            database.drop()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    with migrated_database(
        arguments.database_url, arguments.redis_url, keep=arguments.keep_database
    ):
        report = run_benchmark(
            repeat=arguments.repeat, seed=arguments.seed, profile=arguments.profile
        )
        print(format_report(report))
        if arguments.json:
            payload = {"command": " ".join(sys.argv), **report.to_json()}
            arguments.json.write_text(json.dumps(payload, indent=2) + "\n")
            _stderr(f"wrote {arguments.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
