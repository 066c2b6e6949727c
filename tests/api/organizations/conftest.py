"""Fixtures of the organization API suite: the organization ``acme`` owned by alice, bob in its
``devs`` team, carol outside it, a superuser and a global read-only superuser, and API clients
that hold real credentials (a session login, a JWT from /api/v1/token/, or a robot token)."""

from __future__ import annotations

from typing import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import RobotWithToken, robot_create, user_create
from organizations.models import Organization, Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.models import AuditLog, Repository
from repositories.services.repositories import repository_get_or_create

from tests.api.conftest import PASSWORD, make_user  # noqa: E402,F401  (shared with every API test)


@pytest.fixture
def carol(db) -> User:
    return make_user("carol")


@pytest.fixture
def acme(alice) -> Organization:
    return organization_create(name="acme", creator=alice, email="registry@acme.test")


@pytest.fixture
def devs(acme, bob) -> Team:
    team = team_upsert(organization=acme, name="devs", role=Team.TeamRole.MEMBER, description="developers")
    team_member_add(team=team, user=bob)
    return team


@pytest.fixture
def acme_robot(acme) -> RobotWithToken:
    return robot_create(namespace=acme.namespace, shortname="deployer", description="pushes from CI")


@pytest.fixture
def acme_repository(acme) -> Repository:
    return repository_get_or_create(name="acme/app")


@pytest.fixture
def as_alice(login, alice, acme) -> APIClient:
    return login(alice)


@pytest.fixture
def as_bob(login, bob, devs) -> APIClient:
    return login(bob)


@pytest.fixture
def as_carol(login, carol) -> APIClient:
    return login(carol)


@pytest.fixture
def as_root(login, root) -> APIClient:
    return login(root)


@pytest.fixture
def as_auditor(login, auditor) -> APIClient:
    return login(auditor)


def audit_entries(kind: str, namespace_name: str = "acme") -> list[AuditLog]:
    return list(AuditLog.objects.filter(kind=kind, namespace_name=namespace_name).order_by("id"))
