"""manage.py create_team."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from accounts.services import robot_create, user_create
from organizations.models import Team, TeamMember
from organizations.services import organization_create
from repositories.models import AuditLog
from tests.commands.conftest import audit_kinds, run

pytestmark = pytest.mark.django_db


def _members(team: Team) -> set[str]:
    return {m.user.username if m.user else m.robot.username for m in TeamMember.objects.filter(team=team).select_related("user", "robot__namespace")}


def test_team_with_user_and_robot_members(acme, bob, deployer):
    out = run("create_team", "acme", "developers", "--role", "creator", "--member", "bob", "acme+deployer", "--description", "Devs")

    team = Team.objects.get(organization=acme, name="developers")
    assert (team.role, team.description) == ("creator", "Devs")
    assert _members(team) == {"bob", "acme+deployer"}
    assert "Created team acme/developers (role creator)" in out.stdout
    assert "acme+deployer, bob" in out.stdout
    assert audit_kinds() == ["create_team", "add_team_member", "add_team_member"]


def test_member_option_may_be_repeated(acme, alice, bob):
    run("create_team", "acme", "developers", "--role", "member", "--member", "alice", "--member", "bob")

    assert _members(Team.objects.get(name="developers")) == {"alice", "bob"}


def test_second_run_updates_role_keeps_members_and_description(acme, bob, alice):
    run("create_team", "acme", "developers", "--role", "member", "--member", "bob", "--description", "Devs")
    AuditLog.objects.all().delete()

    out = run("create_team", "acme", "developers", "--role", "admin", "--member", "alice")

    team = Team.objects.get(name="developers")
    assert team.role == "admin" and team.description == "Devs"
    assert _members(team) == {"alice", "bob"}
    assert "role member -> admin" in out.stdout and "added alice" in out.stdout
    assert audit_kinds() == ["change_team", "add_team_member"]
    assert AuditLog.objects.get(kind="change_team").metadata["previous_role"] == "member"


def test_repeating_the_same_request_changes_nothing(acme, bob):
    run("create_team", "acme", "developers", "--role", "member", "--member", "bob")
    AuditLog.objects.all().delete()

    out = run("create_team", "acme", "developers", "--role", "member", "--member", "bob")

    assert "nothing changed" in out.stdout
    assert audit_kinds() == []


def test_json_output(acme, bob):
    data = run("create_team", "acme", "developers", "--role", "member", "--member", "bob", "--json").json

    assert data == {
        "organization": "acme", "team": "developers", "role": "member", "description": "", "created": True,
        "added_members": ["bob"], "members": ["bob"],
    }


def test_unknown_member_creates_no_team(acme, bob):
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        run("create_team", "acme", "developers", "--role", "member", "--member", "bob", "ghost")
    assert not Team.objects.filter(name="developers").exists()
    assert audit_kinds() == []


def test_unknown_robot_member(acme):
    with pytest.raises(CommandError, match=r"unknown robot 'acme\+nobody'"):
        run("create_team", "acme", "developers", "--role", "member", "--member", "acme+nobody")


def test_robot_of_another_namespace_is_refused_and_nothing_is_kept(acme, bob):
    other = organization_create(name="other", creator=bob)
    robot_create(namespace=other.namespace, shortname="spy")

    with pytest.raises(CommandError, match="only robots of the organization can join its teams"):
        run("create_team", "acme", "developers", "--role", "member", "--member", "other+spy")
    assert not Team.objects.filter(name="developers").exists()  # the whole command is one transaction


def test_invalid_role_is_a_usage_error(acme):
    with pytest.raises(CommandError, match="invalid choice: 'boss'"):
        run("create_team", "acme", "developers", "--role", "boss")


def test_invalid_team_name(acme):
    with pytest.raises(CommandError, match="team names are 2-255 lowercase letters"):
        run("create_team", "acme", "Dev Team", "--role", "member")


def test_owners_team_keeps_the_admin_role(acme):
    with pytest.raises(CommandError, match="the owners team always has the admin role"):
        run("create_team", "acme", "owners", "--role", "member")
    assert Team.objects.get(name="owners").role == "admin"


def test_unknown_organization(db):
    with pytest.raises(CommandError, match="unknown organization 'nowhere'"):
        run("create_team", "nowhere", "developers", "--role", "member")


def test_user_namespace_has_no_teams(alice):
    with pytest.raises(CommandError, match="'alice' is a user, not an organization"):
        run("create_team", "alice", "developers", "--role", "member")


def test_member_that_is_an_organization(acme, bob):
    organization_create(name="other", creator=bob)
    user_create(username="carol", password=None)
    with pytest.raises(CommandError, match="'other' is an organization, not a user"):
        run("create_team", "acme", "developers", "--role", "member", "--member", "carol", "other")
