"""``manage.py scan``: index and match manifests now, in this process, with progress output."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import RegistryError
from repositories.models import Manifest, Repository
from repositories.selectors import manifest_resolve
from repositories.selectors_security import manifest_vulnerability_counts
from repositories.services.scans import manifest_rescan, manifest_scan_queue, manifest_scan_run, manifests_for_scan


class Command(BaseCommand):
    help = (
        "Scan manifests for vulnerabilities now: read their layers (each layer once, cached by digest), "
        "find the installed packages and match them against the imported vulnerability database. "
        "TARGET is NAMESPACE/REPO (every manifest of it), NAMESPACE/REPO:TAG or NAMESPACE/REPO@DIGEST. "
        "Manifests already scanned by the current indexer are only reported unless --rescan. "
        "Exits non-zero when a scan failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", nargs="?", metavar="TARGET", help="NAMESPACE/REPO[:TAG|@DIGEST]")
        parser.add_argument("--all", action="store_true", help="Every manifest of the registry, most recently pushed first.")
        parser.add_argument("--rescan", action="store_true", help="Scan again, reading the layers again (the layer cache of these manifests is dropped).")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON on stdout (progress goes to stderr).")

    def _targets(self, options: dict[str, Any]) -> list[Manifest]:
        target = options["target"]
        if options["all"] == bool(target):
            raise CommandError("give either a TARGET (NAMESPACE/REPO[:TAG|@DIGEST]) or --all")
        if options["all"]:
            ids = manifests_for_scan()
        else:
            name, reference = target, None
            if "@" in target:
                name, _, reference = target.partition("@")
            elif ":" in target.rpartition("/")[2]:
                head, _, tag = target.rpartition(":")
                name, reference = head, tag
            repository = Repository.objects.filter(full_name=name).first()
            if repository is None:
                raise CommandError(f"no repository named {name}")
            if reference is None:
                ids = manifests_for_scan(repository_ids=[repository.id])
            else:
                try:
                    ids = [manifest_resolve(repository=repository, reference=reference).id]
                except RegistryError as exc:
                    raise CommandError(f"{target}: {exc}") from exc
        manifests = Manifest.objects.in_bulk(ids)
        return [manifests[i] for i in ids if i in manifests]

    def handle(self, *args: Any, **options: Any) -> None:
        manifests = self._targets(options)
        quiet = options["json"]
        if not quiet:
            self.stderr.write(f"Scanning {len(manifests)} manifest(s){' (rescan)' if options['rescan'] else ''} ...")
        results, failed = [], 0
        for number, manifest in enumerate(manifests, 1):
            started = time.monotonic()
            if options["rescan"]:
                manifest_rescan(manifest_id=manifest.id)
            else:
                manifest_scan_queue(manifest_id=manifest.id, force=False)
            scan = manifest_scan_run(manifest_id=manifest.id, limit_workers=False)
            name = f"{manifest.repository.full_name}@{manifest.digest}"
            if scan is None:
                if not quiet:
                    self.stderr.write(f"[{number}/{len(manifests)}] {name}  skipped (scanning is disabled)")
                continue
            counts = manifest_vulnerability_counts(manifest=manifest)
            result = {
                "manifest": name, "status": scan.status, "reason": scan.reason, "distro": scan.distro,
                "packages": scan.package_count, "vulnerabilities": counts["counts"], "total": counts["total"],
                "fixable": counts["fixable"], "attempts": scan.attempts, "duration_s": round(time.monotonic() - started, 3),
            }
            results.append(result)
            failed += scan.status == "failed"
            if not quiet:
                found = ", ".join(f"{n} {severity}" for severity, n in counts["counts"].items() if n) or "none"
                line = f"[{number}/{len(manifests)}] {name}  {scan.status}"
                if scan.status == "scanned":
                    line += f"  {scan.package_count} packages{' (' + scan.distro + ')' if scan.distro else ''}  vulnerabilities: {found}"
                elif scan.reason:
                    line += f"  {scan.reason}"
                self.stderr.write(line)
        if quiet:
            self.stdout.write(json.dumps(results, indent=2))
        if failed:
            raise CommandError(f"{failed} scan(s) failed; they are retried with backoff by the scan sweep")
