"""Settings for the DeltaCrown leaderboards service, read from the environment (12-factor).

Every knob has an environment variable, a typed default and a line in `.env.example`.
With no variable set the service runs on SQLite with an embedded Redis (one process only).
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_DEVELOPMENT_SECRET_KEY = "dev-insecure-deltacrown-key-never-use-in-production"  # noqa: S105


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from error
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_float(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from error
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development").strip().lower() or "development"
IS_PRODUCTION = DJANGO_ENV == "production"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_ENV=production")
    SECRET_KEY = _DEVELOPMENT_SECRET_KEY
elif IS_PRODUCTION and SECRET_KEY == _DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must not be the development key in production")

DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "corsheaders",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.common",
    "apps.tournaments",
]

MIDDLEWARE = [
    # First: the request id and log context cover everything below, including other middleware.
    "apps.common.middleware.RequestContextMiddleware",
    # Right after: request metrics of the API endpoints, timed around the rest of the stack.
    "apps.common.middleware.RequestMetricsMiddleware",
    # Before anything that answers: a preflight from an allowed origin is answered here, and
    # every /api/ response (errors included) gets the CORS headers its origin is due.
    "apps.common.api.cors.AllowedOriginsCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and Swagger UI's files under gunicorn too (no CDN, no extra server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # CommonMiddleware without the trailing-slash redirect under /api/ (a JSON 404 instead).
    "apps.common.middleware.ApiCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out admin login into its refusal (apps.common.admin_login).
    "axes.middleware.AxesMiddleware",
]

# A form POST without its CSRF token (the admin) answers in the error envelope, not an HTML page.
CSRF_FAILURE_VIEW = "apps.common.api.errors.csrf_failure"

# The admin login goes through django-axes first: it refuses a locked-out account or address
# before the password is checked (AXES_* below; apps.common.admin_login logs the refusals).
AUTHENTICATION_BACKENDS = [
    "apps.common.admin_login.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "deltacrown.urls"
WSGI_APPLICATION = "deltacrown.wsgi.application"
AUTH_USER_MODEL = "common.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
# Persistent connections with health checks: a new connection per request would cost most of a
# cheap request's time. A short connect timeout makes "PostgreSQL down" a fast 503 rather than a
# hung worker.
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database.setdefault("OPTIONS", {})["connect_timeout"] = _env_int(
            "DATABASE_CONNECT_TIMEOUT_SECONDS", 2, minimum=1
        )
else:
    _database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis ----------------------------------------------------------------------------------------
# One redis-py client per process (apps/common/redis_gateway.py) for the board cache, rate limits,
# locks, the flag cache and the cache totals. REDIS_URL unset: an embedded in-process Redis
# (fakeredis with Lua), one process only. Django's cache framework is not used by the service.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
# Short socket timeouts: redis-py's default of 5 s would turn a hanging Redis into 5 s requests.
# Every Redis call here is one small command or script answered in well under a millisecond.
# With a frozen Redis the breaker's trial call every 5 s waits the read timeout: the drill in
# docs/performance.md measured p95 275 ms at 0.5 s and 12 ms at 0.1 s. The default read timeout,
# 0.2 s, keeps a margin for a busy two-core host (not measured in the drill).
REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS = _env_float(
    "REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS", 0.1, minimum=0.01
)
REDIS_SOCKET_TIMEOUT_SECONDS = _env_float("REDIS_SOCKET_TIMEOUT_SECONDS", 0.2, minimum=0.01)

LEADERBOARD_CACHE_TTL_SECONDS = _env_int("LEADERBOARD_CACHE_TTL_SECONDS", 300, minimum=1)
# A serving process applies result changes whose invalidation did not reach Redis at commit time
# (apps/tournaments/services/board_cache/invalidation.py): it looks every DRAIN seconds for
# changes committed more than GRACE seconds ago. Contract section 6 allows 5 s in all.
BOARD_INVALIDATION_DRAIN_SECONDS = _env_float("BOARD_INVALIDATION_DRAIN_SECONDS", 0.5, minimum=0.1)
BOARD_INVALIDATION_GRACE_SECONDS = _env_float("BOARD_INVALIDATION_GRACE_SECONDS", 0.5, minimum=0.0)
METRICS_BEARER_TOKEN = os.environ.get("METRICS_BEARER_TOKEN", "")

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous caller gets 401 with WWW-Authenticate: Token, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, bounded in size and depth (API_MAX_BODY_BYTES, API_MAX_JSON_DEPTH below).
    "DEFAULT_PARSER_CLASSES": ["apps.common.api.parsers.BoundedJsonParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "apps.common.api.errors.exception_handler",
    # The API speaks JSON only: `?format=` is an ordinary (ignored) query parameter, not a
    # renderer switch that would 404 before authentication; `Accept` cannot turn a request
    # into a 406; OPTIONS is not an allowed method (405) rather than a metadata dump.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.common.api.negotiation.JsonOnlyNegotiation",
    "DEFAULT_METADATA_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DeltaCrown Leaderboards API",
    "DESCRIPTION": "Tournament, season and all-time standings; staff debug and operations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the tie-break step names, used by `decided_by` and by the trace's `step`.
    "ENUM_NAME_OVERRIDES": {"TiebreakStepEnum": "apps.tournaments.api.schemas.CRITERION_NAMES"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.common.api.schema.require_request_bodies",
        "apps.common.api.schema.close_invalidation_bodies",
    ],
}

# --- Request bodies (contract section 4) ---------------------------------------------------------
# The API's JSON parser (apps.common.api.parsers) refuses a body over this size (413) or nested
# deeper than this (400); Django's own limit for form bodies (the admin) is the same size.
API_MAX_BODY_BYTES = 64 * 1024
API_MAX_JSON_DEPTH = 32
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# --- Browser clients on other origins (django-cors-headers) -------------------------------------
# Only /api/; only the listed origins (none by default); no cookies across origins (the API is
# called with a token). A preflight from any other origin is not answered as one (a 405).
CORS_ALLOWED_ORIGINS = _env_list("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ("GET", "HEAD", "POST")
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "if-none-match",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = (
    "etag",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-request-id",
)

# --- The admin login's throttle (django-axes) ---------------------------------------------------
# 5 failures for one account or from one client address within 15 minutes lock it for 15
# minutes, counted from the failure that locked it (refused attempts do not extend it). The
# client address is apps.common.admin_login.client_address (TRUSTED_PROXY_COUNT). Axes' own log
# lines name the account and address, so its logger is kept to errors; apps.common.admin_login
# logs each failure and refusal with hashes instead.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "apps.common.admin_login.lockout_response"
AXES_CLIENT_IP_CALLABLE = "apps.common.admin_login.client_address"
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)

# --- Internationalisation and time --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files are found in the apps (no collectstatic needed to serve them); collectstatic still
# gathers them into STATIC_ROOT for images and for a CDN if one is ever put in front.
WHITENOISE_USE_FINDERS = True
# With the finders on, a missing STATIC_ROOT (no collectstatic yet) loses nothing; WhiteNoise's
# warning about it would only be noise on every start.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
MEDIA_ROOT = BASE_DIR / "media"

# --- Security (production) ----------------------------------------------------------------------
# TLS terminates at the load balancer; the headers it sets are trusted only in production.
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Logging ------------------------------------------------------------------------------------
# One JSON object per line on stdout, for structlog events and standard-library records alike
# (deltacrown/logs.py). configure_logging applies this dict and configures
# structlog at the root level. django.request only from ERROR (every request has its own
# request_finished line); runserver's access lines (query strings) and gunicorn's access log
# (client addresses) are silenced; SQL is never logged with its parameters.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )
LOGGING_CONFIG = "deltacrown.logs.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "deltacrown.logs.JsonFormatter"}},
    "handlers": {"stdout": {"()": "deltacrown.logs.StdoutHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": LOG_LEVEL, "propagate": True},
        "django.request": {"level": "ERROR", "propagate": True},
        "django.server": {"handlers": [], "propagate": False},
        "django.db.backends": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        "gunicorn.error": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
        # django-axes names the account and the address in its warnings (see AXES_* above).
        "axes": {"level": "ERROR"},
    },
}

# --- Rate limits (requests per user per rolling hour, per endpoint; read per request) -----------
LEADERBOARD_RATE_LIMITS = {
    "public": _env_int("RATE_LIMIT_PUBLIC_PER_HOUR", 100, minimum=1),
    "admin": _env_int("RATE_LIMIT_ADMIN_PER_HOUR", 100, minimum=1),
    "invalidate": _env_int("RATE_LIMIT_INVALIDATE_PER_HOUR", 10, minimum=1),
}
