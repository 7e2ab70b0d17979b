"""`manage.py import_results FILE`: load a results bundle (IMPORT_FORMAT.md) in one transaction.

Thin: reads the text, hands it to `results_import`, prints the outcome. Every failure (unreadable
file, malformed JSON, any problem in the bundle, an unreachable database) is a CommandError:
a clear message on stderr, exit code 1, no traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from apps.tournaments.services.results_import import (
    BundleSyntaxError,
    ImportReport,
    import_results,
    parse_bundle_json,
)

STDIN = "-"


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CommandError(
            f"{source}: not UTF-8 text (byte {error.start}: {error.reason})"
        ) from error


def read_bundle_text(path: str, stdin: IO[Any] | None = None) -> str:
    """The bundle's text from a file, or from standard input for `-`."""
    if path == STDIN:
        stream = stdin if stdin is not None else sys.stdin
        raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        return _decode(raw, "standard input") if isinstance(raw, bytes) else raw
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from error
    return _decode(raw, path)


def summary_lines(report: ImportReport, source: str) -> list[str]:
    if report.is_dry_run:
        lines = [f"Dry run of {source}: the bundle is valid; nothing was written."]
    else:
        lines = [f"Imported {source}."]
    lines += [
        f"{counts.key}: {counts.created} created, {counts.updated} updated, "
        f"{counts.unchanged} unchanged"
        for counts in report.counts
    ]
    return lines


class Command(BaseCommand):
    help = (
        "Import a results bundle (JSON; FILE or - for standard input): upsert every record by "
        "its id in one transaction. Prints per key the records created, updated and unchanged; "
        "on any problem writes nothing, prints every problem with its place "
        "(key[index].field, indexes from 0) and exits 1."
    )
    # `call_command("import_results", "-", stdin=io.StringIO(...))` feeds standard input.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the bundle; - reads standard input")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="validate (database constraints included) and write nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: str = options["file"]
        source = "standard input" if path == STDIN else path
        text = read_bundle_text(path, options.get("stdin"))
        try:
            bundle = parse_bundle_json(text)
        except BundleSyntaxError as error:
            raise CommandError(f"{source}: {error}") from error
        try:
            report = import_results(bundle, dry_run=options["dry_run"])
        except DatabaseError as error:
            raise CommandError(f"the database failed; nothing was written: {error}") from error
        if not report.is_ok:
            count = len(report.problems)
            noun = "problem" if count == 1 else "problems"
            lines = [f"{source}: {count} {noun}; nothing was written."]
            lines += [str(problem) for problem in report.problems]
            raise CommandError("\n".join(lines))
        self.stdout.write("\n".join(summary_lines(report, source)))
