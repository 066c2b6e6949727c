"""manage.py set_repository."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from accounts.principals import ANONYMOUS
from accounts.services import principal_for_robot
from organizations.services import prototype_create, team_upsert
from repositories.access import Action, is_allowed
from repositories.models import AuditLog, Repository, RepositoryPermission
from tests.commands.conftest import audit_kinds, run

pytestmark = pytest.mark.django_db


def test_make_public_lets_anonymous_pull(app_repo):
    assert not is_allowed(ANONYMOUS, Action.PULL, app_repo)

    out = run("set_repository", "acme/app", "--visibility", "public")

    app_repo.refresh_from_db()
    assert app_repo.visibility == "public"
    assert is_allowed(ANONYMOUS, Action.PULL, app_repo)
    assert "visibility private -> public" in out.stdout
    entry = AuditLog.objects.get(kind="change_repo_visibility")
    assert (entry.repository_name, entry.metadata["visibility"], entry.metadata["previous"]) == ("acme/app", "public", "private")


def test_read_only_state_stops_pushes(app_repo, deployer):
    RepositoryPermission.objects.create(repository=app_repo, robot=deployer, role="write")  # set-up only
    assert is_allowed(principal_for_robot(deployer), Action.PUSH, app_repo)

    run("set_repository", "acme/app", "--state", "READ_ONLY")

    app_repo.refresh_from_db()
    assert app_repo.state == "READ_ONLY"
    assert not is_allowed(principal_for_robot(deployer), Action.PUSH, app_repo)
    assert audit_kinds() == ["change_repo_state"]


def test_both_changes_at_once_json(app_repo):
    data = run("set_repository", "acme/app", "--visibility", "public", "--state", "MIRROR", "--json").json

    assert data["visibility"] == "public" and data["state"] == "MIRROR" and data["created"] is False
    assert data["changes"] == ["visibility private -> public", "state NORMAL -> MIRROR"]
    assert audit_kinds() == ["change_repo_visibility", "change_repo_state"]


def test_unchanged_values_write_no_audit_entry(app_repo):
    out = run("set_repository", "acme/app", "--visibility", "private", "--state", "NORMAL")

    assert "nothing changed" in out.stdout
    assert audit_kinds() == []


def test_without_options_it_shows_the_repository_and_its_permissions(app_repo, acme, deployer):
    team = team_upsert(organization=acme, name="developers", role="member")
    RepositoryPermission.objects.create(repository=app_repo, team=team, role="write")
    RepositoryPermission.objects.create(repository=app_repo, robot=deployer, role="read")

    out = run("set_repository", "acme/app")

    assert "Visibility:  private" in out.stdout and "State:       NORMAL" in out.stdout
    assert "team acme/developers write" in out.stdout and "robot acme+deployer read" in out.stdout
    assert audit_kinds() == []


def test_create_makes_a_private_repository_owned_by_its_namespace(acme):
    out = run("set_repository", "acme/new", "--create")

    repository = Repository.objects.get(full_name="acme/new")
    assert repository.namespace == acme.namespace and repository.visibility == "private"
    assert not RepositoryPermission.objects.filter(repository=repository).exists()  # the operator gets no grant
    assert out.stdout.startswith("Created repository acme/new")
    assert audit_kinds() == ["create_repo"]


def test_create_applies_the_organizations_generic_default_permissions(acme, deployer, bob):
    team = team_upsert(organization=acme, name="developers", role="member")
    prototype_create(organization=acme, role="write", delegate_team=team)
    prototype_create(organization=acme, role="admin", delegate_robot=deployer, activating_user=bob)  # only when bob creates

    data = run("set_repository", "acme/new", "--create", "--json").json

    assert data["permissions"] == [{"kind": "team", "name": "acme/developers", "role": "write"}]


def test_create_with_visibility(acme):
    data = run("set_repository", "acme/new", "--create", "--visibility", "public", "--json").json

    assert data["created"] is True and data["visibility"] == "public"
    assert audit_kinds() == ["create_repo", "change_repo_visibility"]


def test_create_on_an_existing_repository_only_applies_the_changes(app_repo):
    data = run("set_repository", "acme/app", "--create", "--state", "READ_ONLY", "--json").json

    assert data["created"] is False and data["state"] == "READ_ONLY"
    assert audit_kinds() == ["change_repo_state"]


def test_create_needs_an_existing_namespace(db):
    with pytest.raises(CommandError, match="no user or organization is called 'ghost'"):
        run("set_repository", "ghost/app", "--create")
    assert not Repository.objects.exists()


def test_missing_repository_without_create(acme):
    with pytest.raises(CommandError, match="unknown repository 'acme/nope'") as caught:
        run("set_repository", "acme/nope", "--visibility", "public")
    assert caught.value.returncode == 1


def test_invalid_name_with_create(acme):
    with pytest.raises(CommandError, match="not a valid repository name"):
        run("set_repository", "acme/Bad Name", "--create")


@pytest.mark.parametrize(("option", "value"), [("--visibility", "internal"), ("--state", "DELETED")])
def test_invalid_values(app_repo, option, value):
    with pytest.raises(CommandError, match=f"invalid choice: '{value}'"):
        run("set_repository", "acme/app", option, value)
