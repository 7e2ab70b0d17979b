"""Deployment files checked without the tools that would run them (no Docker engine here).

docker-compose.yml against the Compose specification (check-jsonschema's vendored schema, no
network), .env.example against the variables the code reads, .ci/run's syntax and mode, and
deploy/prometheus.yml with promtool when it is installed (.ci/run unpacks it when it can).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from apps.common.models import FlagName

ROOT = Path(settings.BASE_DIR)
CHECK_JSONSCHEMA = [sys.executable, "-m", "check_jsonschema"]
# Read by a library, not by our code.
READ_BY_LIBRARIES = {"PROMETHEUS_MULTIPROC_DIR"}
ENV_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|_env_\w+|_positive_int)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


def _validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _variables_read_by(path: Path) -> set[str]:
    try:
        text = path.read_text()
    except FileNotFoundError:  # a file removed while the tree is walked (parallel work)
        return set()
    return {first or second for first, second in ENV_READ.findall(text)}


def _env_example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_compose_file_matches_the_compose_specification() -> None:
    result = _validate_compose(ROOT / "docker-compose.yml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_compose_validation_rejects_a_broken_file(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is refused."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  app:\n    image: x\n    helthcheck:\n      test: [CMD, true]\n")

    result = _validate_compose(broken)

    assert result.returncode != 0
    assert "helthcheck" in result.stdout + result.stderr


def test_compose_runs_the_production_shape() -> None:
    services = _compose()["services"]

    assert {"app", "postgres", "redis", "prometheus"} <= services.keys()
    app = services["app"]
    environment = app["environment"]
    assert environment["DJANGO_ENV"] == "production"
    assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/prometheus-multiproc"  # noqa: S108
    # Only gunicorn creates that folder: another command with the variable set would crash on
    # its first metric.
    assert "PROMETHEUS_MULTIPROC_DIR" not in services["migrate"]["environment"]
    command = " ".join(app["command"])
    assert "gunicorn deltacrown.wsgi:application" in command
    assert "--workers 2" in command
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert (
        "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in (services["prometheus"]["volumes"])
    )


def test_prometheus_scrapes_the_app_metrics() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    app_job = jobs["deltacrown-leaderboards"]
    assert app_job["metrics_path"] == "/metrics"
    assert app_job["static_configs"][0]["targets"] == ["app:8000"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_prometheus_config_passes_promtool() -> None:
    result = subprocess.run(
        ["promtool", "check", "config", str(ROOT / "deploy" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_the_gunicorn_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    assert "gunicorn deltacrown.wsgi:application" in dockerfile
    assert "ENV PROMETHEUS_MULTIPROC_DIR" not in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", ".env", "db.sqlite3"} <= set(ignored)


def test_env_example_lists_every_variable_the_settings_read() -> None:
    read_by_settings = _variables_read_by(ROOT / "deltacrown" / "settings.py")
    flags = {name.value for name in FlagName}

    missing = (read_by_settings | flags) - _env_example_variables()

    assert read_by_settings, "no environment reads found: the pattern no longer matches settings"
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_lists_only_variables_something_reads() -> None:
    sources = [ROOT / "conftest.py", ROOT / "manage.py"] + [
        path
        for folder in ("apps", "deltacrown")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    ]
    read_anywhere = set().union(*(_variables_read_by(path) for path in sources))
    flags = {name.value for name in FlagName}

    unknown = _env_example_variables() - read_anywhere - flags - READ_BY_LIBRARIES

    assert not unknown, f".env.example documents variables nothing reads: {sorted(unknown)}"


def test_ci_script_is_executable_bash_with_valid_syntax() -> None:
    script = ROOT / ".ci" / "run"
    mode = script.stat().st_mode

    assert mode & stat.S_IXUSR, ".ci/run must be executable (git update-index --chmod=+x)"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
