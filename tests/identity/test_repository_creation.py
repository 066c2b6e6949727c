"""Creating a repository by pushing (``repository_get_or_create`` with a creator): visibility,
the creator's admin role, organization default permissions (prototypes), missing namespaces."""

from __future__ import annotations

import pytest

from accounts.models import Namespace
from common.errors import NameUnknownError
from organizations.models import Organization, Role, Team
from organizations.services import prototype_create
from repositories.access import Action, is_allowed, repository_role
from repositories.models import Repository, RepositoryPermission
from repositories.services.repositories import repository_get_or_create
from tests.identity.world import World

pytestmark = pytest.mark.django_db


def grants_of(repository: Repository) -> set[tuple[str, str]]:
    """{(grantee, role)} of the explicit permissions on ``repository``."""
    rows = RepositoryPermission.objects.filter(repository=repository).select_related("user", "robot__namespace", "team")
    return {(str(row.user or row.robot or row.team), row.role) for row in rows}


def test_a_repository_created_by_pushing_is_private(world: World):
    repository = repository_get_or_create(name="olivia/fresh", creator=world.principals["olivia"])

    assert repository.visibility == Repository.Visibility.PRIVATE
    assert repository.state == Repository.State.NORMAL


def test_the_owner_of_a_personal_namespace_administers_a_new_repository_without_an_extra_grant(world: World):
    repository = repository_get_or_create(name="olivia/fresh", creator=world.principals["olivia"])

    assert grants_of(repository) == set()
    assert repository_role(world.principals["olivia"], repository) == Role.ADMIN


def test_a_creator_team_member_becomes_admin_of_the_repository_they_create(world: World):
    repository = repository_get_or_create(name="acme/fresh", creator=world.principals["creator"])

    assert ("creator", Role.ADMIN) in grants_of(repository)
    assert is_allowed(world.principals["creator"], Action.ADMIN, repository)


def test_a_robot_that_creates_a_repository_becomes_its_admin(world: World):
    repository = repository_get_or_create(name="acme/fresh", creator=world.principals["acme+maker"])

    assert ("acme+maker", Role.ADMIN) in grants_of(repository)


def test_other_members_of_the_organization_get_nothing_on_a_new_repository_without_prototypes(world: World):
    repository = repository_get_or_create(name="acme/fresh", creator=world.principals["creator"])

    assert not is_allowed(world.principals["member"], Action.PULL, repository)
    assert not is_allowed(world.principals["teamwriter"], Action.PULL, repository)


def test_organization_prototypes_apply_to_a_new_repository(world: World):
    prototype_create(organization=world.organization, role=Role.READ, delegate_team=world.teams["lurkers"])
    prototype_create(organization=world.organization, role=Role.WRITE, delegate_robot=world.robots["acme+deployer"])
    prototype_create(organization=world.organization, role=Role.ADMIN, delegate_user=world.users["stranger"])

    repository = repository_get_or_create(name="acme/fresh", creator=world.principals["creator"])

    assert grants_of(repository) == {("creator", Role.ADMIN), ("acme/lurkers", Role.READ), ("acme+deployer", Role.WRITE), ("stranger", Role.ADMIN)}
    assert is_allowed(world.principals["member"], Action.PULL, repository)
    assert not is_allowed(world.principals["member"], Action.PUSH, repository)


def test_a_prototype_with_an_activating_user_applies_only_when_that_user_creates(world: World):
    prototype_create(organization=world.organization, role=Role.WRITE, delegate_user=world.users["stranger"], activating_user=world.users["creator"])

    by_creator = repository_get_or_create(name="acme/by-creator", creator=world.principals["creator"])
    by_admin = repository_get_or_create(name="acme/by-admin", creator=world.principals["orgadmin"])

    assert ("stranger", Role.WRITE) in grants_of(by_creator)
    assert ("stranger", Role.WRITE) not in grants_of(by_admin)


def test_a_prototype_with_an_activating_user_overrides_the_general_one_for_the_same_delegate(world: World):
    prototype_create(organization=world.organization, role=Role.WRITE, delegate_team=world.teams["lurkers"])
    prototype_create(organization=world.organization, role=Role.READ, delegate_team=world.teams["lurkers"], activating_user=world.users["creator"])

    by_creator = repository_get_or_create(name="acme/by-creator", creator=world.principals["creator"])
    by_admin = repository_get_or_create(name="acme/by-admin", creator=world.principals["orgadmin"])

    assert ("acme/lurkers", Role.READ) in grants_of(by_creator)
    assert ("acme/lurkers", Role.WRITE) in grants_of(by_admin)


def test_a_prototype_never_lowers_the_creators_own_admin_role(world: World):
    prototype_create(organization=world.organization, role=Role.READ, delegate_user=world.users["creator"])

    repository = repository_get_or_create(name="acme/fresh", creator=world.principals["creator"])

    assert ("creator", Role.ADMIN) in grants_of(repository)


def test_an_existing_repository_is_returned_unchanged(world: World):
    existing = world.repository("acme/private-normal")

    again = repository_get_or_create(name="acme/private-normal", creator=world.principals["creator"])

    assert again.pk == existing.pk
    assert ("creator", Role.ADMIN) not in grants_of(again)


def test_a_superuser_pushing_into_a_missing_namespace_creates_an_organization_they_own(world: World):
    repository = repository_get_or_create(name="newco/app", creator=world.principals["root"])

    organization = Organization.objects.get(namespace__name="newco")
    assert repository.namespace_id == organization.namespace_id
    assert organization.teams.get(name="owners").members.filter(user=world.users["root"]).exists()
    assert organization.teams.get(name="owners").role == Team.TeamRole.ADMIN


def test_a_user_pushing_into_a_missing_namespace_gets_name_unknown(world: World):
    with pytest.raises(NameUnknownError):
        repository_get_or_create(name="nowhere/app", creator=world.principals["olivia"])

    assert not Namespace.objects.filter(name="nowhere").exists()
