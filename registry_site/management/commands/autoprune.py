"""``manage.py autoprune``: apply the auto-prune policies by hand, with progress and a report."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Namespace
from repositories.models import Repository
from repositories.services.lifecycle import autoprune_run


class Command(BaseCommand):
    help = (
        "Apply the auto-prune policies of every namespace (or one namespace, or one repository) now: "
        "tags beyond a policy's count or older than its age end their lifetime (restorable from the time "
        "machine until garbage collection). Immutable tags are never pruned. The Celery beat runs the "
        "same every 30 minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", metavar="NAME", help="Only this namespace's policies.")
        parser.add_argument("--repository", metavar="NAMESPACE/NAME", help="Only this repository (its own and its namespace's policies).")
        parser.add_argument("--dry-run", action="store_true", help="List the tags that would be pruned; change nothing.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on stdout (progress goes to stderr).")

    def handle(self, *args: Any, **options: Any) -> None:
        namespace_id = repository_id = None
        if options["namespace"]:
            namespace = Namespace.objects.filter(name=options["namespace"]).first()
            if namespace is None:
                raise CommandError(f"no namespace named {options['namespace']}")
            namespace_id = namespace.pk
        if options["repository"]:
            repository = Repository.objects.filter(full_name=options["repository"]).first()
            if repository is None:
                raise CommandError(f"no repository named {options['repository']}")
            repository_id = repository.pk
        dry_run = options["dry_run"]
        self.stderr.write(f"Auto-prune{' (dry run: nothing is changed)' if dry_run else ''} ...")
        report = autoprune_run(
            namespace_id=namespace_id, repository_id=repository_id, dry_run=dry_run, progress=lambda line: self.stderr.write(f"  {line}")
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        verb = "would prune" if dry_run else "pruned"
        self.stdout.write(f"{report.policies} policy(ies) over {report.repositories} repository(ies): {verb} {len(report.pruned)} tag(s)")
