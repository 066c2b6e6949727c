"""``manage.py default_permission ORG ROLE --user/--robot/--team``: a default permission ("prototype")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from organizations.models import Role
from organizations.services import prototype_create
from registry_site.management.commands._identity import (
    IdentityCommand, Report, add_grantee_arguments, audit, grantee_from_options, organization_named, user_named,
)


class Command(IdentityCommand):
    help = (
        "Add a default permission to an organization: whenever a repository is created in it (by anyone, or "
        "only by the --when-created-by user), the user, robot or team gets ROLE on the new repository. "
        "Existing repositories are not changed."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", metavar="ORG", help="Organization name.")
        parser.add_argument("role", metavar="ROLE", choices=Role.values, help="read, write or admin.")
        add_grantee_arguments(parser, verb="give the role to")
        parser.add_argument("--when-created-by", metavar="USER", help="Apply only to repositories this user creates.")

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot add a default permission to {options['organization']}"

    def run(self, options: dict[str, Any]) -> Report:
        organization = organization_named(options["organization"])
        grantee = grantee_from_options(options, organization_name=organization.name)
        activating_user = user_named(options["when_created_by"]) if options["when_created_by"] else None
        prototype = prototype_create(
            organization=organization, role=options["role"], activating_user=activating_user,
            delegate_user=grantee.user, delegate_robot=grantee.robot, delegate_team=grantee.team,
        )
        creator = activating_user.username if activating_user else None
        audit(
            "create_prototype_permission", command="default_permission", namespace_name=organization.name,
            uuid=str(prototype.uuid), role=prototype.role, activating_user=creator, **{f"delegate_{grantee.kind}": grantee.name},
        )
        who = f"{creator} creates" if creator else "anyone creates"
        return Report(
            headline=f"Default permission added to {organization.name}: when {who} a repository, {grantee} gets {prototype.role}.",
            data={
                "organization": organization.name, "uuid": str(prototype.uuid), "role": prototype.role,
                "delegate": grantee.as_dict(), "activating_user": creator,
            },
        )
