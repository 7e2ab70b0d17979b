#!/usr/bin/env bash
# Serve the production stack on this machine: gunicorn + PostgreSQL + Redis, on loopback.
#
#   scripts/serve_prod.sh                      # http://127.0.0.1:8000, database deltacrown_prod_local
#   GUNICORN_BIND=127.0.0.1:8123 REDIS_URL=redis://127.0.0.1:6379/13 scripts/serve_prod.sh
#
# What it does, in order (every step says what it did on stderr):
# 1. PostgreSQL and Redis must answer at the host and port of DATABASE_URL and REDIS_URL. When the
#    machine's own PostgreSQL cluster (127.0.0.1:5432) or a loopback Redis does not answer, it is
#    started (`pg_ctlcluster ... start`; `redis-server --daemonize yes --save "" --appendonly no`).
#    Anything else that does not answer is an error: this script never starts a remote service.
# 2. The database of DATABASE_URL is created when missing (default: postgres://postgres@127.0.0.1:
#    5432/deltacrown_prod_local, a database of its own so no test or benchmark data mixes in).
# 3. DJANGO_ENV=production with a real secret key: DJANGO_SECRET_KEY from the environment, or,
#    for local runs only, one generated once into `.secret_key_local` (mode 600, never committed)
#    and reused, so sessions and signed values survive a restart. A deployment always passes
#    DJANGO_SECRET_KEY from its secret store; the file is a convenience of this machine.
# 4. migrate, collectstatic, then PROMETHEUS_MULTIPROC_DIR (default: a folder per bind address
#    under /tmp, so two instances on one machine never sum each other's counters) is set and
#    emptied, and gunicorn is exec'd with deltacrown/gunicorn.conf.py: its pid is this script's.
#
# Environment: DATABASE_URL, REDIS_URL (default redis://127.0.0.1:6379/12), DJANGO_SECRET_KEY,
# DJANGO_ALLOWED_HOSTS (default 127.0.0.1,localhost), GUNICORN_BIND (default 127.0.0.1:8000),
# GUNICORN_WORKERS (default 2), PROMETHEUS_MULTIPROC_DIR, and every variable of .env.example
# (rate limits, flag overrides, ...), passed through unchanged. SERVE_PROD_SKIP_SETUP=1 skips
# steps 2 and 4's migrate/collectstatic (a second instance on a database already prepared).
#
# TLS is not terminated here: in production it ends at the load balancer, which sets
# X-Forwarded-Proto (trusted by the settings in production). See docs/performance.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
GUNICORN="${GUNICORN:-$ROOT/.venv/bin/gunicorn}"
[ -x "$PYTHON" ] || { echo "serve_prod: $PYTHON not found (make install first)" >&2; exit 1; }

say() { printf 'serve_prod: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/deltacrown_prod_local}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/12}"
export DJANGO_ENV=production
export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}"
export GUNICORN_BIND="${GUNICORN_BIND:-127.0.0.1:8000}"
export PYTHONUNBUFFERED=1

# --- host and port of each URL (the Python the service runs parses them the same way) --------
read -r PG_HOST PG_PORT PG_NAME < <("$PYTHON" - <<'EOF'
import os
from urllib.parse import urlsplit
url = urlsplit(os.environ["DATABASE_URL"])
if url.scheme not in ("postgres", "postgresql", "pgsql"):
    raise SystemExit(f"DATABASE_URL must be a postgres:// URL for the production stack, got {url.scheme!r}")
print(url.hostname or "127.0.0.1", url.port or 5432, (url.path or "/").lstrip("/") or "postgres")
EOF
)
read -r REDIS_HOST REDIS_PORT < <("$PYTHON" - <<'EOF'
import os
from urllib.parse import urlsplit
url = urlsplit(os.environ["REDIS_URL"])
print(url.hostname or "127.0.0.1", url.port or 6379)
EOF
)

is_loopback() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }

postgres_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }
redis_answers() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

wait_until() {
    local name="$1" check="$2" tries=0
    until "$check"; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || die "$name did not answer within 30 s"
        sleep 0.5
    done
}

# --- 1. PostgreSQL and Redis ---------------------------------------------------------------------
if postgres_answers; then
    say "PostgreSQL answers at $PG_HOST:$PG_PORT"
elif is_loopback "$PG_HOST" && [ "$PG_PORT" = "5432" ]; then
    cluster_version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    say "PostgreSQL not answering: starting cluster $cluster_version/main"
    pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start
    wait_until PostgreSQL postgres_answers
else
    die "PostgreSQL at $PG_HOST:$PG_PORT does not answer (only the local cluster on 5432 is started here)"
fi

if redis_answers; then
    say "Redis answers at $REDIS_HOST:$REDIS_PORT"
elif is_loopback "$REDIS_HOST"; then
    say "Redis not answering: starting redis-server on port $REDIS_PORT"
    redis-server --daemonize yes --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    wait_until Redis redis_answers
else
    die "Redis at $REDIS_HOST:$REDIS_PORT does not answer (only a loopback Redis is started here)"
fi

# --- 2. The database -----------------------------------------------------------------------------
if [ "${SERVE_PROD_SKIP_SETUP:-}" != "1" ]; then
    "$PYTHON" - <<'EOF'
import os
import sys

import dj_database_url
import psycopg
from psycopg import sql

config = dj_database_url.parse(os.environ["DATABASE_URL"])
name = config["NAME"]
with psycopg.connect(
    dbname="postgres",
    host=config.get("HOST") or None,
    port=config.get("PORT") or None,
    user=config.get("USER") or None,
    password=config.get("PASSWORD") or None,
    autocommit=True,
    connect_timeout=5,
) as admin:
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if exists:
        print(f"serve_prod: database {name} exists", file=sys.stderr)
    else:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"serve_prod: database {name} created", file=sys.stderr)
EOF
fi

# --- 3. The secret key ---------------------------------------------------------------------------
if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
    SECRET_FILE="$ROOT/.secret_key_local"
    if [ ! -s "$SECRET_FILE" ]; then
        (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$SECRET_FILE")
        say "generated a local secret key into $SECRET_FILE (local runs only; never commit it)"
    fi
    DJANGO_SECRET_KEY="$(cat "$SECRET_FILE")"
    export DJANGO_SECRET_KEY
    say "DJANGO_SECRET_KEY read from $SECRET_FILE"
else
    say "DJANGO_SECRET_KEY taken from the environment"
fi

# --- 4. Migrate, static files, metrics folder, gunicorn -----------------------------------------
if [ "${SERVE_PROD_SKIP_SETUP:-}" != "1" ]; then
    # Without the metrics folder: these one-off processes must not leave metric files behind
    # (nor fail on a folder that does not exist yet).
    say "migrating $PG_NAME"
    env -u PROMETHEUS_MULTIPROC_DIR "$PYTHON" manage.py migrate --noinput >&2
    say "collecting static files"
    env -u PROMETHEUS_MULTIPROC_DIR "$PYTHON" manage.py collectstatic --noinput >&2
fi

bind_slug="$(printf '%s' "$GUNICORN_BIND" | tr -c 'A-Za-z0-9' '_')"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/deltacrown-prometheus-$bind_slug}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -type f -delete
say "PROMETHEUS_MULTIPROC_DIR=$PROMETHEUS_MULTIPROC_DIR (emptied)"

say "exec gunicorn on $GUNICORN_BIND (${GUNICORN_WORKERS:-2} workers, DJANGO_ENV=production, database $PG_NAME, Redis $REDIS_HOST:$REDIS_PORT)"
exec "$GUNICORN" --config deltacrown/gunicorn.conf.py deltacrown.wsgi:application
