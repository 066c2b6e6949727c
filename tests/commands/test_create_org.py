"""manage.py create_org."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from accounts.models import Namespace
from organizations.models import Organization, Team, TeamMember
from repositories.models import AuditLog
from tests.commands.conftest import run

pytestmark = pytest.mark.django_db


def test_organization_with_owners_team_holding_the_owner(alice):
    out = run("create_org", "acme", "--owner", "alice", "--email", "ops@acme.example")

    organization = Organization.objects.get(namespace__name="acme")
    assert organization.email == "ops@acme.example"
    assert organization.namespace.kind == Namespace.Kind.ORGANIZATION
    owners = Team.objects.get(organization=organization, name="owners")
    assert owners.role == Team.TeamRole.ADMIN
    assert list(TeamMember.objects.filter(team=owners).values_list("user__username", flat=True)) == ["alice"]
    assert "acme/owners" in out.stdout and "alice" in out.stdout
    assert "manage.py create_robot acme" in out.stdout  # the next step is spelled out


def test_audit_entry_names_the_owner(alice):
    run("create_org", "acme", "--owner", "alice")

    entry = AuditLog.objects.get(kind="create_org")
    assert entry.namespace_name == "acme" and entry.metadata["owner"] == "alice"


def test_json_output(alice):
    data = run("create_org", "acme", "--owner", "alice", "--json").json

    assert data == {"organization": "acme", "email": "", "owners_team": "acme/owners", "owners": ["alice"]}


def test_unknown_owner_creates_nothing(db):
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        run("create_org", "acme", "--owner", "ghost")
    assert not Namespace.objects.filter(name="acme").exists()


def test_owner_is_required(alice):
    with pytest.raises(CommandError, match="--owner"):
        run("create_org", "acme")


def test_name_of_a_user_is_taken(alice, bob):
    with pytest.raises(CommandError, match="cannot create organization 'bob': a user or organization already has this name"):
        run("create_org", "bob", "--owner", "alice")
    assert not AuditLog.objects.exists()


def test_invalid_name(alice):
    with pytest.raises(CommandError, match="cannot create organization 'ACME'"):
        run("create_org", "ACME", "--owner", "alice")
