"""Every repository path, link and test named in the leaderboard documents exists.

Checked in the documents of DOCUMENTS: markdown links (the target file, and the heading an
`#anchor` names), backticked repository paths (`apps/...`, `docs/...`, `Makefile`, ...), and
backticked test names (`test_...`, defined in some test module). In the trace file: it parses as
YAML, every node names its requirement and at least one `code`, `tests` and `docs` path, and every
path exists (a `tests` entry may name a test: `path::test_name`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

from apps.tournaments.tests.docs_data import FENCED_BLOCK, REPO_ROOT

DOCUMENTS = (
    "docs/leaderboards/README.md",
    "docs/leaderboards/api_readme.md",
    "docs/integration/leaderboards_examples.md",
    "docs/admin/leaderboards.md",
    "docs/admin/tournament_ops.md",
    "Documents/ExecutionPlan/PHASE_E_MAP_SECTION.md",
    "Documents/ExecutionPlan/ADR_LEADERBOARDS_REALTIME_V1.md",
    "Documents/ExecutionPlan/ADR_LEADERBOARDS_CACHING.md",
    "Documents/ExecutionPlan/ADR_LEADERBOARDS_TIEBREAKER.md",
    "Documents/ExecutionPlan/ADR_LEADERBOARDS_PII_DISCIPLINE.md",
    "Documents/ExecutionPlan/ADR_LEADERBOARDS_INVALIDATION.md",
    "docs/decisions.md",
    "docs/runbooks/phase_e_leaderboards.md",
    "docs/leaderboards/observability_guide.md",
    "README.md",
    "bench/README.md",
    "loadtest/README.md",
    "docs/performance.md",
    "docs/admin/import_results.md",
)
TRACE_FILE = "Documents/ExecutionPlan/PHASE_E_TRACE_NODES.yml"
TRACE_KEYS = ("code", "tests", "docs")

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*$", re.MULTILINE)
_REPO_PATH = re.compile(
    r"^(?:apps|bench|deltacrown|deploy|docs|Documents|\.ci)/[\w.\-/]*[\w/](?:::\w+)?$"
)
_TOP_LEVEL_FILES = frozenset(
    {
        ".env.example",
        "Dockerfile",
        "Makefile",
        "README.md",
        "docker-compose.yml",
        "manage.py",
        "pyproject.toml",
        "pytest.ini",
        "requirements.txt",
        "requirements-dev.txt",
    }
)
_TEST_NAME = re.compile(r"^test_\w+$")


def _prose(markdown: str) -> str:
    """The document without its fenced blocks (examples, diagrams, transcripts)."""
    return FENCED_BLOCK.sub("", markdown)


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors_of(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_prose(path.read_text())):
        anchor = heading_anchor(heading)
        count = seen.get(anchor, 0)
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
        seen[anchor] = count + 1
    return frozenset(anchors)


@cache
def defined_test_names() -> frozenset[str]:
    names: set[str] = set()
    for module in (REPO_ROOT / "apps").glob("*/tests/**/test_*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)\(", module.read_text(), re.MULTILINE))
    return frozenset(names)


def problems_with_repo_path(reference: str) -> Iterator[str]:
    """`path` or `path::test_name`, relative to the repository root."""
    path_text, _, test_name = reference.partition("::")
    path = REPO_ROOT / path_text
    if not path.exists():
        yield f"{reference}: no such path in the repository"
    elif test_name and not re.search(
        rf"^(?:async )?def {re.escape(test_name)}\(", path.read_text(), re.MULTILINE
    ):
        yield f"{reference}: {path_text} defines no {test_name}"


def problems_with_link(document: Path, target: str) -> Iterator[str]:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
        return
    path_text, _, anchor = target.partition("#")
    path = (document.parent / path_text).resolve() if path_text else document
    if not path.is_relative_to(REPO_ROOT):
        yield f"link {target}: leaves the repository"
        return
    if not path.exists():
        yield f"link {target}: no such file"
        return
    if anchor and path.suffix == ".md" and anchor not in anchors_of(path):
        yield f"link {target}: {path.name} has no heading with anchor #{anchor}"


def problems_in_document(name: str) -> Iterator[str]:
    document = REPO_ROOT / name
    prose = _prose(document.read_text())
    for target in _LINK.findall(prose):
        yield from problems_with_link(document, target)
    for span in _CODE_SPAN.findall(prose):
        if _REPO_PATH.match(span) or span in _TOP_LEVEL_FILES:
            yield from problems_with_repo_path(span)
        elif _TEST_NAME.match(span) and span not in defined_test_names():
            yield f"{span}: no test of that name under apps/*/tests"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_path_link_and_test_named_in_the_document_exists(name):
    assert (REPO_ROOT / name).is_file(), f"{name} is missing"

    problems = list(problems_in_document(name))

    assert not problems, f"{name}:\n" + "\n".join(problems)


def _trace_nodes() -> list[dict]:
    document = yaml.safe_load((REPO_ROOT / TRACE_FILE).read_text())
    assert isinstance(document, dict), "the trace file is a mapping"
    nodes = document.get("nodes")
    assert isinstance(nodes, list) and nodes, "the trace file has a non-empty `nodes` list"
    return nodes


def test_the_trace_file_parses_and_every_node_is_complete():
    nodes = _trace_nodes()

    ids = [node.get("id") for node in nodes]
    assert len(set(ids)) == len(ids), "node ids are unique"
    for node in nodes:
        assert isinstance(node.get("id"), str) and node["id"], node
        assert isinstance(node.get("requirement"), str) and node["requirement"], node["id"]
        for key in TRACE_KEYS:
            paths = node.get(key)
            assert isinstance(paths, list) and paths, f"{node['id']}: `{key}` lists no path"
            assert all(isinstance(path, str) for path in paths), f"{node['id']}: {key}"


def test_every_path_in_the_trace_file_exists():
    problems = [
        f"{node['id']}.{key}: {problem}"
        for node in _trace_nodes()
        for key in TRACE_KEYS
        for path in node[key]
        for problem in problems_with_repo_path(path)
    ]

    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_it_should():
    document = REPO_ROOT / "docs/leaderboards/README.md"

    assert list(problems_with_repo_path("apps/no_such_module.py"))
    assert list(problems_with_repo_path("apps/tournaments/tests/test_ranking.py::test_nothing"))
    assert not list(
        problems_with_repo_path("apps/tournaments/tests/test_ranking.py::test_empty_board")
    )
    assert list(problems_with_link(document, "api_readme.md#no-such-heading"))
    assert list(problems_with_link(document, "../../../outside.md"))
    assert not list(problems_with_link(document, "api_readme.md#rate-limits"))
    assert heading_anchor("`GET /api/ping/`") == "get-apiping"
