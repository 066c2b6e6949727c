"""``manage.py storage_verify``: check every blob placement (present, size, digest), optionally repair."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import NotFoundError
from common.units import size_text
from repositories.services.storage import PlacementProblem, placements_verify


class Command(BaseCommand):
    help = (
        "Check every recorded blob placement: the object exists in its location, has the blob's size and, "
        "read back in full, its digest. --repair copies a missing or corrupt copy again from a good "
        "location; a copy that cannot be repaired loses its record only when another good copy exists "
        "(the last record of a blob is never removed). Exits non-zero while problems remain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Re-copy missing or corrupt copies from a good location.")
        parser.add_argument("--location", metavar="NAME", help="Only check the placements in this location.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on stdout (progress goes to stderr).")

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["json"]
        interactive = sys.stderr.isatty()
        if not quiet:
            where = f"location {options['location']}" if options["location"] else "every location"
            self.stderr.write(f"Verifying blob placements in {where}{' (repairing)' if options['repair'] else ''} ...")

        def progress(done: int, total: int, problems: list[PlacementProblem]) -> None:
            for problem in problems:
                if interactive:
                    self.stderr.write("")
                self.stderr.write(self.style.WARNING(f"  ! {_describe(problem)}"))
            if quiet and not interactive:
                return
            line = f"  placements {done:>9,} / {total:,}"
            self.stderr.write(("\r" + line) if interactive else line, ending="" if interactive else "\n")
            self.stderr.flush()

        started = time.monotonic()
        try:
            report = placements_verify(location=options["location"], repair=options["repair"], progress=progress)
        except NotFoundError as exc:
            raise CommandError(f"{exc.message}; configured: {', '.join(exc.detail['configured'])}") from exc
        if interactive:
            self.stderr.write("")
        elapsed = time.monotonic() - started
        data = report.as_dict()
        if quiet:
            self.stdout.write(json.dumps({**data, "duration_s": round(elapsed, 3)}, indent=2))
        else:
            self.stdout.write("")
            self.stdout.write(f"  Blobs examined       {report.blobs_examined:>10,}")
            self.stdout.write(f"  Placements checked   {report.placements_checked:>10,}   ({size_text(report.bytes_read)} read in {elapsed:.1f} s)")
            self.stdout.write(f"  Good                 {report.placements_ok:>10,}")
            self.stdout.write(f"  Problems             {len(report.problems):>10,}")
            if report.repair:
                self.stdout.write(f"    repaired           {data['repaired']:>10,}")
                self.stdout.write(f"    record removed     {data['removed']:>10,}")
            for problem in report.unresolved[:50]:
                self.stdout.write(self.style.WARNING(f"  unresolved: {_describe(problem)}"))
            if not report.unresolved:
                self.stdout.write(self.style.SUCCESS("\nEvery placement is good." if not report.problems else "\nEvery problem was repaired."))
        if report.unresolved:
            hint = "" if report.repair else "; run with --repair to fix them"
            raise CommandError(f"{len(report.unresolved)} placement problem(s) remain{hint}")


def _describe(problem: PlacementProblem) -> str:
    text = f"{problem.digest} in {problem.location}: {problem.problem}"
    if problem.detail:
        text += f" ({problem.detail})"
    if problem.action:
        text += f" -> {problem.action}: {problem.action_detail}"
    return text
