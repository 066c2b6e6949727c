"""Clients holding real credentials, shared by every REST API test folder."""

from __future__ import annotations

from typing import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import RobotWithToken, user_create

PASSWORD = "correct-horse-battery"


def make_user(username: str, **flags: bool) -> User:
    return user_create(username=username, password=PASSWORD, email=f"{username}@example.test", **flags)


@pytest.fixture
def alice(db) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db) -> User:
    return make_user("bob")


@pytest.fixture
def root(db) -> User:
    return make_user("root", is_superuser=True)


@pytest.fixture
def auditor(db) -> User:
    return make_user("auditor", is_readonly_superuser=True)


@pytest.fixture
def login() -> Callable[[User], APIClient]:
    """A client signed in with a browser session (the user's password)."""

    def make(user: User) -> APIClient:
        client = APIClient()
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return make


@pytest.fixture
def bearer() -> Callable[..., APIClient]:
    """A client holding a JWT from /api/v1/token/, optionally limited to ``scope``."""

    def make(user: User, scope: str = "") -> APIClient:
        client = APIClient()
        response = client.post("/api/v1/token/", {"username": user.username, "password": PASSWORD, "scope": scope}, format="json")
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return client

    return make


@pytest.fixture
def robot_client() -> Callable[[RobotWithToken], APIClient]:
    def make(robot: RobotWithToken) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {robot.token}")
        return client

    return make


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()
