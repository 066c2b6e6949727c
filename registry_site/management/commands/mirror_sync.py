"""``manage.py mirror_sync NAMESPACE/REPO``: run one sync of a repository mirror now;
``manage.py mirror_sync --organization ORG``: one sync of an organization mirror (discovery and
every repository)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import RegistryError
from common.units import size_text
from repositories.selectors_mirror import mirror_by_repository_name, org_mirror_by_name
from repositories.services.mirror import mirror_sync
from repositories.services.mirror_org import org_mirror_plan, org_mirror_sync


class Command(BaseCommand):
    help = (
        "Sync a mirrored repository from its upstream now, printing each tag as it goes: lists the "
        "upstream tags matching the mirror's patterns, copies the ones whose digest changed (only "
        "blobs not already stored) and records the outcome on the mirror (status, last/next sync, "
        "error), as the scheduled sync does. With --organization ORG: discover the organization "
        "mirror's upstream repositories, create the missing ones, sync each and delete the stale ones "
        "(delete_stale_repos). Exits 1 when the sync failed or was cancelled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", metavar="NAMESPACE/REPO", nargs="?", help="The mirrored repository.")
        parser.add_argument("--organization", metavar="ORG", help="Sync the organization mirror of ORG instead of one repository.")
        parser.add_argument(
            "--dry-run", action="store_true",
            help="With --organization: only discover and print which repositories would be created, synced and deleted.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as one JSON object (no progress lines).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["organization"]:
            if options["repository"]:
                raise CommandError("give either NAMESPACE/REPO or --organization, not both")
            if options["dry_run"]:
                self.plan_organization(options["organization"], as_json=options["json"])
            else:
                self.sync_organization(options["organization"], as_json=options["json"])
            return
        if options["dry_run"]:
            raise CommandError("--dry-run goes with --organization (a repository sync deletes nothing unless delete_stale_tags is set)")
        if not options["repository"]:
            raise CommandError("give NAMESPACE/REPO (a repository mirror) or --organization ORG")
        mirror = mirror_by_repository_name(full_name=options["repository"])
        if mirror is None or mirror.repository.deleted_at is not None:
            raise CommandError(f"repository {options['repository']} has no mirror configuration")
        summary = lambda c, elapsed: (  # noqa: E731
            f"{c['tags_copied']} tag(s) copied, {c['tags_unchanged']} unchanged, {c['tags_deleted']} deleted, "
            f"{c['tags_failed']} failed; {c['manifests_copied']} manifest(s), {c['blobs_copied']} blob(s) downloaded "
            f"({size_text(c['bytes_copied'])}), {c['blobs_mounted']} mounted, {c['blobs_present']} already present; {elapsed:.1f} s"
        )
        self.run_sync(
            headline=f"syncing {mirror.repository.full_name} from {mirror.external_reference}",
            sync=lambda progress: mirror_sync(mirror_id=mirror.pk, progress=progress), summary=summary, as_json=options["json"],
        )

    def sync_organization(self, name: str, *, as_json: bool) -> None:
        org_mirror = org_mirror_by_name(name=name)
        if org_mirror is None:
            raise CommandError(f"organization {name} has no mirror configuration")
        source = f"{org_mirror.external_registry_url}/{org_mirror.external_namespace}".rstrip("/")
        summary = lambda c, elapsed: (  # noqa: E731
            f"{c['repositories_discovered']} repository(ies) discovered, {c['repositories_created']} created, "
            f"{c['repositories_synced']} synced, {c['repositories_failed']} failed, {c['repositories_deleted']} deleted, "
            f"{c['repositories_gone']} gone upstream (kept); {c['tags_copied']} tag(s) copied, {c['tags_unchanged']} unchanged; "
            f"{c['blobs_copied']} blob(s) downloaded ({size_text(c['bytes_copied'])}); {elapsed:.1f} s"
        )
        self.run_sync(
            headline=f"syncing organization {name} from {source}",
            sync=lambda progress: org_mirror_sync(org_mirror_id=org_mirror.pk, progress=progress), summary=summary, as_json=as_json,
        )

    def run_sync(self, *, headline: str, sync, summary, as_json: bool) -> None:
        """Run one sync with progress lines (or JSON), print its summary, exit 1 unless it succeeded."""
        progress = None if as_json else (lambda line: (self.stdout.write(line), self.stdout.flush()))
        if not as_json:
            self.stdout.write(headline)
        began = time.monotonic()
        try:
            result = sync(progress)
        except RegistryError as exc:
            raise CommandError(exc.message) from None
        assert result is not None
        elapsed = time.monotonic() - began
        if as_json:
            self.stdout.write(json.dumps({**result.as_dict(), "duration_s": round(elapsed, 3)}, indent=2))
        else:
            self.stdout.write(f"{result.status}: {summary(result.counts, elapsed)}")
            for error in result.errors:
                self.stderr.write(f"error: {error}")
            if result.next_sync_at:
                self.stdout.write(f"next sync: {result.next_sync_at:%Y-%m-%d %H:%M:%S %Z}")
        if result.status != "SUCCESS":
            sys.exit(1)

    def plan_organization(self, name: str, *, as_json: bool) -> None:
        org_mirror = org_mirror_by_name(name=name)
        if org_mirror is None:
            raise CommandError(f"organization {name} has no mirror configuration")
        try:
            plan = org_mirror_plan(org_mirror=org_mirror)
        except RegistryError as exc:
            raise CommandError(f"discovery failed: {exc.message}") from None
        if as_json:
            self.stdout.write(json.dumps({
                "discovered": list(plan.discovered), "to_create": list(plan.to_create), "conflicting": list(plan.conflicting),
                "stale": list(plan.stale), "delete_stale_repos": org_mirror.delete_stale_repos,
            }, indent=2))
            return
        self.stdout.write(f"dry run: {len(plan.discovered)} upstream repository(ies) to mirror into {name}")
        for upstream in plan.discovered:
            self.stdout.write(f"  sync   {upstream}")
        for full_name in plan.to_create:
            self.stdout.write(f"  create {full_name}")
        for full_name in plan.conflicting:
            self.stdout.write(f"  CONFLICT {full_name} exists and is not managed by the mirror (would fail)")
        verb = "delete" if org_mirror.delete_stale_repos else "keep (gone upstream)"
        for upstream in plan.stale:
            self.stdout.write(f"  {verb} {upstream}")
        self.stdout.write("nothing was changed")
