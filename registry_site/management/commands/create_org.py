"""``manage.py create_org NAME --owner USERNAME``: an organization with its owners team."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from organizations.services import OWNERS_TEAM, organization_create
from registry_site.management.commands._identity import IdentityCommand, Report, audit, email_address, user_named


class Command(IdentityCommand):
    help = (
        "Create an organization. Its 'owners' team (role admin: administers the organization and every "
        "repository in it) starts with the --owner user."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="Organization name (shares one name space with users).")
        parser.add_argument("--owner", required=True, metavar="USERNAME", help="Existing user who joins the owners team.")
        parser.add_argument("--email", type=email_address, default="", metavar="E", help="Contact e-mail address of the organization.")

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot create organization {options['name']!r}"

    def run(self, options: dict[str, Any]) -> Report:
        owner = user_named(options["owner"])
        organization = organization_create(name=options["name"], creator=owner, email=options["email"])
        audit("create_org", command="create_org", namespace_name=organization.name, organization=organization.name, owner=owner.username)
        name = organization.name
        return Report(
            headline=f"Created organization {name}; team {name}/{OWNERS_TEAM} (admin) holds {owner.username}.",
            lines=[
                "",
                "Next steps:",
                f"  manage.py create_team {name} developers --role member --member USER",
                f"  manage.py create_robot {name} deployer",
                f"  manage.py default_permission {name} write --team {name}/developers",
            ],
            data={"organization": name, "email": organization.email, "owners_team": f"{name}/{OWNERS_TEAM}", "owners": [owner.username]},
        )
