"""``manage.py grant REPOSITORY ROLE --user/--robot/--team``: set a repository permission."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from organizations.models import Role
from repositories.models import RepositoryPermission
from repositories.services.repositories import permission_set
from registry_site.management.commands._identity import (
    IdentityCommand, Report, add_grantee_arguments, audit, grantee_from_options, repository_named,
)


class Command(IdentityCommand):
    help = (
        "Give a user, robot or team a role on an existing repository, replacing the role it had: read (pull), "
        "write (pull, push, tag) or admin (also permissions, visibility, deletion). Robots and teams must belong "
        "to the repository's namespace."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", metavar="REPOSITORY", help="Full name, e.g. acme/app.")
        parser.add_argument("role", metavar="ROLE", choices=Role.values, help="read, write or admin.")
        add_grantee_arguments(parser, verb="grant to")

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot grant {options['role']} on {options['repository']}"

    def run(self, options: dict[str, Any]) -> Report:
        repository = repository_named(options["repository"])
        grantee = grantee_from_options(options, organization_name=repository.namespace.name)
        before = RepositoryPermission.objects.filter(repository=repository, **grantee.service_kwargs()).first()
        previous = before.role if before else None
        permission_set(repository=repository, role=options["role"], **grantee.service_kwargs())
        role = options["role"]
        if previous != role:
            audit(
                "change_repo_permission", command="grant", repository=repository,
                role=role, previous_role=previous, **{grantee.kind: grantee.name},
            )
        if previous is None:
            headline = f"Granted {role} on {repository.full_name} to {grantee}."
        elif previous != role:
            headline = f"Changed {grantee} on {repository.full_name} from {previous} to {role}."
        else:
            headline = f"{grantee} already has {role} on {repository.full_name}; nothing changed."
        return Report(
            headline=headline,
            data={"repository": repository.full_name, "grantee": grantee.as_dict(), "role": role, "previous_role": previous, "changed": previous != role},
        )
