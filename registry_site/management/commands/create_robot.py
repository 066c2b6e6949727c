"""``manage.py create_robot NAMESPACE SHORTNAME``: a robot account and its token, shown once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from accounts.services import robot_create
from registry_site.management.commands._identity import (
    IdentityCommand, Report, add_registry_argument, audit, login_lines, login_text, namespace_named,
)


class Command(IdentityCommand):
    help = (
        "Create a robot account NAMESPACE+SHORTNAME in a user's namespace or an organization, and print its "
        "token once (only a hash is stored) with ready-to-paste skopeo, podman and docker login lines. "
        "A robot can do nothing until it is granted access (manage.py grant, create_team --member)."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("namespace", metavar="NAMESPACE", help="Organization or user that owns the robot.")
        parser.add_argument("shortname", metavar="SHORTNAME", help="Starts with a letter; lowercase letters, digits and '_' (2-64 characters).")
        parser.add_argument("--description", default="", metavar="D", help="What the robot is for.")
        token = parser.add_mutually_exclusive_group()
        token.add_argument(
            "--token", metavar="T",
            help="Use this token instead of a generated one (migrating from another registry; at least 32 characters).",
        )
        token.add_argument("--token-stdin", action="store_true", help="Like --token, read from standard input (not visible in the process list).")
        add_registry_argument(parser)

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot create robot {options['namespace']}+{options['shortname']}"

    def run(self, options: dict[str, Any]) -> Report:
        namespace = namespace_named(options["namespace"])
        token = self.read_stdin(options, "token") if options["token_stdin"] else options["token"]
        created = robot_create(namespace=namespace, shortname=options["shortname"], description=options["description"], token=token)
        robot = created.robot
        audit("create_robot", command="create_robot", namespace_name=namespace.name, robot=robot.username, token_supplied=token is not None)
        logins = login_lines(registry=options["registry"], username=robot.username, secret=created.token)
        return Report(
            headline=f"Created robot {robot.username}.",
            notices=[
                f"Robot name: {robot.username}",
                f"Token:      {created.token}",
                "The token is shown only this once and stored only as a hash: keep it now.",
            ],
            lines=[
                *login_text(options["registry"], logins),
                "",
                f"It has no access yet: manage.py grant {namespace.name}/REPOSITORY write --robot {robot.username}",
            ],
            data={
                "name": robot.username, "namespace": namespace.name, "shortname": robot.shortname,
                "description": robot.description, "token": created.token, "registry": options["registry"], "login": logins,
            },
        )
