"""``manage.py vulndb_import PATH``: import OSV vulnerability data, offline."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from repositories.scanning.osv import SUPPORTED_ECOSYSTEMS, ImportCounts, VulnDbImportError, vulndb_import


class Command(BaseCommand):
    help = (
        "Import OSV vulnerability records from one of the OSV project's per-ecosystem zip archives "
        "(e.g. Debian.zip, PyPI.zip from https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip, "
        "downloaded beforehand) or from a folder searched recursively for *.json records. Offline, streamed and "
        "incremental: records whose 'modified' time did not change are skipped, withdrawn records are removed, "
        "malformed records are reported and skipped. Ecosystems imported: " + ", ".join(SUPPORTED_ECOSYSTEMS) + ". "
        "Exit status 1 when the path cannot be read or the archive breaks off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="OSV zip archive(s) or folder(s) of OSV JSON files.")
        parser.add_argument("--json", action="store_true", help="Print one JSON summary per path (a list) instead of text.")
        parser.add_argument("--force", action="store_true", help="Re-write every record even if its 'modified' time is unchanged.")
        parser.add_argument("--dry-run", action="store_true", help="Read and validate, count what would change, write nothing.")
        parser.add_argument("--progress-every", type=int, default=5000, metavar="N",
                            help="Print a progress line every N records (default 5000; text output only).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["progress_every"] < 1:
            raise CommandError("--progress-every must be at least 1")
        as_json = options["json"]
        summaries = []
        failed = False

        def progress(counts: ImportCounts) -> None:
            # records are written in batches: the figures cover the records processed so far
            done = counts.added + counts.updated + counts.unchanged + counts.withdrawn + counts.skipped + counts.malformed
            self.stdout.write(f"  {counts.records:,} records read, {done:,} processed: {counts.added:,} added, {counts.updated:,} updated, "
                              f"{counts.unchanged:,} unchanged, {counts.malformed:,} malformed")

        for path in options["paths"]:
            if not as_json:
                self.stdout.write(f"Importing {path}{' (dry run)' if options['dry_run'] else ''}")
            try:
                result = vulndb_import(path=path, force=options["force"], dry_run=options["dry_run"],
                                       progress=None if as_json else progress, progress_every=options["progress_every"])
            except VulnDbImportError as exc:
                if as_json:
                    summaries.append({"source": path, "status": "failed", "error": exc.message})
                else:
                    self.stderr.write(f"error: {exc.message}")
                failed = True
                continue
            failed = failed or result.status != "succeeded"
            if as_json:
                summaries.append(result.as_dict())
                continue
            c = result.counts
            verb = "would change" if result.dry_run else "changed"
            self.stdout.write(
                f"{result.status.capitalize()}: {c.records:,} records read; {c.added:,} added, {c.updated:,} updated, "
                f"{c.unchanged:,} unchanged, {c.withdrawn:,} withdrawn, {c.skipped:,} of other ecosystems, "
                f"{c.malformed:,} malformed ({c.changed:,} {verb})"
            )
            for error in result.errors[:20]:
                self.stderr.write(f"  malformed: {error['file']}: {error['error']}")
            if len(result.errors) > 20 or c.malformed > len(result.errors):
                self.stderr.write(f"  ... {c.malformed - min(20, len(result.errors)):,} more malformed record(s) (see --json or the admin)")
        if as_json:
            self.stdout.write(json.dumps(summaries, indent=2))
        if failed:
            raise CommandError("the import failed", returncode=1)
