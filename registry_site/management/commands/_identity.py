"""Plumbing shared by the identity commands (create_user, create_robot, grant, ...).

Not a command itself (the leading underscore hides it from ``manage.py help``). It holds what every
identity command does the same way: look principals up by name with one-line errors, run the
service and its audit entry in one transaction, print text or ``--json``, and build the
``skopeo``/``podman``/``docker login`` lines shown next to a new credential.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import logging
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Namespace, Robot, User
from accounts.principals import Principal
from accounts.services import NameTakenError
from common.errors import NameInvalidError, RegistryError
from organizations.models import Organization, Team
from repositories.models import Repository
from repositories.selectors import repository_find
from repositories.services.audit import audit_log

#: who performs a change made from the command line (audit log "performer")
OPERATOR = Principal(name="manage.py", via="command")


@dataclass
class Report:
    """What a command tells its operator: text lines, or one JSON object with ``--json``."""

    data: dict[str, Any]
    headline: str
    lines: list[str] = field(default_factory=list)
    #: printed highlighted (a secret shown once, a warning)
    notices: list[str] = field(default_factory=list)


class IdentityCommand(BaseCommand):
    """Base of the identity commands: subclasses define ``add_command_arguments`` and ``run``.

    ``run`` executes inside one transaction (service call plus audit entry: both or neither).
    Expected problems are raised as CommandError: one line on stderr, exit status 1.
    """

    #: call_command(..., stdin=StringIO(...)) feeds --password-stdin / --token-stdin in tests
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_command_arguments(parser)
        parser.add_argument(
            "--json", action="store_true",
            help="Print one JSON object instead of text (for scripts). Secrets are in it: they are shown only this once.",
        )

    def add_command_arguments(self, parser: CommandParser) -> None:
        raise NotImplementedError

    def run(self, options: dict[str, Any]) -> Report:
        raise NotImplementedError

    def failure(self, options: dict[str, Any]) -> str:
        """Prefix of the error line when a service refuses, e.g. ``cannot create robot acme+ci``."""
        return "failed"

    def handle(self, *args: Any, **options: Any) -> None:
        audit_logger = logging.getLogger("moorage.audit")
        quiet = options["verbosity"] < 2 and not audit_logger.disabled
        audit_logger.disabled = audit_logger.disabled or quiet  # the entry is in the database; on a terminal it is noise
        try:
            with transaction.atomic():
                report = self.run(options)
        except NameTakenError as error:
            detail = error.message if error.message != NameTakenError.default_message else "a user or organization already has this name"
            raise CommandError(f"{self.failure(options)}: {detail}") from None
        except RegistryError as error:
            raise CommandError(f"{self.failure(options)}: {error.message}") from None
        finally:
            if quiet:
                audit_logger.disabled = False
        if options["json"]:
            self.stdout.write(json.dumps(report.data, indent=2, default=str))
            return
        self.stdout.write(self.style.SUCCESS(report.headline))
        for notice in report.notices:
            self.stdout.write(self.style.WARNING(notice))
        for line in report.lines:
            self.stdout.write(line)

    def read_stdin(self, options: dict[str, Any], what: str) -> str:
        """One secret from standard input; the trailing newline is not part of it."""
        stream = options.get("stdin") or sys.stdin
        value = stream.read().rstrip("\r\n")
        if not value:
            raise CommandError(f"no {what} on standard input")
        return value


def audit(kind: str, *, command: str, repository: Repository | None = None, namespace_name: str = "", **metadata: Any) -> None:
    """One audit entry for a change made from the command line (never pass a secret here)."""
    audit_log(
        kind=kind, principal=OPERATOR, repository=repository, namespace_name=namespace_name,
        metadata={"via": f"manage.py {command}", "os_user": _os_user(), **metadata},
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return ""


# --- argument types ------------------------------------------------------------------------


def email_address(value: str) -> str:
    if not value:  # argparse passes the default "" through here too
        return value
    try:
        validate_email(value)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid e-mail address") from None
    return value


def positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if not 1 <= days <= 36500:
        raise argparse.ArgumentTypeError("the number of days must be between 1 and 36500")
    return days


def add_registry_argument(parser: CommandParser) -> None:
    default = default_registry()
    parser.add_argument(
        "--registry", default=default, metavar="HOST",
        help=(
            f"Registry host[:port] in the printed login lines (default {default}: server_hostname, else 127.0.0.1 and "
            "the configured port). A plain host gets --tls-verify=false, as Moorage serves plain HTTP; write "
            "https://HOST when clients reach it over TLS (a proxy in front)."
        ),
    )


def default_registry() -> str:
    configured = getattr(settings, "MOORAGE_SERVER_HOSTNAME", "")
    if configured:
        return configured
    port = getattr(settings, "MOORAGE", {}).get("port", 5000)
    return f"127.0.0.1:{port}"


# --- login lines ---------------------------------------------------------------------------


def login_lines(*, registry: str, username: str, secret: str) -> dict[str, str]:
    """Ready-to-paste ``skopeo``/``podman``/``docker login`` lines for ``username`` + ``secret``.

    The secret goes through ``--password-stdin`` (``printf`` is a shell builtin), so it shows up
    in no process list; everything is shell-quoted (``$app`` stays literal).
    """
    tls = registry.startswith("https://")
    host = registry.removeprefix("https://").removeprefix("http://").rstrip("/")
    feed = f"printf '%s\\n' {shlex.quote(secret)} | "
    user, where = shlex.quote(username), shlex.quote(host)
    insecure = "" if tls else " --tls-verify=false"
    return {
        "skopeo": f"{feed}skopeo login{insecure} --username {user} --password-stdin {where}",
        "podman": f"{feed}podman login{insecure} --username {user} --password-stdin {where}",
        "docker": f"{feed}docker login --username {user} --password-stdin {where}",
    }


def login_text(registry: str, logins: dict[str, str]) -> list[str]:
    lines = ["", "Log in with:", *(f"  {line}" for line in logins.values())]
    host = registry.removeprefix("http://")
    if not registry.startswith("https://") and not _is_loopback(urlsplit(f"//{host}").hostname or ""):
        lines.append(f"  (docker talks plain HTTP only to 127.0.0.0/8 and to registries listed in \"insecure-registries\" of daemon.json: add {host})")
    return lines


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- lookups by name (reads only) ----------------------------------------------------------


def user_named(name: str) -> User:
    user = User.objects.select_related("namespace").filter(username=name).first()
    if user is not None:
        return user
    if "+" in name:
        raise CommandError(f"{name!r} is a robot name, not a user (use --robot for robots)")
    if Namespace.objects.filter(name=name, kind=Namespace.Kind.ORGANIZATION).exists():
        raise CommandError(f"{name!r} is an organization, not a user")
    raise CommandError(f"unknown user {name!r} (create it with: manage.py create_user {name})")


def robot_named(name: str) -> Robot:
    namespace_name, plus, shortname = name.partition("+")
    if not plus or not namespace_name or not shortname:
        raise CommandError(f"{name!r} is not a robot name: robots are NAMESPACE+NAME, e.g. acme+deployer")
    robot = Robot.objects.select_related("namespace").filter(namespace__name=namespace_name, shortname=shortname).first()
    if robot is None:
        raise CommandError(f"unknown robot {name!r} (create it with: manage.py create_robot {namespace_name} {shortname})")
    return robot


def member_named(name: str) -> User | Robot:
    """A team member: ``alice`` is a user, ``acme+deployer`` a robot."""
    return robot_named(name) if "+" in name else user_named(name)


def namespace_named(name: str) -> Namespace:
    namespace = Namespace.objects.filter(name=name).first()
    if namespace is None:
        raise CommandError(f"unknown namespace {name!r}: no user or organization has this name")
    return namespace


def organization_named(name: str) -> Organization:
    organization = Organization.objects.select_related("namespace").filter(namespace__name=name).first()
    if organization is not None:
        return organization
    if Namespace.objects.filter(name=name, kind=Namespace.Kind.USER).exists():
        raise CommandError(f"{name!r} is a user, not an organization (teams and default permissions exist only in organizations)")
    raise CommandError(f"unknown organization {name!r} (create it with: manage.py create_org {name} --owner USER)")


def team_named(spec: str, *, organization_name: str | None = None) -> Team:
    """``ORG/TEAM``, or a bare ``TEAM`` of ``organization_name``."""
    org_name, slash, team_name = spec.rpartition("/")
    if not slash:
        org_name = organization_name or ""
    if not org_name or not team_name:
        raise CommandError(f"{spec!r} is not a team name: teams are ORG/TEAM, e.g. acme/developers")
    organization = organization_named(org_name)
    team = Team.objects.select_related("organization__namespace").filter(organization=organization, name=team_name).first()
    if team is None:
        raise CommandError(f"unknown team {org_name}/{team_name} (create it with: manage.py create_team {org_name} {team_name} --role member)")
    return team


def repository_named(name: str) -> Repository:
    try:
        repository = repository_find(name=name)
    except NameInvalidError:
        raise CommandError(f"{name!r} is not a valid repository name (NAMESPACE/NAME in lowercase, e.g. acme/app)") from None
    if repository is None:
        raise CommandError(f"unknown repository {name!r} (create it with: manage.py set_repository {name} --create)")
    return repository


# --- grantees: --user / --robot / --team ---------------------------------------------------


@dataclass(frozen=True)
class Grantee:
    """The user, robot or team named by ``--user``/``--robot``/``--team``."""

    kind: str  # "user" | "robot" | "team"
    name: str
    user: User | None = None
    robot: Robot | None = None
    team: Team | None = None

    def service_kwargs(self) -> dict[str, Any]:
        return {"user": self.user, "robot": self.robot, "team": self.team}

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def add_grantee_arguments(parser: CommandParser, *, verb: str) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--user", metavar="USER", help=f"{verb} a user")
    group.add_argument("--robot", metavar="NAMESPACE+ROBOT", help=f"{verb} a robot account, e.g. acme+deployer")
    group.add_argument("--team", metavar="ORG/TEAM", help=f"{verb} a team, e.g. acme/developers (a bare TEAM means a team of the same organization)")


def grantee_from_options(options: dict[str, Any], *, organization_name: str) -> Grantee:
    if options.get("user"):
        user = user_named(options["user"])
        return Grantee("user", user.username, user=user)
    if options.get("robot"):
        robot = robot_named(options["robot"])
        return Grantee("robot", robot.username, robot=robot)
    team = team_named(options["team"], organization_name=organization_name)
    return Grantee("team", str(team), team=team)
