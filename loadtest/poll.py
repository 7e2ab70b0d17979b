"""Load harness: a fleet of frontends polling the public boards, on loopback only.

    python loadtest/poll.py open --rate 150 --duration 60 [--mix polling] [--cold]
    python loadtest/poll.py closed --concurrency 12 --duration 20 --mix ping
    python loadtest/poll.py compare --rounds 5 --slice-seconds 4 --concurrency 12

Common options: --base-url (default http://127.0.0.1:8000; only loopback addresses are accepted),
--manifest (written by loadtest/setup_data.py: ids and tokens), --clients N (how many of the
manifest's users poll), --json FILE (the full report), --server-log FILE (the server's stdout:
requests whose id appears on a `board_computed` line are reported as cache misses).

- `open`: an open loop at a fixed offered rate (requests are started on schedule whether or not
  earlier ones have answered, so a slow server cannot slow the load down; latency is measured from
  the scheduled start, which counts any wait in the client as well). Request i is sent by client
  i mod N, so each user polls at rate/N; each (client, URL) remembers the last ETag and sends it
  in `If-None-Match`, as a browser would.
- `closed`: N connections, each sending its next request as soon as the last one answered
  (saturation throughput).
- `compare`: contract section 8's baseline comparison in one run: alternating closed-loop slices of
  `/api/ping/` and the cached board (throughput at saturation of each, medians over the rounds),
  then an interleaved low-concurrency phase (ping, board, ping, board, ...) for the p50 ratio.

Bounded: every phase stops after its duration (or --max-requests), each request after
--timeout seconds, and the whole run after duration + timeout + 10 s. The cache hit ratio is the
delta of `leaderboard_cache_hits_total` and `_misses_total` read from /metrics before and after.
Uses only the standard library (asyncio streams): gunicorn's sync workers close the connection
after each response, so each request is one short TCP connection.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_MANIFEST = Path(__file__).resolve().parent / ".data" / "manifest.json"
DEFAULT_TIMEOUT = 10.0
MAX_IN_FLIGHT = 512
PING_PATH = "/api/ping/"
BOARD_LABELS = ("tournament_big", "tournament_big_p2", "tournament_small", "season", "all_time")
HIT_METRIC = "leaderboard_cache_hits_total"
MISS_METRIC = "leaderboard_cache_misses_total"
REQUESTS_METRIC = "leaderboard_requests_total"


# --- pure parts (tested in apps/common/tests/test_loadtest_smoke.py) ----------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (the smallest value with at least `fraction` of the samples at or
    below it); NaN for no samples."""
    if not values:
        return math.nan
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency_summary(values: Sequence[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.50), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


_SAMPLE_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


def parse_metrics(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition (comments and blank lines skipped)."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_LINE.match(line)
        if match is None:
            continue
        labels = tuple(
            sorted(
                (key, value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                for key, value in _LABEL.findall(match.group("labels") or "")
            )
        )
        samples.append(Sample(match.group("name"), labels, float(match.group("value"))))
    return samples


def metric_total(samples: Iterable[Sample], name: str, **label_filter: str) -> float:
    """Sum of every sample of `name` whose labels match the filter (e.g. scope="tournament")."""
    return sum(
        sample.value
        for sample in samples
        if sample.name == name
        and all(sample.label(key) == value for key, value in label_filter.items())
    )


@dataclass(frozen=True, slots=True)
class CacheCounts:
    hits: float
    misses: float

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> CacheCounts:
        samples = list(samples)
        return cls(metric_total(samples, HIT_METRIC), metric_total(samples, MISS_METRIC))


def hit_ratio(before: CacheCounts, after: CacheCounts) -> float | None:
    """hits / (hits + misses) over the interval; None when no board was read."""
    hits = after.hits - before.hits
    misses = after.misses - before.misses
    return hits / (hits + misses) if hits + misses > 0 else None


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def parse_response(raw: bytes) -> Response:
    """An HTTP/1.x response read to the end of a closed connection."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError("incomplete response head")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"bad status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None:
        if len(body) < int(length):
            raise ValueError(f"truncated body: {len(body)} of {length} bytes")
        body = body[: int(length)]
    return Response(int(parts[1]), headers, body)


class EtagBook:
    """The last ETag each client saw for each URL: what a browser sends in If-None-Match."""

    def __init__(self) -> None:
        self._etags: dict[tuple[int, str], str] = {}

    def headers_for(self, client: int, path: str) -> dict[str, str]:
        etag = self._etags.get((client, path))
        return {"If-None-Match": etag} if etag else {}

    def remember(self, client: int, path: str, response: Response) -> None:
        etag = response.headers.get("etag")
        if response.status in (200, 304) and etag:
            self._etags[(client, path)] = etag
        elif response.status >= 400:
            self._etags.pop((client, path), None)


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    path: str
    weight: float = 1.0


def polling_mix(manifest: Mapping[str, Any]) -> list[Target]:
    """What a frontend fleet reads: the big live board most, small boards, the season and
    all-time boards, players' histories."""
    big = manifest["big_tournament_id"]
    targets = [
        Target("tournament_big", f"/api/tournaments/{big}/leaderboard/", 30),
        Target("tournament_big_p2", f"/api/tournaments/{big}/leaderboard/?page=2", 5),
        Target(
            "season",
            f"/api/tournaments/leaderboards/scoped/?scope=season&season={manifest['season_slug']}",
            15,
        ),
        Target("all_time", "/api/tournaments/leaderboards/scoped/?scope=all_time", 10),
    ]
    small = manifest["small_tournament_ids"]
    targets += [
        Target("tournament_small", f"/api/tournaments/{each}/leaderboard/", 30 / len(small))
        for each in small
    ]
    history = manifest["history_user_ids"]
    targets += [
        Target(
            "history",
            f"/api/tournaments/leaderboards/participant/{each}/history/",
            10 / len(history),
        )
        for each in history
    ]
    return targets


def named_mix(name: str, manifest: Mapping[str, Any]) -> list[Target]:
    big = f"/api/tournaments/{manifest['big_tournament_id']}/leaderboard/"
    season = f"/api/tournaments/leaderboards/scoped/?scope=season&season={manifest['season_slug']}"
    mixes = {
        "polling": polling_mix(manifest),
        "ping": [Target("ping", PING_PATH)],
        "cached": [Target("tournament_big", big)],
        "big": [Target("tournament_big", big)],
        "season": [Target("season", season)],
        "ping+cached": [Target("ping", PING_PATH), Target("tournament_big", big)],
    }
    if name not in mixes:
        raise ValueError(f"unknown mix {name!r}; known: {', '.join(sorted(mixes))}")
    return mixes[name]


class Chooser:
    """Weighted choice of targets; `interleave` cycles through them in order instead."""

    def __init__(self, targets: Sequence[Target], seed: int = 7, interleave: bool = False):
        self.targets = list(targets)
        self.interleave = interleave
        self.rng = random.Random(seed)  # noqa: S311
        self.weights = [target.weight for target in self.targets]
        self.count = 0

    def next(self) -> Target:
        self.count += 1
        if self.interleave:
            return self.targets[(self.count - 1) % len(self.targets)]
        return self.rng.choices(self.targets, self.weights)[0]


def server_durations(log_lines: Iterable[str], request_id_prefix: str) -> dict[str, float]:
    """request_id -> `duration_ms` of this run's `request_finished` lines: the time inside
    Django, without the wait in gunicorn's accept queue or the client."""
    found = {}
    for line in log_lines:
        if '"request_finished"' not in line or request_id_prefix not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        request_id = record.get("request_id", "")
        if record.get("event") == "request_finished" and request_id.startswith(request_id_prefix):
            found[request_id] = float(record.get("duration_ms", 0.0))
    return found


def server_misses(log_lines: Iterable[str], request_id_prefix: str) -> set[str]:
    """Request ids (of this run) whose request computed a board: `board_computed` log lines."""
    found = set()
    for line in log_lines:
        if '"board_computed"' not in line or request_id_prefix not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        request_id = record.get("request_id", "")
        if record.get("event") == "board_computed" and request_id.startswith(request_id_prefix):
            found.add(request_id)
    return found


# --- HTTP ----------------------------------------------------------------------------------------


def loopback_base(base_url: str) -> tuple[str, int]:
    """(host, port) of a loopback base URL; anything else is refused (load only on loopback)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise ValueError("only http:// on loopback is supported")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing {host!r}: load is sent only to loopback addresses")
    return host, parts.port or 80


async def http_get(
    host: str, port: int, path: str, headers: Mapping[str, str], timeout: float
) -> Response:
    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            return await reader.read(-1)
        finally:
            writer.close()

    return parse_response(await asyncio.wait_for(exchange(), timeout))


async def http_post_json(
    host: str, port: int, path: str, headers: Mapping[str, str], body: Any, timeout: float
) -> Response:
    payload = json.dumps(body).encode()

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            lines = [
                f"POST {path} HTTP/1.1",
                f"Host: {host}:{port}",
                "Connection: close",
                "Content-Type: application/json",
                f"Content-Length: {len(payload)}",
            ]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
            return await reader.read(-1)
        finally:
            writer.close()

    return parse_response(await asyncio.wait_for(exchange(), timeout))


async def scrape(host: str, port: int, token: str = "", timeout: float = 10) -> list[Sample]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http_get(host, port, "/metrics", headers, timeout)
    if response.status != 200:
        raise RuntimeError(f"/metrics answered {response.status}")
    return parse_metrics(response.body.decode())


async def scrape_when_answering(
    host: str, port: int, token: str = "", attempts: int = 6, timeout: float = 10
) -> list[Sample] | None:
    """A scrape after a run: an overloaded server may still be working through its backlog
    (requests the client gave up on), so retry for up to attempts x timeout seconds."""
    for _ in range(attempts):
        try:
            return await scrape(host, port, token, timeout)
        except (OSError, ValueError, RuntimeError, TimeoutError):
            await asyncio.sleep(1)
    return None


# --- the load ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    index: int
    label: str
    client: int
    started_wall: float  # time.time() when the request was sent
    scheduled_lag_ms: float  # how late the client sent it (open loop)
    latency_ms: float  # from the scheduled start (open) or the send (closed)
    status: int  # 0: no HTTP answer (connection error or timeout)
    error: str = ""
    etag: str = ""
    request_id: str = ""
    body_bytes: int = 0
    sent_if_none_match: str = ""
    path: str = ""


OnResponse = Callable[[Record, "Response | None"], None]


@dataclass(slots=True)
class LoadConfig:
    host: str
    port: int
    tokens: list[str]
    timeout: float = DEFAULT_TIMEOUT
    send_etags: bool = True
    run_id: str = field(default_factory=lambda: f"lt{int(time.time())}")
    on_response: OnResponse | None = None


class Fleet:
    """Sends requests as `len(tokens)` users; records every request."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.etags = EtagBook()
        self.records: list[Record] = []
        self.count = 0

    async def send(self, target: Target, scheduled: float | None = None) -> Record:
        config = self.config
        index = self.count
        self.count += 1
        client = index % len(config.tokens)
        request_id = f"{config.run_id}-{index}"
        headers = {"Authorization": f"Token {config.tokens[client]}", "X-Request-ID": request_id}
        if config.send_etags:
            headers.update(self.etags.headers_for(client, target.path))
        sent = time.perf_counter()
        start = scheduled if scheduled is not None else sent
        record = Record(
            index=index,
            label=target.label,
            client=client,
            started_wall=time.time(),
            scheduled_lag_ms=(sent - start) * 1000,
            latency_ms=0.0,
            status=0,
            request_id=request_id,
            sent_if_none_match=headers.get("If-None-Match", ""),
            path=target.path,
        )
        response: Response | None = None
        try:
            response = await http_get(
                config.host, config.port, target.path, headers, config.timeout
            )
            record.status = response.status
            record.etag = response.headers.get("etag", "")
            record.body_bytes = len(response.body)
            if config.send_etags:
                self.etags.remember(client, target.path, response)
        except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as error:
            record.error = type(error).__name__
        record.latency_ms = (time.perf_counter() - start) * 1000
        self.records.append(record)
        if config.on_response is not None:
            config.on_response(record, response)
        return record


async def open_loop(
    fleet: Fleet,
    chooser: Chooser,
    rate: float,
    duration: float,
    max_requests: int | None = None,
    tick: Callable[[float], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Start requests at `rate` per second for `duration` seconds; wait for the stragglers.
    `tick(elapsed)` is awaited between sends (drills use it to break things on schedule)."""
    total = int(rate * duration)
    if max_requests is not None:
        total = min(total, max_requests)
    tasks: set[asyncio.Task[Record]] = set()
    skipped = 0
    began = time.perf_counter()
    for number in range(total):
        scheduled = began + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if tick is not None:
            await tick(time.perf_counter() - began)
        if len(tasks) >= MAX_IN_FLIGHT:
            skipped += 1  # the server is this far behind: count it, do not pile on
            continue
        task = asyncio.create_task(fleet.send(chooser.next(), scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sending_done = time.perf_counter()
    if tasks:
        await asyncio.wait(tasks, timeout=fleet.config.timeout + 5)
    return {
        "offered_rate": rate,
        "planned": total,
        "skipped_in_flight_cap": skipped,
        "send_seconds": round(sending_done - began, 3),
        "elapsed_seconds": round(time.perf_counter() - began, 3),
    }


async def closed_loop(
    fleet: Fleet,
    chooser: Chooser,
    concurrency: int,
    duration: float,
    max_requests: int | None = None,
) -> dict[str, Any]:
    """`concurrency` loops, each sending its next request when the last one answered."""
    deadline = time.perf_counter() + duration
    began = time.perf_counter()
    first = len(fleet.records)

    async def worker() -> None:
        while time.perf_counter() < deadline:
            if max_requests is not None and fleet.count >= max_requests:
                return
            await fleet.send(chooser.next())

    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(concurrency))),
        duration + fleet.config.timeout + 5,
    )
    elapsed = time.perf_counter() - began
    answered = sum(1 for record in fleet.records[first:] if record.status)
    return {
        "concurrency": concurrency,
        "elapsed_seconds": round(elapsed, 3),
        "answered": answered,
        "throughput_rps": round(answered / elapsed, 1),
    }


# --- reports -------------------------------------------------------------------------------------


def summarize(
    records: Sequence[Record], misses: set[str] | None = None, elapsed: float | None = None
) -> dict[str, Any]:
    answered = [record for record in records if record.status]
    report: dict[str, Any] = {
        "requests": len(records),
        "answered": len(answered),
        "errors": dict(Counter(record.error for record in records if record.error)),
        "status_counts": {
            str(key): value
            for key, value in sorted(Counter(record.status for record in records).items())
        },
        "latency_ms": {"all": latency_summary([record.latency_ms for record in answered])},
        "client_lag_ms": latency_summary([record.scheduled_lag_ms for record in records]),
    }
    if elapsed:
        report["achieved_rps"] = round(len(answered) / elapsed, 1)
    labels = sorted({record.label for record in records})
    for label in labels:
        report["latency_ms"][label] = latency_summary(
            [record.latency_ms for record in answered if record.label == label]
        )
    boards = [record for record in answered if record.label in (*BOARD_LABELS, "history")]
    if boards:
        report["latency_ms"]["boards"] = latency_summary([record.latency_ms for record in boards])
    if misses is not None and boards:
        report["latency_ms"]["boards_cached"] = latency_summary(
            [record.latency_ms for record in boards if record.request_id not in misses]
        )
        report["latency_ms"]["boards_computed"] = latency_summary(
            [record.latency_ms for record in boards if record.request_id in misses]
        )
    return report


def server_side(
    records: Sequence[Record], durations: Mapping[str, float], misses: set[str]
) -> dict[str, Any]:
    """Percentiles of the time inside Django (from the server's log) for the same requests."""
    boards = [r for r in records if r.label in (*BOARD_LABELS, "history") and r.status]
    return {
        "all": latency_summary(
            [durations[r.request_id] for r in records if r.request_id in durations]
        ),
        "boards_cached": latency_summary(
            [
                durations[r.request_id]
                for r in boards
                if r.request_id in durations and r.request_id not in misses
            ]
        ),
        "boards_computed": latency_summary(
            [
                durations[r.request_id]
                for r in boards
                if r.request_id in misses and r.request_id in durations
            ]
        ),
    }


def format_report(report: Mapping[str, Any]) -> str:
    lines = []
    if "phase" in report:
        lines.append(f"phase: {json.dumps(report['phase'])}")
    lines.append(
        f"requests {report['requests']}, answered {report['answered']}"
        + (f", achieved {report['achieved_rps']} req/s" if "achieved_rps" in report else "")
    )
    lines.append(
        f"status counts: {report['status_counts']}"
        + (f"  errors: {report['errors']}" if report["errors"] else "")
    )
    lines.append(f"{'latency ms':<22}{'n':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    for label, summary in report["latency_ms"].items():
        if summary.get("n"):
            lines.append(
                f"  {label:<20}{summary['n']:>7}{summary['p50']:>9}{summary['p95']:>9}"
                f"{summary['p99']:>9}{summary['max']:>9}"
            )
    for label, summary in report.get("server_duration_ms", {}).items():
        if summary.get("n"):
            lines.append(
                f"  server-side {label:<12}{summary['n']:>7}{summary['p50']:>9}"
                f"{summary['p95']:>9}{summary['p99']:>9}{summary['max']:>9}"
            )
    if "machine_load" in report:
        load = report["machine_load"]
        lines.append(
            f"load average before / after: {load['before']} / {load['after']}; "
            f"machine CPU busy during the run: {load.get('cpu_busy_percent')} %"
        )
    lag = report["client_lag_ms"]
    if lag.get("n"):
        lines.append(f"client send lag ms: p50 {lag['p50']} p99 {lag['p99']} max {lag['max']}")
    cache = report.get("cache")
    if cache:
        ratio = cache["hit_ratio"]
        lines.append(
            f"cache (from /metrics): hits +{cache['hits']:.0f}, misses +{cache['misses']:.0f}, "
            f"hit ratio {'n/a' if ratio is None else f'{100 * ratio:.2f} %'}"
        )
    return "\n".join(lines)


# --- command line --------------------------------------------------------------------------------


def load_manifest(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(f"{path} not found: run loadtest/setup_data.py build first") from None


async def invalidate_all(host: str, port: int, staff_token: str, timeout: float) -> int:
    response = await http_post_json(
        host,
        port,
        "/api/admin/leaderboards/cache/invalidate/",
        {"Authorization": f"Token {staff_token}"},
        {"scope": "all"},
        timeout,
    )
    if response.status != 200:
        raise RuntimeError(f"invalidate answered {response.status}: {response.body[:200]!r}")
    return int(json.loads(response.body)["invalidated_count"])


async def run_command(args: argparse.Namespace) -> dict[str, Any]:
    host, port = loopback_base(args.base_url)
    manifest = load_manifest(args.manifest)
    tokens = [client["token"] for client in manifest["clients"][: args.clients]]
    if not tokens:
        raise SystemExit("the manifest has no client tokens")
    config = LoadConfig(host, port, tokens, args.timeout, send_etags=not args.no_etag)
    fleet = Fleet(config)
    load_before = machine_load()
    cpu_before = cpu_times()
    before = await scrape(host, port, args.metrics_token)
    if args.cold:
        removed = await invalidate_all(host, port, manifest["staff_token"], args.timeout)
        print(f"cold start: {removed} cached board keys invalidated", file=sys.stderr)
    report: dict[str, Any]
    if args.command == "compare":
        report = await compare(fleet, manifest, args)
    else:
        chooser = Chooser(named_mix(args.mix, manifest), interleave=args.interleave)
        stop_invalidating = asyncio.Event()
        churn = None
        if args.invalidate_every:
            churn = asyncio.create_task(churn_loop(host, port, manifest, args, stop_invalidating))
        if args.command == "open":
            phase = await open_loop(fleet, chooser, args.rate, args.duration, args.max_requests)
        else:
            phase = await closed_loop(
                fleet, chooser, args.concurrency, args.duration, args.max_requests
            )
        stop_invalidating.set()
        invalidations = await churn if churn else 0
        misses = None
        durations: dict[str, float] = {}
        if args.server_log:
            await asyncio.sleep(0.5)  # the last log lines
            with open(args.server_log, encoding="utf-8", errors="replace") as log_file:
                lines = log_file.readlines()
            misses = server_misses(lines, config.run_id)
            durations = server_durations(lines, config.run_id)
        report = summarize(fleet.records, misses, phase["elapsed_seconds"])
        if durations:
            report["server_duration_ms"] = server_side(fleet.records, durations, misses or set())
        report["phase"] = {**phase, "mix": args.mix, "clients": len(tokens)}
        if args.invalidate_every:
            report["phase"]["invalidations"] = invalidations
    after = await scrape_when_answering(host, port, args.metrics_token)
    if after is None:
        report["cache"] = None
        report["requests_total_delta"] = None
        print(
            "warning: /metrics did not answer within 60 s after the run (server still "
            "draining its backlog): no hit ratio",
            file=sys.stderr,
        )
        after = before
    else:
        counts_before, counts_after = CacheCounts.of(before), CacheCounts.of(after)
        report["cache"] = {
            "hits": counts_after.hits - counts_before.hits,
            "misses": counts_after.misses - counts_before.misses,
            "hit_ratio": hit_ratio(counts_before, counts_after),
        }
    if report.get("cache") is not None:
        report["requests_total_delta"] = metric_total(after, REQUESTS_METRIC) - metric_total(
            before, REQUESTS_METRIC
        )
    limit = next((r for r in fleet.records if r.status == 429), None)
    if limit is not None:
        print(
            "warning: some requests were rate limited (429): raise RATE_LIMIT_PUBLIC_PER_HOUR "
            "on the server or use more clients",
            file=sys.stderr,
        )
    report["run_id"] = config.run_id
    report["machine_load"] = {
        "before": load_before,
        "after": machine_load(),
        "cpu_busy_percent": cpu_busy_percent(cpu_before, cpu_times()),
    }
    return report


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return (0, 0)
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle, sum(fields))


def cpu_busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Share of the machine's CPU (all cores) busy between two samples: everything counts, the
    server, PostgreSQL, Redis, this client and whatever else runs on the machine."""
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total > 0 else None


def machine_load() -> str:
    """/proc/loadavg: the machine is shared, so every figure carries how busy it was."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


async def churn_loop(
    host: str,
    port: int,
    manifest: Mapping[str, Any],
    args: argparse.Namespace,
    stop: asyncio.Event,
) -> int:
    """Invalidate every board every `--invalidate-every` seconds: forces misses under load."""
    count = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), args.invalidate_every)
            break
        except TimeoutError:
            pass
        await invalidate_all(host, port, manifest["staff_token"], args.timeout)
        count += 1
    return count


async def compare(fleet: Fleet, manifest: Mapping[str, Any], args: argparse.Namespace) -> dict:
    """Ping vs cached board: saturation slices alternated, then an interleaved p50 phase."""
    ping = Chooser(named_mix("ping", manifest))
    board = Chooser(named_mix("cached", manifest))
    fleet.config.send_etags = False  # full 200 bodies: the heavier case of a cached read
    await closed_loop(fleet, board, 2, 1.0)  # warm the page into the cache
    throughput: dict[str, list[float]] = {"ping": [], "cached": []}
    for _ in range(args.rounds):
        for name, chooser in (("ping", ping), ("cached", board)):
            phase = await closed_loop(fleet, chooser, args.concurrency, args.slice_seconds)
            throughput[name].append(phase["throughput_rps"])
    first = len(fleet.records)
    interleaved = Chooser(named_mix("ping+cached", manifest), interleave=True)
    await open_loop(fleet, interleaved, args.p50_rate, args.p50_seconds)
    records = [record for record in fleet.records[first:] if record.status == 200]
    p50 = {
        label: percentile([r.latency_ms for r in records if r.label == label], 0.5)
        for label in ("ping", "tournament_big")
    }
    medians = {name: statistics.median(values) for name, values in throughput.items()}
    return {
        "requests": len(fleet.records),
        "answered": sum(1 for record in fleet.records if record.status),
        "errors": dict(Counter(record.error for record in fleet.records if record.error)),
        "status_counts": {
            str(key): value
            for key, value in sorted(Counter(r.status for r in fleet.records).items())
        },
        "latency_ms": {
            "interleaved_ping": latency_summary(
                [r.latency_ms for r in records if r.label == "ping"]
            ),
            "interleaved_cached": latency_summary(
                [r.latency_ms for r in records if r.label == "tournament_big"]
            ),
        },
        "client_lag_ms": latency_summary([r.scheduled_lag_ms for r in fleet.records[first:]]),
        "saturation_rps": throughput,
        "saturation_median_rps": medians,
        "throughput_ratio_cached_to_ping": round(medians["cached"] / medians["ping"], 3),
        # Each round's cached slice against the ping slice just before it: neighbours share
        # the machine's noise, so this moves less than the ratio of medians.
        "throughput_ratio_paired_median": round(
            statistics.median(
                cached / ping
                for cached, ping in zip(throughput["cached"], throughput["ping"], strict=True)
            ),
            3,
        ),
        "p50_ms": {key: round(value, 2) for key, value in p50.items()},
        "p50_ratio_cached_to_ping": round(p50["tournament_big"] / p50["ping"], 3),
        "phase": {
            "rounds": args.rounds,
            "slice_seconds": args.slice_seconds,
            "concurrency": args.concurrency,
            "p50_rate": args.p50_rate,
            "p50_seconds": args.p50_seconds,
            "clients": len(fleet.config.tokens),
        },
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Poll the public leaderboards as a fleet of frontends (loopback only)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("open", "closed", "compare"):
        command = sub.add_parser(name)
        command.add_argument("--base-url", default=DEFAULT_BASE_URL)
        command.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
        command.add_argument("--clients", type=int, default=300)
        command.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
        command.add_argument("--metrics-token", default="")
        command.add_argument("--json", help="write the full report here")
        command.add_argument("--cold", action="store_true", help="invalidate every board first")
        command.add_argument("--no-etag", action="store_true", help="never send If-None-Match")
        if name == "compare":
            command.add_argument("--rounds", type=int, default=5)
            command.add_argument("--slice-seconds", type=float, default=4.0)
            command.add_argument("--concurrency", type=int, default=12)
            command.add_argument("--p50-rate", type=float, default=60.0)
            command.add_argument("--p50-seconds", type=float, default=20.0)
            continue
        command.add_argument("--mix", default="polling")
        command.add_argument("--interleave", action="store_true")
        command.add_argument("--duration", type=float, default=60.0)
        command.add_argument("--max-requests", type=int)
        command.add_argument("--server-log", help="the server's stdout (classifies misses)")
        command.add_argument(
            "--invalidate-every",
            type=float,
            default=0.0,
            help="invalidate every board every N seconds during the run (forces misses)",
        )
        if name == "open":
            command.add_argument("--rate", type=float, default=150.0)
        else:
            command.add_argument("--concurrency", type=int, default=12)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = asyncio.run(run_command(args))
    print(format_report(report) if "achieved_rps" in report or "phase" in report else "")
    if args.command == "compare":
        print(
            f"saturation req/s: ping {report['saturation_rps']['ping']}, cached "
            f"{report['saturation_rps']['cached']} -> median ratio "
            f"{report['throughput_ratio_cached_to_ping']} (paired per round: "
            f"{report['throughput_ratio_paired_median']})\n"
            f"interleaved p50 ms: {report['p50_ms']} -> ratio {report['p50_ratio_cached_to_ping']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
