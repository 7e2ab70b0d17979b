"""deploy/prometheus/alerts.yml, its unit tests, the Grafana dashboard and the seed's queries.

With promtool installed (.ci/run unpacks Debian's when it can): `promtool check rules`, `promtool
test rules` (alert behaviour and the seed's three queries evaluated on series of the service's
shape), and every dashboard query parsed as PromQL. Always: the YAML and JSON structure, the
metric names every expression uses, the runbook anchors, and the seed's queries quoted verbatim.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "leaderboards_dashboard.json"
GUIDE = ROOT / "docs" / "leaderboards" / "observability_guide.md"
RUNBOOK = ROOT / "docs" / "runbooks" / "phase_e_leaderboards.md"

# The three PromQL queries the product was specified with (hit ratio, cached P95, 5xx ratio),
# character for character: they must keep working unchanged (contract section 7).
SEED_QUERIES = (
    "sum(rate(leaderboard_cache_hits_total[1h])) / \n"
    "  (sum(rate(leaderboard_cache_hits_total[1h])) + "
    "sum(rate(leaderboard_cache_misses_total[1h])))",
    'histogram_quantile(0.95, rate(leaderboard_service_latency_seconds_bucket{cached="true"}[5m]))',
    'sum(rate(leaderboard_requests_total{status_code=~"5.."}[15m])) / \n'
    "  sum(rate(leaderboard_requests_total[15m]))",
)
# What an expression may select: the seven metrics as exposed, and Prometheus's own `up`.
KNOWN_SERIES = {
    "leaderboard_requests_total",
    "leaderboard_cache_hits_total",
    "leaderboard_cache_misses_total",
    "leaderboard_cache_evictions_total",
    "leaderboard_cache_errors_total",
    "leaderboard_service_latency_seconds_bucket",
    "leaderboard_service_latency_seconds_count",
    "leaderboard_service_latency_seconds_sum",
    "leaderboard_api_latency_seconds_bucket",
    "leaderboard_api_latency_seconds_count",
    "leaderboard_api_latency_seconds_sum",
    "up",
}
SEVERITIES = {"critical", "warning", "info"}
# Functions and operators the expressions use (anything else named is a series).
PROMQL_WORDS = {"sum", "rate", "increase", "histogram_quantile", "and", "or", "unless"}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def _rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def _selected_series(expression: str) -> set[str]:
    """The series names an expression reads: what is left once label matchers, ranges,
    grouping clauses and PromQL's own words are taken out."""
    text = re.sub(r"\{[^}]*\}", "", expression)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|on|without|ignoring)\s*\([^)]*\)", "", text)
    return set(re.findall(r"\b[a-zA-Z_][a-zA-Z0-9_:]*", text)) - PROMQL_WORDS


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _run_promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *arguments], capture_output=True, text=True, timeout=120, check=False
    )


# --- with promtool -------------------------------------------------------------------------------


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    result = _run_promtool("check", "rules", str(ALERTS))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


@needs_promtool
def test_the_alert_unit_tests_and_the_seed_queries_pass_in_promtool() -> None:
    result = _run_promtool("test", "rules", str(ALERT_TESTS))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": expression}
                    for index, expression in enumerate(_dashboard_expressions())
                ],
            }
        ]
    }
    rules_file = tmp_path / "dashboard_rules.yml"
    rules_file.write_text(yaml.safe_dump(rules))

    result = _run_promtool("check", "rules", str(rules_file))

    assert result.returncode == 0, result.stdout + result.stderr


# --- always --------------------------------------------------------------------------------------


def test_every_rule_has_an_expression_a_duration_a_severity_and_annotations() -> None:
    rules = _rules()

    assert len(rules) >= 8
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"Leaderboard[A-Za-z]+", rule["alert"])
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])


def test_rules_select_only_the_services_metrics() -> None:
    for rule in _rules():
        unknown = _selected_series(rule["expr"]) - KNOWN_SERIES
        assert not unknown, f"{rule['alert']} reads {sorted(unknown)}"


def test_every_runbook_link_names_a_section_of_the_runbook() -> None:
    anchors = _anchors(RUNBOOK.read_text())

    for rule in _rules():
        link = rule["annotations"]["runbook_url"]
        path, _, anchor = link.partition("#")
        assert path == "docs/runbooks/phase_e_leaderboards.md", link
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in the runbook"


def test_the_alerts_cover_the_slos_of_the_contract() -> None:
    expressions = {rule["alert"]: _normalised(rule["expr"]) for rule in _rules()}

    assert expressions["LeaderboardCachedLatencyHigh"].endswith("> 0.1")
    assert expressions["LeaderboardUncachedLatencyHigh"].endswith("> 0.5")
    assert expressions["LeaderboardCacheHitRatioLow"].endswith("< 0.90")
    assert _normalised(SEED_QUERIES[0]) in expressions["LeaderboardCacheHitRatioLow"]
    assert _normalised(SEED_QUERIES[1]) in expressions["LeaderboardCachedLatencyHigh"]
    assert _normalised(SEED_QUERIES[2]).replace("( ", "(") in (
        expressions["LeaderboardHighErrorRatio"].replace("( ", "(")
    )


def test_the_seed_queries_are_tested_and_documented_verbatim() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    tested = [case["expr"].strip() for group in tests for case in group.get("promql_expr_test", [])]
    guide = _normalised(GUIDE.read_text())

    for query in SEED_QUERIES:
        assert query in tested, query
        assert _normalised(query) in guide, query


def test_the_dashboard_has_the_panels_the_operators_need() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    expressions = _dashboard_expressions()

    assert dashboard["uid"] == "deltacrown-leaderboards"
    assert len(titles) == len(set(titles))
    for wanted in (
        "Requests per second by status",
        "Cache hit ratio (1 h)",
        "Cached board reads: p95 by scope",
        "Uncached board reads: p95 by scope",
        "API latency p95 by endpoint",
        "Cache errors by operation",
        "Cache evictions by reason",
    ):
        assert wanted in titles
    for query in SEED_QUERIES:
        assert query in expressions
    for expression in expressions:
        unknown = _selected_series(expression) - KNOWN_SERIES
        assert not unknown, f"{expression} reads {sorted(unknown)}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
