"""manage.py grant and revoke."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from accounts.principals import Principal
from accounts.services import principal_for_robot, robot_create
from organizations.services import organization_create, team_upsert
from repositories.access import Action, is_allowed
from repositories.models import AuditLog, RepositoryPermission
from repositories.services.repositories import repository_get_or_create
from tests.commands.conftest import audit_kinds, run

pytestmark = pytest.mark.django_db


def _role(repository, **grantee) -> str | None:
    permission = RepositoryPermission.objects.filter(repository=repository, **grantee).first()
    return permission.role if permission else None


def test_grant_to_a_robot_lets_it_push(app_repo, deployer):
    robot = principal_for_robot(deployer)
    assert not is_allowed(robot, Action.PUSH, app_repo)

    out = run("grant", "acme/app", "write", "--robot", "acme+deployer")

    assert _role(app_repo, robot=deployer) == "write"
    assert is_allowed(robot, Action.PUSH, app_repo)
    assert out.stdout.strip() == "Granted write on acme/app to robot acme+deployer."
    entry = AuditLog.objects.get(kind="change_repo_permission")
    assert entry.repository_name == "acme/app" and entry.metadata["robot"] == "acme+deployer" and entry.metadata["role"] == "write"


def test_grant_to_a_user(app_repo, bob):
    run("grant", "acme/app", "read", "--user", "bob")

    assert _role(app_repo, user=bob) == "read"


def test_grant_to_a_team_by_full_or_bare_name(app_repo, acme):
    team = team_upsert(organization=acme, name="developers", role="member")

    run("grant", "acme/app", "read", "--team", "acme/developers")
    assert _role(app_repo, team=team) == "read"
    run("grant", "acme/app", "admin", "--team", "developers")
    assert _role(app_repo, team=team) == "admin"


def test_grant_replaces_the_previous_role(app_repo, deployer):
    run("grant", "acme/app", "admin", "--robot", "acme+deployer")
    out = run("grant", "acme/app", "read", "--robot", "acme+deployer", "--json")

    assert out.json == {
        "repository": "acme/app", "grantee": {"kind": "robot", "name": "acme+deployer"},
        "role": "read", "previous_role": "admin", "changed": True,
    }
    assert RepositoryPermission.objects.filter(repository=app_repo).count() == 1
    assert AuditLog.objects.filter(kind="change_repo_permission").order_by("id").last().metadata["previous_role"] == "admin"


def test_same_grant_twice_changes_nothing(app_repo, deployer):
    run("grant", "acme/app", "write", "--robot", "acme+deployer")
    out = run("grant", "acme/app", "write", "--robot", "acme+deployer")

    assert "nothing changed" in out.stdout
    assert audit_kinds() == ["change_repo_permission"]


def test_repository_must_exist(acme, bob):
    with pytest.raises(CommandError, match="unknown repository 'acme/missing'") as caught:
        run("grant", "acme/missing", "read", "--user", "bob")
    assert caught.value.returncode == 1
    assert "set_repository acme/missing --create" in str(caught.value)


def test_invalid_repository_name(acme, bob):
    with pytest.raises(CommandError, match="not a valid repository name"):
        run("grant", "Acme/App", "read", "--user", "bob")


def test_invalid_role(app_repo, bob):
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        run("grant", "acme/app", "owner", "--user", "bob")


def test_exactly_one_grantee(app_repo, bob, deployer):
    with pytest.raises(CommandError, match="one of the arguments --user --robot --team is required"):
        run("grant", "acme/app", "read")
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("grant", "acme/app", "read", "--user", "bob", "--robot", "acme+deployer")


def test_unknown_grantees(app_repo):
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        run("grant", "acme/app", "read", "--user", "ghost")
    with pytest.raises(CommandError, match=r"unknown robot 'acme\+ghost'"):
        run("grant", "acme/app", "read", "--robot", "acme+ghost")
    with pytest.raises(CommandError, match="not a robot name"):
        run("grant", "acme/app", "read", "--robot", "ghost")
    with pytest.raises(CommandError, match="unknown team acme/ghosts"):
        run("grant", "acme/app", "read", "--team", "acme/ghosts")
    assert not RepositoryPermission.objects.exists()


def test_robot_of_another_namespace_is_refused(app_repo, bob):
    other = organization_create(name="other", creator=bob)
    robot_create(namespace=other.namespace, shortname="spy")

    with pytest.raises(CommandError, match=r"cannot grant read on acme/app: robot other\+spy belongs to another namespace"):
        run("grant", "acme/app", "read", "--robot", "other+spy")
    assert not RepositoryPermission.objects.exists()


def test_team_of_another_organization_is_refused(app_repo, bob):
    other = organization_create(name="other", creator=bob)
    team_upsert(organization=other, name="spies", role="member")

    with pytest.raises(CommandError, match="team other/spies belongs to another organization"):
        run("grant", "acme/app", "read", "--team", "other/spies")


def test_namespace_owner_needs_no_grant(alice):
    repository_get_or_create(name="alice/tools")

    with pytest.raises(CommandError, match="the namespace owner is always admin"):
        run("grant", "alice/tools", "read", "--user", "alice")


def test_revoke_removes_the_permission(app_repo, deployer):
    run("grant", "acme/app", "write", "--robot", "acme+deployer")

    out = run("revoke", "acme/app", "--robot", "acme+deployer")

    assert _role(app_repo, robot=deployer) is None
    assert not is_allowed(principal_for_robot(deployer), Action.PULL, app_repo)
    assert out.stdout.strip() == "Revoked write on acme/app from robot acme+deployer."
    entry = AuditLog.objects.get(kind="delete_repo_permission")
    assert entry.metadata["previous_role"] == "write" and entry.repository_name == "acme/app"


def test_revoke_team_json(app_repo, acme):
    team_upsert(organization=acme, name="developers", role="member")
    run("grant", "acme/app", "read", "--team", "acme/developers")

    data = run("revoke", "acme/app", "--team", "acme/developers", "--json").json

    assert data == {"repository": "acme/app", "grantee": {"kind": "team", "name": "acme/developers"}, "previous_role": "read"}


def test_revoke_without_a_permission_is_an_error(app_repo, bob):
    with pytest.raises(CommandError, match="user bob has no direct permission on acme/app; nothing to revoke"):
        run("revoke", "acme/app", "--user", "bob")
    assert audit_kinds() == []


def test_revoke_on_unknown_repository(acme, bob):
    with pytest.raises(CommandError, match="unknown repository 'acme/missing'"):
        run("revoke", "acme/missing", "--user", "bob")


def test_revoked_user_keeps_no_access_on_a_private_repository(app_repo, bob):
    user = Principal(kind="user", id=bob.pk, name="bob", namespace_id=bob.namespace_id)
    run("grant", "acme/app", "read", "--user", "bob")
    assert is_allowed(user, Action.PULL, app_repo)

    run("revoke", "acme/app", "--user", "bob")

    assert not is_allowed(user, Action.PULL, app_repo)
