"""``manage.py bench_seed``: fill a (fresh) registry with many rows for the scale benchmarks."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from accounts.models import Namespace
from accounts.services import namespace_get_or_create
from common.errors import RegistryError
from repositories.models import GcRun
from repositories.services.gc import gc_run
from repositories.services.seed import registry_seed


class Command(BaseCommand):
    help = (
        "Bulk-insert a large registry for benchmarks: blobs (rows only, no bytes), image manifests "
        "referencing them, tags on one repository and many empty repositories for the catalog. Meant for a "
        "fresh, throw-away database (bench/compare.py uses it). With --gc, time one garbage-collection pass afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", default="bench", help="Namespace (user or organization) to seed into; created as an organization when missing (default bench).")
        parser.add_argument("--repository", default="tags", help="Repository in the namespace holding the manifests and tags (default tags).")
        parser.add_argument("--catalog-namespace", default=None, help="Namespace for the catalog repositories (default: --namespace).")
        parser.add_argument("--blobs", type=int, default=100_000, help="Blob rows (default 100000).")
        parser.add_argument("--manifests", type=int, default=10_000, help="Image manifests (default 10000).")
        parser.add_argument("--tags", type=int, default=100_000, help="Tags on the repository (default 100000).")
        parser.add_argument("--repositories", type=int, default=10_000, help="Extra empty repositories for the catalog (default 10000).")
        parser.add_argument("--gc", action="store_true", help="Run one garbage-collection pass afterwards and report its time.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON on stdout (progress goes to stderr).")

    def handle(self, *args: Any, **options: Any) -> None:
        interactive = sys.stderr.isatty()

        def progress(phase: str, done: int, total: int) -> None:
            line = f"  {phase:<13} {done:>9,} / {total:,}"
            if interactive:
                self.stderr.write("\r" + line, ending="\n" if done >= total else "")
            elif done >= total or done % 50_000 == 0:
                self.stderr.write(line)
            self.stderr.flush()

        namespace = Namespace.objects.filter(name=options["namespace"]).first() or namespace_get_or_create(name=options["namespace"])
        catalog = None
        if options["catalog_namespace"]:
            catalog = Namespace.objects.filter(name=options["catalog_namespace"]).first() or namespace_get_or_create(name=options["catalog_namespace"])
        self.stderr.write(f"Seeding {namespace.name}/{options['repository']} ...")
        started = time.monotonic()
        try:
            report = registry_seed(
                namespace=namespace, repository_name=options["repository"], catalog_namespace=catalog,
                blobs=options["blobs"], manifests=options["manifests"], tags=options["tags"], repositories=options["repositories"],
                progress=progress,
            )
        except RegistryError as exc:
            raise CommandError(f"cannot seed: {exc.message}") from None
        result: dict[str, Any] = {**report.as_dict(), "seed_seconds": round(time.monotonic() - started, 2)}
        if connection.vendor == "postgresql":
            # Planner statistics as autovacuum would leave them on a real registry: right after bulk
            # inserts they still describe empty tables, and the timed pages would run on stale plans.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        if options["gc"]:
            self.stderr.write("Garbage collection of the seeded registry ...")
            gc_started = time.monotonic()
            gc = gc_run(trigger=GcRun.Trigger.COMMAND)
            result["gc_seconds"] = round(time.monotonic() - gc_started, 2)
            result["gc"] = gc.as_dict()
            if gc.errors:
                result["gc_errors"] = gc.errors[:20]
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {report.repository}: {report.blobs:,} blobs, {report.manifests:,} manifests "
            f"({report.manifest_blob_links:,} blob links), {report.tags:,} tags, {report.repositories:,} repositories "
            f"in {report.catalog_namespace}/ in {result['seed_seconds']:.1f} s."
        ))
        if options["gc"]:
            self.stdout.write(f"Garbage collection: {result['gc_seconds']:.1f} s ({json.dumps(result['gc'])})")
