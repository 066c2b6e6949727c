"""The in-process world of the authorization tests: users, an organization with teams, robots and
repositories in every visibility x state, built through the services.

Actors and what they hold (repositories ``acme/<visibility>-<state>``; olivia's own are
``olivia/<visibility>-<state>``):

=================  =========================================================================
olivia             owns the personal namespace ``olivia``
stranger           nothing
reader             read on every acme repository (direct)
writer             write on every acme repository (direct)
repoadmin          admin on every acme repository (direct)
teamwriter         member of team ``acme/devs``, which has write on every acme repository
orgadmin           member of ``acme/owners`` (team role admin; created the organization)
creator            member of ``acme/makers`` (team role creator), no repository grants
member             member of ``acme/lurkers`` (team role member), no repository grants
acme+deployer      robot with write on every acme repository (direct)
acme+builder       robot in team ``acme/bots``, which has read on every acme repository
acme+maker         robot in ``acme/makers`` (team role creator)
root               superuser
auditor            global read-only superuser
=================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import Robot, User
from accounts.principals import ANONYMOUS, Principal
from accounts.services import principal_for_robot, principal_for_user, robot_create, user_create
from oci.auth import principal_from_claims
from organizations.models import Organization, Role, Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.models import Repository
from repositories.services.repositories import permission_set

VISIBILITIES = ("public", "private")
STATES = {"NORMAL": "normal", "READ_ONLY": "read-only", "MIRROR": "mirror"}
USERS = ("olivia", "stranger", "reader", "writer", "repoadmin", "teamwriter", "orgadmin", "creator", "member")


def repository_name(namespace: str, visibility: str, state: str) -> str:
    return f"{namespace}/{visibility}-{STATES[state]}"


@dataclass
class World:
    principals: dict[str, Principal] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    robots: dict[str, Robot] = field(default_factory=dict)
    repositories: dict[str, Repository] = field(default_factory=dict)
    organization: Organization | None = None
    teams: dict[str, Team] = field(default_factory=dict)

    def repository(self, name: str) -> Repository:
        return self.repositories[name]


def bearer(subject: str, grants: list[tuple[str, str]], **context: object) -> Principal:
    """A principal as /v2 sees it after verifying a token granting ``(repository, action)`` pairs."""
    access: dict[str, list[str]] = {}
    for name, action in grants:
        access.setdefault(name, []).append(action)
    claims = {
        "sub": subject,
        "access": [
            {"type": "registry", "name": "catalog", "actions": actions} if name == "registry:catalog" else {"type": "repository", "name": name, "actions": actions}
            for name, actions in access.items()
        ],
        "context": {"kind": "user", "name": subject, **context},
    }
    return principal_from_claims(claims)


def build_world() -> World:
    world = World()
    for username in USERS:
        world.users[username] = user_create(username=username, password="correct-horse-battery")
    world.users["root"] = user_create(username="root", password="correct-horse-battery", is_superuser=True)
    world.users["auditor"] = user_create(username="auditor", password="correct-horse-battery", is_readonly_superuser=True)

    acme = organization_create(name="acme", creator=world.users["orgadmin"])
    world.organization = acme
    world.teams["owners"] = acme.teams.get(name="owners")
    world.teams["devs"] = team_upsert(organization=acme, name="devs", role=Team.TeamRole.MEMBER)
    world.teams["makers"] = team_upsert(organization=acme, name="makers", role=Team.TeamRole.CREATOR)
    world.teams["lurkers"] = team_upsert(organization=acme, name="lurkers", role=Team.TeamRole.MEMBER)
    world.teams["bots"] = team_upsert(organization=acme, name="bots", role=Team.TeamRole.MEMBER)
    for shortname in ("deployer", "builder", "maker"):
        world.robots[f"acme+{shortname}"] = robot_create(namespace=acme.namespace, shortname=shortname).robot
    team_member_add(team=world.teams["devs"], user=world.users["teamwriter"])
    team_member_add(team=world.teams["makers"], user=world.users["creator"])
    team_member_add(team=world.teams["lurkers"], user=world.users["member"])
    team_member_add(team=world.teams["bots"], robot=world.robots["acme+builder"])
    team_member_add(team=world.teams["makers"], robot=world.robots["acme+maker"])

    for namespace_name, namespace in (("acme", acme.namespace), ("olivia", world.users["olivia"].namespace)):
        for visibility in VISIBILITIES:
            for state in STATES:
                full_name = repository_name(namespace_name, visibility, state)
                repository = Repository.objects.create(
                    namespace=namespace, name=full_name.split("/", 1)[1], full_name=full_name, visibility=visibility, state=state
                )
                world.repositories[full_name] = repository
                if namespace_name != "acme":
                    continue
                permission_set(repository=repository, role=Role.READ, user=world.users["reader"])
                permission_set(repository=repository, role=Role.WRITE, user=world.users["writer"])
                permission_set(repository=repository, role=Role.ADMIN, user=world.users["repoadmin"])
                permission_set(repository=repository, role=Role.WRITE, team=world.teams["devs"])
                permission_set(repository=repository, role=Role.WRITE, robot=world.robots["acme+deployer"])
                permission_set(repository=repository, role=Role.READ, team=world.teams["bots"])

    world.principals["anonymous"] = ANONYMOUS
    for username, user in world.users.items():
        world.principals[username] = principal_for_user(user, "password")
    for username, robot in world.robots.items():
        world.principals[username] = principal_for_robot(robot)
    return world
