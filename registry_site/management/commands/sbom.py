"""``manage.py sbom <namespace/repo>@<digest>``: an image's SBOM (SPDX 2.3 or CycloneDX 1.5 JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import RegistryError
from common.grammar import DIGEST_RE
from repositories.models import Repository
from repositories.scanning.sbom import FORMATS
from repositories.selectors import manifest_find
from repositories.selectors_sbom import SbomUnavailable, manifest_sbom
from repositories.services.sbom import sbom_attach


class Command(BaseCommand):
    help = (
        "Print the software bill of materials of an image manifest, from the packages the scanner found: "
        "SPDX 2.3 JSON (default) or CycloneDX 1.5 JSON. --attach stores the SPDX document in the repository as an "
        "OCI referrer of the image (artifactType application/spdx+json) so `oras discover` finds it. "
        "Exit status 1 when the repository or manifest is unknown or the manifest has not been scanned."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("image", metavar="NAMESPACE/REPO@DIGEST", help="The manifest, e.g. acme/app@sha256:....")
        parser.add_argument("--format", choices=FORMATS, default="spdx", help="Document format (default spdx).")
        parser.add_argument("--output", "-o", metavar="FILE", help="Write the document to FILE instead of standard output.")
        parser.add_argument("--attach", action="store_true",
                            help="Also push the SPDX document as an OCI referrer of the manifest (requires --format spdx).")

    def handle(self, *args: Any, **options: Any) -> None:
        name, sep, digest = options["image"].rpartition("@")
        if not sep or not name or not DIGEST_RE.match(digest):
            raise CommandError("expected NAMESPACE/REPO@DIGEST, e.g. acme/app@sha256:<64 hex digits>", returncode=1)
        if options["attach"] and options["format"] != "spdx":
            raise CommandError("--attach pushes the SPDX document: use it with --format spdx", returncode=1)
        repository = Repository.objects.filter(full_name=name).first()
        if repository is None:
            raise CommandError(f"repository {name} not found", returncode=1)
        manifest = manifest_find(repository=repository, digest=digest)
        if manifest is None:
            raise CommandError(f"manifest {digest} not found in {name}", returncode=1)
        try:
            document = manifest_sbom(repository=repository, manifest=manifest, fmt=options["format"])
        except SbomUnavailable as exc:
            raise CommandError(exc.reason, returncode=1) from exc
        text = json.dumps(document, indent=2)
        if options["output"]:
            try:
                Path(options["output"]).write_text(text + "\n")
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']}: {exc.strerror or exc}", returncode=1) from exc
            count = len(document["packages"]) - 1 if options["format"] == "spdx" else len(document["components"])
            self.stderr.write(f"Wrote {options['format']} SBOM of {name}@{digest} ({count} packages) to {options['output']}")
        else:
            self.stdout.write(text)
        if options["attach"]:
            try:
                artifact = sbom_attach(repository=repository, manifest=manifest, document=document)
            except RegistryError as exc:
                raise CommandError(f"could not attach the SBOM: {exc.message}", returncode=1) from exc
            self.stderr.write(f"Attached as referrer {artifact.digest} (artifactType application/spdx+json) of {digest}")
