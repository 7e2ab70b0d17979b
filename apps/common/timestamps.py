"""Timestamps as every response writes them (contract section 1: ISO 8601, UTC, an offset)."""

from __future__ import annotations

import datetime as dt


def iso_utc(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` offset (`2031-06-01T10:00:00Z`), or None."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
