"""Every curl example in the documentation answers what the documentation shows.

Each document's examples run in order, as one session, against the Django test client on the data
set the bodies were produced from (`docs_data.build_docs_world`): once with the board cache in the
real Redis, once in the in-process store. A response must have the documented status, the same
keys at every depth, the same value types and list lengths, and the same values, except the ones
that depend on the moment of the request (VOLATILE_KEYS) and, without Redis, the ones that report
on Redis itself (REDIS_REPORT_KEYS).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import resolve

from apps.common import flags
from apps.common.models import FlagName
from apps.tournaments.tests.docs_data import (
    REPO_ROOT,
    build_docs_world,
    parse_curl,
    parse_examples,
)

EXAMPLES_DOCUMENT = "docs/integration/leaderboards_examples.md"
DOCUMENTS = (
    EXAMPLES_DOCUMENT,
    "docs/leaderboards/api_readme.md",
    "docs/admin/leaderboards.md",
    "docs/admin/tournament_ops.md",
)

# Route names of the nine endpoints of contract section 4 and the five name-resolution ones.
CONTRACT_ROUTES = frozenset(
    {
        "tournament_leaderboard",
        "participant_history",
        "scoped_leaderboard",
        "profile_name",
        "team_name",
        "profile_names",
        "team_names",
        "tournament_metadata",
        "admin_inspect",
        "admin_cache_status",
        "admin_cache_invalidate",
        "admin_payments",
        "admin_matches",
        "admin_disputes",
    }
)

# Values that depend on when the request ran: only their type is compared.
VOLATILE_KEYS = frozenset(
    {
        "computed_at",
        "checked_at",
        "invalidated_at",
        "last_refresh",
        "ttl_seconds",
        "expired_count",
        "0_60_seconds",
        "60_180_seconds",
        "180_300_seconds",
        "over_300_seconds",
    }
)
# Values describing the Redis server itself (documented from a server with Redis): the embedded
# Redis has no INFO, so there `expired_count` is null (docs/decisions.md, "Cache").
REDIS_REPORT_KEYS = frozenset({"redis_connected", "expired_count"})


def _kind(value: Any) -> str:
    return type(value).__name__


def differences(
    documented: Any, actual: Any, path: str = "$", *, key: str = "", with_redis: bool = True
) -> Iterator[str]:
    """Every place where `actual` departs from `documented` (see the module docstring)."""
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            yield f"{path}: documented an object, got {_kind(actual)}"
            return
        for missing in documented.keys() - actual.keys():
            yield f"{path}.{missing}: documented, missing from the response"
        for extra in actual.keys() - documented.keys():
            yield f"{path}.{extra}: in the response, not documented"
        for name in documented.keys() & actual.keys():
            yield from differences(
                documented[name], actual[name], f"{path}.{name}", key=name, with_redis=with_redis
            )
        return
    if isinstance(documented, list):
        if not isinstance(actual, list):
            yield f"{path}: documented a list, got {_kind(actual)}"
            return
        if len(documented) != len(actual):
            yield f"{path}: documented {len(documented)} items, got {len(actual)}"
            return
        for index, (expected, found) in enumerate(zip(documented, actual, strict=True)):
            yield from differences(
                expected, found, f"{path}[{index}]", key=key, with_redis=with_redis
            )
        return
    if not with_redis and key in REDIS_REPORT_KEYS:
        if actual is not None and type(actual) is not type(documented):
            yield f"{path}: documented a {_kind(documented)}, got {_kind(actual)}"
        return
    if key in VOLATILE_KEYS:
        if type(actual) is not type(documented):
            yield f"{path}: documented a {_kind(documented)}, got {_kind(actual)}"
        return
    if type(actual) is not type(documented) or actual != documented:
        yield f"{path}: documented {documented!r}, got {actual!r}"


def _examples(document: str):
    return parse_examples((REPO_ROOT / document).read_text())


def _request(client: Client, command: str, tokens: dict[str, str]):
    request = parse_curl(command, tokens)
    headers = {"Host": request.host}
    content_type = "application/octet-stream"
    for name, value in request.headers:
        if name.lower() == "content-type":
            content_type = value
        else:
            headers[name] = value
    return client.generic(
        request.method,
        request.path_with_query,
        data=request.body or "",
        content_type=content_type,
        headers=headers,
    )


@pytest.fixture(params=["redis", "embedded"])
def cache_backend(request) -> str:
    """The board cache, rate limits and flag cache in a real Redis, then in the embedded one."""
    request.getfixturevalue("use_redis" if request.param == "redis" else "embedded_redis")
    return request.param


@pytest.mark.django_db
@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_example_answers_as_documented(document, cache_backend, monkeypatch):
    for name in FlagName:  # an emergency override in the environment would change the bodies
        monkeypatch.delenv(name.value, raising=False)
    world = build_docs_world()
    flags.forget_cached_rows()
    tokens = {"TOKEN": world.player_token, "STAFF_TOKEN": world.staff_token}
    client = Client()
    examples = _examples(document)
    assert examples, f"{document} has no curl example"

    problems: list[str] = []
    for example in examples:  # in order: later answers depend on what earlier requests cached
        response = _request(client, example.command, tokens)

        where = f"{document}:{example.line}"
        if response.status_code != example.expected_status:
            problems.append(
                f"{where}: documented status {example.expected_status}, got "
                f"{response.status_code}: {response.content[:300]!r}"
            )
            continue
        problems += [
            f"{where}: {difference}"
            for difference in differences(
                example.body, response.json(), with_redis=cache_backend == "redis"
            )
        ]

    assert not problems, "responses depart from the documentation:\n" + "\n".join(problems)


def test_the_examples_cover_every_endpoint_of_the_contract():
    routes = {
        resolve(parse_curl(example.command).path_with_query.split("?")[0]).url_name
        for example in _examples(EXAMPLES_DOCUMENT)
    }

    assert routes >= CONTRACT_ROUTES, f"no example for {sorted(CONTRACT_ROUTES - routes)}"
    assert all(example.expected_status == 200 for example in _examples(EXAMPLES_DOCUMENT)), (
        "the integration examples show successful requests only"
    )


def test_a_drifted_body_is_reported():
    documented = {
        "ruleset": "deltacrown-5step",
        "computed_at": "2031-06-01T10:00:00Z",
        "results": [{"rank": 1, "decided_by": None}, {"rank": 2, "decided_by": "points"}],
    }
    drifted = {
        "ruleset": "head-to-head",
        "computed_at": "2031-06-02T11:00:00Z",
        "results": [{"rank": 1, "decided_by": None}, {"rank": "2", "tie_step": "points"}],
    }

    found = sorted(differences(documented, drifted))

    assert found == [
        "$.results[1].decided_by: documented, missing from the response",
        "$.results[1].rank: documented 2, got '2'",
        "$.results[1].tie_step: in the response, not documented",
        "$.ruleset: documented 'deltacrown-5step', got 'head-to-head'",
    ]


def test_redis_report_keys_may_differ_only_without_redis():
    documented = {"redis_connected": True, "ttl_distribution": {"expired_count": 76}}
    embedded = {"redis_connected": False, "ttl_distribution": {"expired_count": None}}

    assert list(differences(documented, embedded, with_redis=False)) == []
    assert sorted(differences(documented, embedded, with_redis=True)) == [
        "$.redis_connected: documented True, got False",
        "$.ttl_distribution.expired_count: documented a int, got NoneType",
    ]


def test_the_curl_parser_reads_method_headers_and_body_and_refuses_the_unknown():
    command = """# 400: two keys
curl -s -X POST "http://127.0.0.1:8000/api/admin/leaderboards/cache/invalidate/" \\
  -H "Authorization: Token $STAFF_TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{"tournament_id": 7, "scope": "all"}'
"""
    request = parse_curl(command, {"STAFF_TOKEN": "abc"})

    assert (request.method, request.path_with_query, request.host) == (
        "POST",
        "/api/admin/leaderboards/cache/invalidate/",
        "127.0.0.1:8000",
    )
    assert request.headers == (
        ("Authorization", "Token abc"),
        ("Content-Type", "application/json"),
    )
    assert json.loads(request.body or "") == {"tournament_id": 7, "scope": "all"}
    with pytest.raises(ValueError, match="not understood"):
        parse_curl('curl --compressed "http://127.0.0.1:8000/api/ping/"')


def test_a_curl_example_without_its_body_is_refused():
    markdown = '```bash\ncurl -s "http://127.0.0.1:8000/api/ping/"\n```\n\nSome prose.\n'

    with pytest.raises(ValueError, match="json block right after"):
        parse_examples(markdown)


def test_every_documented_example_file_exists():
    for document in DOCUMENTS:
        assert Path(REPO_ROOT / document).is_file(), document
