"""``manage.py fsck``: the registry's consistency checker (database against itself and storage)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import NotFoundError
from common.units import size_text
from repositories.services.fsck import FsckProblem, registry_fsck

#: Unresolved problems listed in the text summary (the JSON report lists all of them).
SHOWN = 50


class Command(BaseCommand):
    help = (
        "Check the registry's consistency: every blob a live manifest references is present in each recorded "
        "storage location with the right size and digest; no live manifest references a missing blob or child "
        "manifest; tag rows are well-formed; cached usage totals match a recomputation; upload sessions have "
        "their state. --repair fixes what is safe (re-copies a placement from a good copy, recreates missing "
        "link rows, recomputes usage, forgets upload sessions whose state is gone) and never deletes "
        "referenced content. Exits non-zero while problems remain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Fix what can be fixed safely.")
        parser.add_argument("--quick", action="store_true", help="Check placements by existence and size only (no digest re-hashing).")
        parser.add_argument("--repository", metavar="NS/NAME", help="Only check this repository (and the blobs it references).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on stdout (progress goes to stderr).")

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["json"]
        interactive = sys.stderr.isatty()
        what = f"repository {options['repository']}" if options["repository"] else "the registry"
        mode = ", ".join(m for m, on in (("repairing", options["repair"]), ("quick", options["quick"])) if on)
        self.stderr.write(f"Checking {what}{f' ({mode})' if mode else ''} ...")
        last_phase = [""]

        def progress(phase: str, done: int, total: int) -> None:
            line = f"  {phase:<10} {done:>9,} / {total:,}"
            if interactive:
                self.stderr.write("\r" + line, ending="\n" if done >= total else "")
            elif done >= total or phase != last_phase[0]:
                self.stderr.write(line)
            last_phase[0] = phase
            self.stderr.flush()

        started = time.monotonic()
        try:
            report = registry_fsck(
                repair=options["repair"], quick=options["quick"], repository=options["repository"], progress=progress
            )
        except NotFoundError as exc:
            raise CommandError(exc.message) from exc
        elapsed = time.monotonic() - started
        if as_json:
            self.stdout.write(json.dumps({**report.as_dict(), "duration_s": round(elapsed, 3)}, indent=2))
        else:
            self._summary(report, elapsed)
        if report.unresolved:
            hint = "" if report.repair else "; run with --repair to fix what can be fixed"
            raise CommandError(f"{len(report.unresolved)} problem(s) remain{hint}")

    def _summary(self, report: Any, elapsed: float) -> None:
        counts = report.counts
        write = self.stdout.write
        write("")
        write(f"  Manifests checked    {counts.get('manifests', 0):>10,}")
        write(f"  Tags checked         {counts.get('tags', 0):>10,}")
        write(f"  Blobs checked        {counts.get('blobs', 0):>10,}   ({counts.get('placements', 0):,} placements, "
              f"{size_text(counts.get('bytes_read', 0))} read{', quick' if report.quick else ''})")
        write(f"  Namespaces (usage)   {counts.get('namespaces', 0):>10,}")
        write(f"  Upload sessions      {counts.get('uploads', 0):>10,}")
        if counts.get("sparse_children"):
            write(f"  Sparse index children (mirrors, not problems) {counts['sparse_children']:,}")
        write(f"  Problems             {len(report.problems):>10,}   in {elapsed:.1f} s")
        for kind, n in report.by_kind().items():
            write(f"    {kind:<32} {n:>6,}")
        if report.repair:
            write(f"  Fixed                {sum(p.resolved for p in report.problems):>10,}")
        for problem in report.unresolved[:SHOWN]:
            write(self.style.WARNING(f"  ! {_describe(problem)}"))
        if len(report.unresolved) > SHOWN:
            write(f"  ... and {len(report.unresolved) - SHOWN} more (use --json for all)")
        if report.clean:
            write(self.style.SUCCESS("\nClean: no problems found." if not report.problems else "\nEvery problem was fixed."))


def _describe(problem: FsckProblem) -> str:
    text = f"{problem.kind}: {problem.subject}"
    if problem.repository and problem.repository not in problem.subject:
        text += f" in {problem.repository}"
    if problem.detail:
        text += f" ({problem.detail})"
    if problem.action:
        text += f" -> {problem.action}: {problem.action_detail}"
    return text
