"""``manage.py set_repository REPOSITORY``: visibility and state of a repository (optionally creating it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from accounts.models import Namespace
from common.errors import NameInvalidError
from common.grammar import split_repository_name
from repositories.models import Repository, RepositoryPermission
from repositories.selectors import repository_find
from repositories.services.repositories import repository_get_or_create, repository_set_state, repository_set_visibility
from registry_site.management.commands._identity import IdentityCommand, Report, audit, repository_named

STATE_HELP = "NORMAL; READ_ONLY: nobody pushes, tags or deletes; MIRROR: only the mirror pushes."


class Command(IdentityCommand):
    help = (
        "Change a repository's visibility (public: anyone may pull) or state, or create it with --create "
        "(private, owned by its namespace; the organization's default permissions apply). Without options, "
        "show the repository and its permissions."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", metavar="REPOSITORY", help="Full name, e.g. acme/app.")
        parser.add_argument("--visibility", choices=Repository.Visibility.values, help="public or private.")
        parser.add_argument("--state", choices=Repository.State.values, help=STATE_HELP)
        parser.add_argument("--create", action="store_true", help="Create the repository when missing (its namespace must exist).")

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot change repository {options['repository']}"

    def run(self, options: dict[str, Any]) -> Report:
        name = options["repository"]
        created = False
        if options["create"]:
            try:
                namespace_name, _ = split_repository_name(name)
            except NameInvalidError:
                repository_named(name)  # raises the one-line "not a valid repository name"
                raise
            if not Namespace.objects.filter(name=namespace_name).exists():
                raise CommandError(
                    f"cannot create {name}: no user or organization is called {namespace_name!r} "
                    f"(manage.py create_org {namespace_name} --owner USER, or create_user {namespace_name})"
                )
            created = repository_find(name=name) is None
            repository = repository_get_or_create(name=name, creator=None)
            if created:
                audit("create_repo", command="set_repository", repository=repository, visibility=repository.visibility)
        else:
            repository = repository_named(name)
        changes = []
        if options["visibility"] and options["visibility"] != repository.visibility:
            previous = repository.visibility
            repository_set_visibility(repository=repository, visibility=options["visibility"])
            audit("change_repo_visibility", command="set_repository", repository=repository, visibility=repository.visibility, previous=previous)
            changes.append(f"visibility {previous} -> {repository.visibility}")
        if options["state"] and options["state"] != repository.state:
            previous = repository.state
            repository_set_state(repository=repository, state=options["state"])
            audit("change_repo_state", command="set_repository", repository=repository, state=repository.state, previous=previous)
            changes.append(f"state {previous} -> {repository.state}")
        permissions = [
            {"kind": kind, "name": name, "role": permission.role}
            for permission in RepositoryPermission.objects.filter(repository=repository).select_related(
                "user", "robot__namespace", "team__organization__namespace"
            )
            for kind, name in [_grantee(permission)]
        ]
        if created:
            headline = f"Created repository {repository.full_name}" + (f"; {', '.join(changes)}." if changes else ".")
        elif changes:
            headline = f"Changed {repository.full_name}: {', '.join(changes)}."
        elif options["visibility"] or options["state"]:
            headline = f"{repository.full_name} is already as requested; nothing changed."
        else:
            headline = f"Repository {repository.full_name}"
        lines = [
            f"Visibility:  {repository.visibility}",
            f"State:       {repository.state}",
            "Permissions: " + ("; ".join(f"{p['kind']} {p['name']} {p['role']}" for p in permissions) or "(no direct grants)"),
        ]
        return Report(
            headline=headline, lines=lines,
            data={
                "repository": repository.full_name, "namespace": repository.namespace.name, "visibility": repository.visibility,
                "state": repository.state, "created": created, "changes": changes, "permissions": permissions,
            },
        )


def _grantee(permission: RepositoryPermission) -> tuple[str, str]:
    if permission.user is not None:
        return "user", permission.user.username
    if permission.robot is not None:
        return "robot", permission.robot.username
    return "team", str(permission.team)
