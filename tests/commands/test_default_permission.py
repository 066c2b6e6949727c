"""manage.py default_permission (Quay's "prototypes")."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from accounts.services import principal_for_user, robot_create
from organizations.models import Prototype
from organizations.services import organization_create, team_upsert
from repositories.models import AuditLog, RepositoryPermission
from repositories.services.repositories import repository_get_or_create
from tests.commands.conftest import audit_kinds, run

pytestmark = pytest.mark.django_db


def test_team_default_permission_applies_to_repositories_created_later(acme, alice):
    team = team_upsert(organization=acme, name="developers", role="member")

    out = run("default_permission", "acme", "write", "--team", "acme/developers")

    prototype = Prototype.objects.get(organization=acme)
    assert (prototype.role, prototype.delegate_team, prototype.activating_user) == ("write", team, None)
    assert out.stdout.strip() == "Default permission added to acme: when anyone creates a repository, team acme/developers gets write."
    repository = repository_get_or_create(name="acme/fresh", creator=principal_for_user(alice, "password"))
    assert RepositoryPermission.objects.get(repository=repository, team=team).role == "write"


def test_when_created_by_limits_the_rule_to_one_creator(acme, alice, bob, deployer):
    run("default_permission", "acme", "admin", "--robot", "acme+deployer", "--when-created-by", "bob")

    by_alice = repository_get_or_create(name="acme/one", creator=principal_for_user(alice, "password"))
    by_bob = repository_get_or_create(name="acme/two", creator=principal_for_user(bob, "password"))
    assert not RepositoryPermission.objects.filter(repository=by_alice, robot=deployer).exists()
    assert RepositoryPermission.objects.get(repository=by_bob, robot=deployer).role == "admin"


def test_user_delegate_and_json(acme, bob):
    data = run("default_permission", "acme", "read", "--user", "bob", "--json").json

    prototype = Prototype.objects.get()
    assert data == {
        "organization": "acme", "uuid": str(prototype.uuid), "role": "read",
        "delegate": {"kind": "user", "name": "bob"}, "activating_user": None,
    }


def test_audit_entry(acme, deployer, bob):
    run("default_permission", "acme", "write", "--robot", "acme+deployer", "--when-created-by", "bob")

    entry = AuditLog.objects.get(kind="create_prototype_permission")
    assert entry.namespace_name == "acme"
    assert entry.metadata["delegate_robot"] == "acme+deployer" and entry.metadata["activating_user"] == "bob"


def test_user_namespace_has_no_default_permissions(alice, bob):
    with pytest.raises(CommandError, match="'alice' is a user, not an organization"):
        run("default_permission", "alice", "read", "--user", "bob")


def test_robot_of_another_namespace_is_refused(acme, bob):
    other = organization_create(name="other", creator=bob)
    robot_create(namespace=other.namespace, shortname="spy")

    with pytest.raises(CommandError, match="only robots of the organization can receive its default permissions"):
        run("default_permission", "acme", "read", "--robot", "other+spy")
    assert not Prototype.objects.exists()
    assert audit_kinds() == []


def test_team_of_another_organization_is_refused(acme, bob):
    other = organization_create(name="other", creator=bob)
    team_upsert(organization=other, name="spies", role="member")

    with pytest.raises(CommandError, match="only teams of the organization"):
        run("default_permission", "acme", "read", "--team", "other/spies")


def test_unknown_names(acme):
    with pytest.raises(CommandError, match="unknown organization 'nowhere'"):
        run("default_permission", "nowhere", "read", "--user", "alice")
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        run("default_permission", "acme", "read", "--user", "ghost")
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        run("default_permission", "acme", "read", "--user", "alice", "--when-created-by", "ghost")
    assert not Prototype.objects.exists()


def test_invalid_role(acme):
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        run("default_permission", "acme", "owner", "--user", "alice")
