"""Cached Basic credentials on /v2 stop working as soon as they are changed or revoked."""

from __future__ import annotations

import base64

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from accounts.services import app_token_create, app_token_revoke, robot_create, robot_regenerate_token, user_create, user_set_enabled, user_update
from accounts.services import namespace_get_or_create
from common.errors import UnauthorizedError
from oci.auth import principal_from_request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _authenticate(username: str, secret: str):
    header = "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    request = RequestFactory().get("/v2/", HTTP_AUTHORIZATION=header, REMOTE_ADDR="127.0.0.9")
    return principal_from_request(request)


def test_a_changed_password_stops_working_at_once():
    user = user_create(username="dora", password="old-password-1")
    assert _authenticate("dora", "old-password-1").name == "dora"  # now cached

    user_update(user=user, password="new-password-2")

    with pytest.raises(UnauthorizedError):
        _authenticate("dora", "old-password-1")
    assert _authenticate("dora", "new-password-2").name == "dora"


def test_a_revoked_app_token_stops_working_at_once():
    user = user_create(username="eli", password="eli-password-1")
    created = app_token_create(user=user, title="laptop")
    assert _authenticate("$app", created.token).name == "eli"

    app_token_revoke(app_token=created.app_token)

    with pytest.raises(UnauthorizedError):
        _authenticate("$app", created.token)


def test_a_regenerated_robot_token_replaces_the_old_one_at_once():
    robot = robot_create(namespace=namespace_get_or_create(name="acme"), shortname="ci")
    assert _authenticate("acme+ci", robot.token).name == "acme+ci"

    regenerated = robot_regenerate_token(robot=robot.robot)

    with pytest.raises(UnauthorizedError):
        _authenticate("acme+ci", robot.token)
    assert _authenticate("acme+ci", regenerated.token).name == "acme+ci"


def test_a_disabled_user_is_refused_at_once():
    user = user_create(username="finn", password="finn-password-1")
    assert _authenticate("finn", "finn-password-1").name == "finn"

    user_set_enabled(user=user, enabled=False)

    with pytest.raises(UnauthorizedError):
        _authenticate("finn", "finn-password-1")
