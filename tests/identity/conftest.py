"""Fixtures of the identity suite.

In-process: ``world`` (users, teams, robots, repositories; see tests/identity/world.py) is built
once per module inside a transaction that is rolled back at the end of the module, like Django's
``setUpTestData``; every test still runs in its own savepoint (``db``). ``registry_switches``
sets the registry-wide switches on a copy of ``settings.MOORAGE_REGISTRY``.

Live: ``identity_registry`` is one real server with access control on
(``MOORAGE_REGISTRY_OPEN=false``) for the whole package, seeded through ``manage.py shell``;
``http`` is a requests session from a random loopback source address, so failed logins of one
test never throttle another (or another suite sharing Redis).
"""

from __future__ import annotations

import json
import random
import textwrap
from typing import Callable

import pytest
import requests
from django.db import transaction

from tests.identity.helpers import LiveWorld, SourceAddressAdapter, push_image
from tests.identity.world import World, build_world
from tests.live import LiveRegistry


# -- in-process ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def registry_switches(settings) -> Callable[..., None]:
    """``registry_switches(read_only=True)``: replace the registry settings by a changed copy."""

    def switch(**changes: bool) -> None:
        settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": False, "anonymous_pull": True, "read_only": False, "pushes_disabled": False, **changes}

    switch()
    return switch


# -- live ------------------------------------------------------------------------------------
PASSWORD = "s3cret-horse-battery"

SEED = textwrap.dedent(
    """
    import json
    import uuid
    from datetime import timedelta
    from django.utils import timezone
    from accounts.services import app_token_create, robot_create, user_create
    from organizations.models import Role, Team
    from organizations.services import organization_create, prototype_create, team_member_add, team_upsert
    from repositories.services.repositories import permission_set, repository_get_or_create, repository_set_visibility
    from accounts.services import principal_for_user

    pw = {password!r}
    # throttling counters may outlive this server in Redis: these two names are new every run
    throttled, resettable = "erin" + uuid.uuid4().hex[:8], "gina" + uuid.uuid4().hex[:8]
    users = {{name: user_create(username=name, password=pw) for name in ("alice", "bob", "carol", "dave", "frank", throttled, resettable)}}
    users["root"] = user_create(username="root", password=pw, is_superuser=True)
    acme = organization_create(name="acme", creator=users["alice"])
    readers = team_upsert(organization=acme, name="readers", role=Team.TeamRole.MEMBER)
    builders = team_upsert(organization=acme, name="builders", role=Team.TeamRole.CREATOR)
    team_member_add(team=readers, user=users["carol"])
    team_member_add(team=builders, user=users["bob"])
    prototype_create(organization=acme, role=Role.READ, delegate_team=readers)
    prototype_create(organization=acme, role=Role.WRITE, delegate_user=users["dave"], activating_user=users["bob"])
    ci = robot_create(namespace=acme.namespace, shortname="ci")
    alice = principal_for_user(users["alice"], "password")
    shared = repository_get_or_create(name="acme/shared", creator=alice)
    permission_set(repository=shared, role=Role.WRITE, robot=ci.robot)
    private = repository_get_or_create(name="alice/private", creator=alice)
    permission_set(repository=private, role=Role.READ, user=users["carol"])
    public = repository_set_visibility(repository=repository_get_or_create(name="alice/public", creator=alice), visibility="public")
    repository_get_or_create(name="alice/frozen", creator=alice)
    app_tokens = {{name: app_token_create(user=user, title="cli").token for name, user in users.items()}}
    expired = app_token_create(user=users["alice"], title="old", expires_at=timezone.now() - timedelta(minutes=1))
    print(json.dumps({{"robot_token": ci.token, "app_tokens": app_tokens, "expired_app_token": expired.token, "throttled_user": throttled, "resettable_user": resettable}}))
    """
)


@pytest.fixture(scope="package")
def identity_registry() -> LiveRegistry:
    registry = LiveRegistry.create(extra_env={"MOORAGE_REGISTRY_OPEN": "false"}).start()
    try:
        yield registry
    finally:
        registry.destroy()


@pytest.fixture(scope="package")
def live_world(identity_registry: LiveRegistry) -> LiveWorld:
    """alice owns ``alice/private`` (carol may read it), ``alice/public`` and ``alice/frozen``
    (READ_ONLY), each holding the image ``v1``; org ``acme`` (alice in owners, bob in the creator
    team ``builders``, carol in ``readers``) with prototypes (readers: read on every new
    repository; dave: write on repositories bob creates) and robot ``acme+ci`` (write on
    ``acme/shared``); alice has an app token and an expired one; root is a superuser."""
    result = identity_registry.manage("shell", "-c", SEED.format(password=PASSWORD))
    secrets = json.loads(result.stdout.strip().splitlines()[-1])
    world = LiveWorld(registry=identity_registry, password=PASSWORD, **secrets)
    with requests.Session() as session:
        session.mount("http://", SourceAddressAdapter(f"127.1.{random.randrange(1, 255)}.{random.randrange(1, 255)}"))
        for name in ("alice/private", "alice/public", "alice/frozen", "acme/shared"):
            world.images[name] = push_image(session, identity_registry.url, name, "v1", auth=world.login("alice"))
    world.shell("from repositories.models import Repository; Repository.objects.filter(full_name='alice/frozen').update(state='READ_ONLY')")
    return world


@pytest.fixture
def source_ip() -> str:
    return f"127.{random.randrange(2, 255)}.{random.randrange(0, 256)}.{random.randrange(1, 255)}"


@pytest.fixture
def http(source_ip: str) -> requests.Session:
    with requests.Session() as session:
        session.mount("http://", SourceAddressAdapter(source_ip))
        yield session
