"""Fixtures of the repository API tests: a small world of users, an organization with teams and
a robot, and API clients holding real credentials (session login, JWTs from /api/v1/token/,
app and robot tokens) — never ``force_authenticate``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import Namespace, Robot, User
from accounts.services import app_token_create, robot_create, user_create
from organizations.models import Organization, Role, Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.models import Repository
from repositories.services.repositories import permission_set

PASSWORD = "correct-horse-battery"


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    org: Organization | None = None
    teams: dict[str, Team] = field(default_factory=dict)
    robot: Robot | None = None
    robot_token: str = ""
    repos: dict[str, Repository] = field(default_factory=dict)


@pytest.fixture(autouse=True)
def registry(settings) -> None:
    """Access control on, anonymous pulls of public repositories allowed."""
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": False, "anonymous_pull": True, "read_only": False, "pushes_disabled": False}


def make_repository(namespace_name: str, name: str, *, visibility: str = "private", description: str = "") -> Repository:
    namespace = Namespace.objects.get(name=namespace_name)
    return Repository.objects.create(namespace=namespace, name=name, full_name=f"{namespace_name}/{name}", visibility=visibility, description=description)


@pytest.fixture
def world(db) -> World:
    """acme (organization): olga in owners (admin), carl in creators, tess in devs (write on
    acme/web), rita with a direct read on acme/web, robot acme+deployer; alice owns her namespace;
    nora belongs nowhere; root is a superuser."""
    w = World()
    for name in ("olga", "carl", "tess", "rita", "alice", "nora"):
        w.users[name] = user_create(username=name, password=PASSWORD, email=f"{name}@example.test")
    w.users["root"] = user_create(username="root", password=PASSWORD, is_superuser=True)
    w.org = organization_create(name="acme", creator=w.users["olga"])
    w.teams["creators"] = team_upsert(organization=w.org, name="creators", role=Team.TeamRole.CREATOR)
    w.teams["devs"] = team_upsert(organization=w.org, name="devs", role=Team.TeamRole.MEMBER)
    team_member_add(team=w.teams["creators"], user=w.users["carl"])
    team_member_add(team=w.teams["devs"], user=w.users["tess"])
    created = robot_create(namespace=w.org.namespace, shortname="deployer")
    w.robot, w.robot_token = created.robot, created.token
    w.repos["web"] = make_repository("acme", "web", description="The web front end")
    w.repos["public"] = make_repository("acme", "public-docs", visibility="public")
    w.repos["secret"] = make_repository("acme", "secret")
    w.repos["alice"] = make_repository("alice", "tools/cli")
    permission_set(repository=w.repos["web"], role=Role.WRITE, team=w.teams["devs"])
    permission_set(repository=w.repos["web"], role=Role.READ, user=w.users["rita"])
    permission_set(repository=w.repos["web"], role=Role.WRITE, robot=w.robot)
    return w


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def session_client(world) -> Callable[[str], APIClient]:
    """``session_client("olga")``: a client signed in with a browser session."""

    def make(username: str) -> APIClient:
        client = APIClient()
        assert client.login(username=username, password=PASSWORD)
        return client

    return make


@pytest.fixture
def jwt_client(world) -> Callable[..., APIClient]:
    """``jwt_client("olga", scope="repo:read")``: a client holding a JWT from /api/v1/token/."""

    def make(username: str, scope: str = "") -> APIClient:
        client = APIClient()
        body = {"username": username, "password": PASSWORD}
        if scope:
            body["scope"] = scope
        response = client.post("/api/v1/token/", body, format="json")
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return client

    return make


@pytest.fixture
def app_token_client(world) -> Callable[[str], APIClient]:
    def make(username: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {app_token_create(user=world.users[username], title='cli').token}")
        return client

    return make


@pytest.fixture
def robot_client(world) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.robot_token}")
    return client
