"""``manage.py mirror_sync NAMESPACE/REPO``: run one sync of a repository mirror now."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import RegistryError
from common.units import size_text
from repositories.selectors_mirror import mirror_by_repository_name
from repositories.services.mirror import mirror_sync


class Command(BaseCommand):
    help = (
        "Sync a mirrored repository from its upstream now, printing each tag as it goes: lists the "
        "upstream tags matching the mirror's patterns, copies the ones whose digest changed (only "
        "blobs not already stored) and records the outcome on the mirror (status, last/next sync, "
        "error), as the scheduled sync does. Exits 1 when the sync failed or was cancelled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", metavar="NAMESPACE/REPO", help="The mirrored repository.")
        parser.add_argument("--json", action="store_true", help="Print the result as one JSON object (no progress lines).")

    def handle(self, *args: Any, **options: Any) -> None:
        mirror = mirror_by_repository_name(full_name=options["repository"])
        if mirror is None or mirror.repository.deleted_at is not None:
            raise CommandError(f"repository {options['repository']} has no mirror configuration")
        as_json = options["json"]
        progress = None if as_json else (lambda line: (self.stdout.write(line), self.stdout.flush()))
        if not as_json:
            self.stdout.write(f"syncing {mirror.repository.full_name} from {mirror.external_reference}")
        began = time.monotonic()
        try:
            result = mirror_sync(mirror_id=mirror.pk, progress=progress)
        except RegistryError as exc:
            raise CommandError(exc.message) from None
        assert result is not None
        elapsed = time.monotonic() - began
        if as_json:
            self.stdout.write(json.dumps({**result.as_dict(), "duration_s": round(elapsed, 3)}, indent=2))
        else:
            c = result.counts
            self.stdout.write(
                f"{result.status}: {c['tags_copied']} tag(s) copied, {c['tags_unchanged']} unchanged, {c['tags_deleted']} deleted, "
                f"{c['tags_failed']} failed; {c['manifests_copied']} manifest(s), {c['blobs_copied']} blob(s) downloaded "
                f"({size_text(c['bytes_copied'])}), {c['blobs_mounted']} mounted, {c['blobs_present']} already present; {elapsed:.1f} s"
            )
            for error in result.errors:
                self.stderr.write(f"error: {error}")
            if result.next_sync_at:
                self.stdout.write(f"next sync: {result.next_sync_at:%Y-%m-%d %H:%M:%S %Z}")
        if result.status != "SUCCESS":
            sys.exit(1)
