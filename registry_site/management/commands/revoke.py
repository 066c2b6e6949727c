"""``manage.py revoke REPOSITORY --user/--robot/--team``: remove a repository permission."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from repositories.models import RepositoryPermission
from repositories.services.repositories import permission_remove
from registry_site.management.commands._identity import (
    IdentityCommand, Report, add_grantee_arguments, audit, grantee_from_options, repository_named,
)


class Command(IdentityCommand):
    help = (
        "Remove the direct permission a user, robot or team has on a repository. Access through team membership "
        "or organization roles is not affected (remove the member from the team for that)."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", metavar="REPOSITORY", help="Full name, e.g. acme/app.")
        add_grantee_arguments(parser, verb="revoke from")

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot revoke on {options['repository']}"

    def run(self, options: dict[str, Any]) -> Report:
        repository = repository_named(options["repository"])
        grantee = grantee_from_options(options, organization_name=repository.namespace.name)
        before = RepositoryPermission.objects.filter(repository=repository, **grantee.service_kwargs()).first()
        if before is None:
            raise CommandError(f"{grantee} has no direct permission on {repository.full_name}; nothing to revoke")
        permission_remove(repository=repository, **grantee.service_kwargs())
        audit("delete_repo_permission", command="revoke", repository=repository, previous_role=before.role, **{grantee.kind: grantee.name})
        return Report(
            headline=f"Revoked {before.role} on {repository.full_name} from {grantee}.",
            data={"repository": repository.full_name, "grantee": grantee.as_dict(), "previous_role": before.role},
        )
