"""Logging: one JSON object per line on stdout, from structlog and from the standard library.

Every line carries `timestamp` (ISO 8601, UTC, `Z`), `level`, `event` and `logger`, then what the
request context bound with `structlog.contextvars` (`request_id`, `method`, `path`, `user_id`; see
apps/common/middleware.py), then the event's own fields. Exceptions become one `exception` field.

Two paths lead to the same writer:
- structlog loggers (`structlog.get_logger(__name__)`, the service's own events) are filtered by
  level and rendered by structlog itself, without a `logging.LogRecord`: the cheap path, taken by
  every request's `request_finished` line.
- standard-library loggers (Django, gunicorn's error log, libraries) go through `JsonFormatter`,
  which runs the same processors, and `StdoutHandler`.

Django applies the settings' `LOGGING` through `configure_logging` (settings.LOGGING_CONFIG),
which also configures structlog at the root logger's level; gunicorn's master applies
`gunicorn_logging_config` (deltacrown/gunicorn.conf.py). This module imports no Django code, so
gunicorn's master can load it before any application code.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import threading
import time
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Keys written first, in this order, so a human reading a line finds them at once.
_LEADING_KEYS = ("level", "event", "logger", "request_id")

# One lock for both paths: a line is written and flushed whole, so lines from threads never
# interleave and each one reaches a pipe as a single write (they are far below PIPE_BUF).
_write_lock = threading.Lock()


def write_line(line: str) -> None:
    """Write one rendered line to the current `sys.stdout` (looked up per call: tests capture
    it, and gunicorn may replace it) and flush it."""
    with _write_lock:
        stream = sys.stdout
        stream.write(line + "\n")
        stream.flush()


_second_cache: tuple[int, str] = (-1, "")


def _utc_timestamp() -> str:
    """ISO 8601 in UTC with microseconds and `Z`; the date and time of the current second are
    formatted once per second (this runs for every line, the request's own included)."""
    global _second_cache
    now = time.time()
    second = int(now)
    cached_second, formatted = _second_cache
    if second != cached_second:
        formatted = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_cache = (second, formatted)
    return f"{formatted}.{int((now - second) * 1_000_000):06d}Z"


def _stamp_and_order(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> dict:
    """Add `timestamp`; write the leading keys first, in their order, for a human reader."""
    ordered: dict[str, Any] = {"timestamp": _utc_timestamp()}
    for key in _LEADING_KEYS:
        if key in event_dict:
            ordered[key] = event_dict.pop(key)
    ordered.update(event_dict)
    return ordered


def _shared_processors() -> list[Processor]:
    """What both paths add before rendering: request context, level, logger name."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
    ]


# One encoder for every line: json.dumps with a `default` builds a new encoder per call.
# Values JSON cannot represent are written as their repr() rather than failing the log call.
_ENCODER = json.JSONEncoder(default=repr)


def _serialize(event_dict: dict[str, Any], **_: Any) -> str:
    return _ENCODER.encode(event_dict)


def _rendering_processors() -> list[Processor]:
    return [
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        _stamp_and_order,
        structlog.processors.JSONRenderer(serializer=_serialize),
    ]


class StdoutLogger:
    """structlog's output logger: hands the rendered JSON line to `write_line`. `name` is the
    name given to `structlog.get_logger(name)`, read by `add_logger_name`."""

    __slots__ = ("name",)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or "root"

    def msg(self, message: str) -> None:
        write_line(message)

    log = debug = info = warn = warning = msg
    error = err = critical = fatal = exception = failure = msg


def _stdout_logger_factory(*args: Any) -> StdoutLogger:
    return StdoutLogger(args[0] if args and isinstance(args[0], str) else None)


class StdoutHandler(logging.Handler):
    """A logging handler that writes each formatted record as one line via `write_line`."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_line(self.format(record))
        except Exception:  # a broken record must not break the request that logged it
            self.handleError(record)


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """Renders standard-library records like structlog events (same keys, same context).

    Record extras are not copied: `django.request` attaches the whole request object there.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("foreign_pre_chain", _shared_processors())
        kwargs.setdefault(
            "processors",
            [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_rendering_processors()],
        )
        super().__init__(*args, **kwargs)


def validate_level(level: str) -> str:
    """The upper-cased level name; ValueError for anything `logging` does not know."""
    name = str(level).strip().upper()
    if name not in LOG_LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return name


def configure_structlog(level: str) -> None:
    """structlog events below `level` cost one method call; the others are rendered to stdout."""
    structlog.configure(
        processors=[*_shared_processors(), *_rendering_processors()],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[validate_level(level)]
        ),
        context_class=dict,
        logger_factory=_stdout_logger_factory,
        cache_logger_on_first_use=False,
    )


def configure_logging(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG callable: apply `config` (a dictConfig dict), then structlog at
    the root logger's level, so both paths filter alike."""
    logging.config.dictConfig(config)
    configure_structlog(config.get("root", {}).get("level", "INFO"))


def gunicorn_logging_config(level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict` for the master process: its error log as JSON on stdout, its
    access log silenced (the application logs every request, without client addresses).
    Workers apply the settings' LOGGING, which says the same, once the application loads."""
    level = validate_level(level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"()": StdoutHandler, "formatter": "json"}},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "gunicorn.error": {"handlers": ["stdout"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
    }
