"""``repositories.access`` for proxy-cache organizations, as a table: who may pull a repository
the cache has not created yet and one it has (private), and that every write is refused with a
reason naming the upstream, whoever asks (even on an open registry)."""

from __future__ import annotations

import pytest

from accounts.principals import ANONYMOUS
from accounts.services import principal_for_robot, principal_for_user, robot_create
from organizations.models import Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.access import Action, is_allowed, state_refuses
from repositories.models import Repository
from repositories.services.proxy import proxy_config_create
from tests.api.conftest import make_user

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def world(db):
    owner, member, outsider, root = make_user("owner"), make_user("member"), make_user("outsider"), make_user("root", is_superuser=True)
    org = organization_create(name="cache", creator=owner)
    team_member_add(team=team_upsert(organization=org, name="readers", role=Team.TeamRole.MEMBER, description=""), user=member)
    proxy_config_create(organization=org, upstream_registry="127.0.0.1:5999/lib", insecure=True)
    robot = robot_create(namespace=org.namespace, shortname="ci").robot
    other_org = organization_create(name="other", creator=outsider)
    foreign_robot = robot_create(namespace=other_org.namespace, shortname="ci").robot
    repository = Repository.objects.create(namespace=org.namespace, name="cached", full_name="cache/cached")
    return {
        "owner": principal_for_user(owner, "password"), "member": principal_for_user(member, "password"),
        "robot": principal_for_robot(robot), "outsider": principal_for_user(outsider, "password"),
        "foreign robot": principal_for_robot(foreign_robot), "anonymous": ANONYMOUS,
        "superuser": principal_for_user(root, "password"), "repository": repository,
    }


@pytest.mark.parametrize(
    ("who", "may_pull"),
    [("owner", True), ("member", True), ("robot", True), ("superuser", True), ("outsider", False), ("foreign robot", False), ("anonymous", False)],
)
def test_pull_in_a_proxy_cache_organization(world, who, may_pull):
    principal = world[who]

    assert is_allowed(principal, Action.PULL, None, name="cache/not-yet") is may_pull
    assert is_allowed(principal, Action.PULL, world["repository"], name="cache/cached") is may_pull


@pytest.mark.parametrize("who", ["owner", "member", "robot", "superuser", "outsider", "anonymous"])
@pytest.mark.parametrize("action", [Action.PUSH, Action.DELETE, Action.ADMIN])
def test_every_write_is_refused_naming_the_upstream(world, who, action):
    principal = world[who]

    assert not is_allowed(principal, action, world["repository"], name="cache/cached")
    assert not is_allowed(principal, action, None, name="cache/new")
    reason = state_refuses(action, None, principal, name="cache/new")
    assert reason == "organization cache is a pull-through cache of 127.0.0.1:5999/lib; pushes, deletes and tag changes are refused"


def test_a_write_is_refused_on_an_open_registry_too(world, settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": True}

    assert is_allowed(ANONYMOUS, Action.PULL, world["repository"], name="cache/cached")
    assert not is_allowed(ANONYMOUS, Action.PUSH, world["repository"], name="cache/cached")
    assert not is_allowed(ANONYMOUS, Action.PUSH, None, name="cache/new")


def test_a_public_cached_repository_is_pullable_anonymously_as_any_public_repository(world, settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "anonymous_pull": True}
    Repository.objects.filter(pk=world["repository"].pk).update(visibility=Repository.Visibility.PUBLIC)
    repository = Repository.objects.get(pk=world["repository"].pk)

    assert is_allowed(ANONYMOUS, Action.PULL, repository, name="cache/cached")
    assert not is_allowed(ANONYMOUS, Action.PULL, None, name="cache/not-yet")
