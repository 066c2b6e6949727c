"""Fixtures of the admin API suite (logs, superuser, banner messages): people with real
credentials, the organization ``acme`` administered by alice with bob as a plain member, and
clients signed in by session, by a JWT from /api/v1/token/ (optionally scoped) or by a robot token."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.principals import Principal
from accounts.services import RobotWithToken, principal_for_user, robot_create, user_create
from organizations.models import Organization, Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.models import AuditLog, Repository
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.repositories import repository_get_or_create

from tests.api.conftest import PASSWORD, make_user  # noqa: E402,F401  (shared with every API test)


@pytest.fixture
def acme(alice, bob) -> Organization:
    organization = organization_create(name="acme", creator=alice, email="registry@acme.test")
    team = team_upsert(organization=organization, name="devs", role=Team.TeamRole.MEMBER)
    team_member_add(team=team, user=bob)
    return organization


@pytest.fixture
def acme_app(acme) -> Repository:
    return repository_get_or_create(name="acme/app")


@pytest.fixture
def acme_robot(acme) -> RobotWithToken:
    return robot_create(namespace=acme.namespace, shortname="deployer")


def as_principal(user: User) -> Principal:
    return principal_for_user(user, "password")


def log_entry(
    kind: str, *, by: Principal | None = None, repository: Repository | None = None, namespace: str = "",
    at: datetime | None = None, metadata: dict[str, Any] | None = None, ip: str = "192.0.2.7",
) -> AuditLog:
    """An audit entry written by the real service, moved to ``at`` when given (entries are
    stamped with the current time on write)."""
    entry = audit_log(kind=kind, principal=by, repository=repository, namespace_name=namespace, request=RequestInfo(ip=ip, user_agent="pytest"), metadata=metadata)
    if at is not None:
        AuditLog.objects.filter(pk=entry.pk).update(created=at)
        entry.refresh_from_db()
    return entry
