"""Fixtures of the tag, manifest and label API tests: a repository with a nested name
(``acme/team/app``), one user per role, real credentials (session login, JWTs from
/api/v1/token/, app and robot tokens) and images pushed through the real services onto
filesystem storage under ``tmp_path``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import app_token_create, robot_create
from organizations.models import Role
from repositories.models import Repository
from repositories.services.repositories import permission_set
from storagebackends.registry import reset_cache
from tests.factories import NamespaceFactory, RepositoryFactory, UserFactory

PASSWORD = "correct-horse-battery"  # UserFactory's


@pytest.fixture(autouse=True)
def storage(settings, tmp_path: Path):
    settings.MOORAGE_STORAGE_LOCATIONS = {"local": {"driver": "filesystem", "options": {"location": str(tmp_path / "storage")}}}
    settings.MOORAGE_STORAGE_PREFERENCE = ["local"]
    reset_cache()
    yield
    reset_cache()


@dataclass
class World:
    repository: Repository
    admin: User
    writer: User
    reader: User
    outsider: User

    @property
    def name(self) -> str:
        return self.repository.full_name


@pytest.fixture
def world(db) -> World:
    namespace = NamespaceFactory(name="acme")
    repository = RepositoryFactory(namespace=namespace, name="team/app", full_name="acme/team/app")
    # Unique names: /v2 caches Basic credentials by header (in Redis, across tests), so a name and
    # password reused by a later test would resolve to an earlier test's user for a while.
    suffix = uuid.uuid4().hex[:8]
    users = {role: UserFactory(username=f"{role}-{suffix}") for role in ("admin", "writer", "reader", "outsider")}
    permission_set(repository=repository, role=Role.ADMIN, user=users["admin"])
    permission_set(repository=repository, role=Role.WRITE, user=users["writer"])
    permission_set(repository=repository, role=Role.READ, user=users["reader"])
    return World(repository=repository, **users)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def login(api: APIClient) -> Callable[[User], APIClient]:
    """Sign ``user`` in with a browser session (the password, through Django's login)."""

    def sign_in(user: User) -> APIClient:
        assert api.login(username=user.username, password=PASSWORD)
        return api

    return sign_in


@pytest.fixture
def jwt(api: APIClient) -> Callable[..., APIClient]:
    """Authenticate the client with a JWT from /api/v1/token/, optionally limited to ``scope``."""

    def bearer(user: User, scope: str = "") -> APIClient:
        body: dict[str, str] = {"username": user.username, "password": PASSWORD}
        if scope:
            body["scope"] = scope
        response = api.post("/api/v1/token/", body, format="json")
        assert response.status_code == 200, response.content
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return api

    return bearer


@pytest.fixture
def app_token(api: APIClient) -> Callable[[User], APIClient]:
    def bearer(user: User) -> APIClient:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {app_token_create(user=user, title='ci').token}")
        return api

    return bearer


@pytest.fixture
def robot_token(api: APIClient, world: World) -> Callable[[str], APIClient]:
    """A robot of the repository's namespace holding ``role`` on it."""

    def bearer(role: str) -> APIClient:
        created = robot_create(namespace=world.repository.namespace, shortname=f"bot_{role}")
        permission_set(repository=world.repository, role=role, robot=created.robot)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {created.token}")
        return api

    return bearer
