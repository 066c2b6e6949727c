"""The admin pages for organizations, teams and default permissions (organizations/admin.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Namespace
from accounts.services import robot_create, user_create
from organizations.models import Organization, Prototype, Team, TeamMember
from organizations.services import organization_create, prototype_create, team_member_add, team_upsert
from repositories.models import RepositoryPermission
from repositories.services.repositories import repository_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db, settings) -> Client:
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # else WhiteNoise warns on every request
    client = Client()
    client.force_login(user_create(username="root", password=None, is_superuser=True))
    return client


def _members_formset(*rows: dict[str, Any], initial: list[TeamMember] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {
        "members-TOTAL_FORMS": str(len(initial) + len(rows)), "members-INITIAL_FORMS": str(len(initial)),
        "members-MIN_NUM_FORMS": "0", "members-MAX_NUM_FORMS": "1000",
    }
    for i, member in enumerate(initial):
        data[f"members-{i}-id"] = str(member.pk)
        data[f"members-{i}-team"] = str(member.team_id)
    for i, row in enumerate(rows, start=len(initial)):
        data.update({f"members-{i}-{key}": value for key, value in row.items()})
    return data


def test_organization_list_shows_counts_in_a_fixed_number_of_queries(admin_client, alice, bob, acme, deployer, django_assert_max_num_queries):
    developers = team_upsert(organization=acme, name="developers", role="member")
    team_member_add(team=developers, user=bob)
    team_member_add(team=developers, user=alice)  # alice is in two teams: counted once
    team_member_add(team=developers, robot=deployer)  # robots are not people
    repository_get_or_create(name="acme/app")
    repository_get_or_create(name="acme/web")
    for i in range(5):
        organization_create(name=f"org{i}", creator=alice)

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:organizations_organization_changelist"))

    assert response.status_code == 200
    row = next(r for r in response.context["cl"].result_list if r.name == "acme")
    assert (row.team_count, row.member_count, row.robot_count, row.repository_count) == (2, 2, 1, 2)


@pytest.mark.parametrize("page", [
    "admin:organizations_organization_add", "admin:organizations_team_add", "admin:organizations_prototype_add",
    "admin:organizations_team_changelist", "admin:organizations_prototype_changelist",
])
def test_pages_render(admin_client, acme, page):
    assert admin_client.get(reverse(page)).status_code == 200


def test_team_page_shows_its_members(admin_client, acme, bob, deployer):
    team = team_upsert(organization=acme, name="developers", role="member")
    team_member_add(team=team, user=bob)
    team_member_add(team=team, robot=deployer)

    response = admin_client.get(reverse("admin:organizations_team_change", args=[team.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert ">bob<" in content and ">acme+deployer<" in content


def test_organization_search_by_name(admin_client, alice, acme):
    organization_create(name="globex", creator=alice)

    response = admin_client.get(reverse("admin:organizations_organization_changelist"), {"q": "glob"})

    assert [o.name for o in response.context["cl"].result_list] == ["globex"]


def test_organization_page_lists_its_teams(admin_client, acme):
    team_upsert(organization=acme, name="developers", role="creator")

    response = admin_client.get(reverse("admin:organizations_organization_change", args=[acme.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "acme/owners" in content and "acme/developers" in content and "Creator" in content


def test_adding_an_organization_through_the_admin_creates_its_owners_team(admin_client, alice):
    response = admin_client.post(
        reverse("admin:organizations_organization_add"), {"name": "initech", "owner": alice.pk, "email": "it@initech.example"}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    organization = Organization.objects.get(namespace__name="initech")
    assert organization.email == "it@initech.example"
    owners = Team.objects.get(organization=organization, name="owners")
    assert list(owners.members.values_list("user__username", flat=True)) == ["alice"]


def test_organization_name_taken_is_a_form_error(admin_client, alice, acme):
    response = admin_client.post(reverse("admin:organizations_organization_add"), {"name": "alice", "owner": alice.pk})

    assert response.status_code == 200
    assert "A user or organization already has this name." in response.content.decode()
    assert Namespace.objects.filter(name="alice").count() == 1


def test_team_list_shows_roles_and_counts(admin_client, acme, bob, deployer):
    team = team_upsert(organization=acme, name="developers", role="creator")
    team_member_add(team=team, user=bob)
    team_member_add(team=team, robot=deployer)
    RepositoryPermission.objects.create(repository=repository_get_or_create(name="acme/app"), team=team, role="write")

    response = admin_client.get(reverse("admin:organizations_team_changelist"), {"q": "devel"})

    [row] = response.context["cl"].result_list
    assert (row.name, row.role, row.member_count, row.repository_count) == ("developers", "creator", 2, 1)


def test_adding_a_team_with_members_goes_through_the_services(admin_client, acme, bob, deployer):
    data = {"organization": acme.pk, "name": "developers", "role": "member", "description": "Devs"}
    data.update(_members_formset({"user": bob.pk, "robot": ""}, {"user": "", "robot": deployer.pk}))

    response = admin_client.post(reverse("admin:organizations_team_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    team = Team.objects.get(organization=acme, name="developers")
    assert {str(m.user or m.robot) for m in team.members.all()} == {"bob", "acme+deployer"}


def test_robot_of_another_organization_is_a_form_error(admin_client, acme, bob):
    spy = robot_create(namespace=organization_create(name="other", creator=bob).namespace, shortname="spy").robot
    data = {"organization": acme.pk, "name": "developers", "role": "member", "description": ""}
    data.update(_members_formset({"user": "", "robot": spy.pk}))

    response = admin_client.post(reverse("admin:organizations_team_add"), data)

    assert response.status_code == 200
    assert "Only robots of the organization can join its teams." in response.content.decode()
    assert not Team.objects.filter(name="developers").exists()


def test_member_needs_a_user_or_a_robot(admin_client, acme, bob, deployer):
    data = {"organization": acme.pk, "name": "developers", "role": "member", "description": ""}
    data.update(_members_formset({"user": bob.pk, "robot": deployer.pk}))

    response = admin_client.post(reverse("admin:organizations_team_add"), data)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Add either a user or a robot." in content and "is violated" not in content


def test_invalid_team_name_is_a_form_error(admin_client, acme):
    data = {"organization": acme.pk, "name": "Dev Team", "role": "member", "description": ""}
    data.update(_members_formset())

    response = admin_client.post(reverse("admin:organizations_team_add"), data)

    assert response.status_code == 200
    assert "Team names are 2-255 lowercase letters" in response.content.decode()


def test_removing_a_member_on_the_team_page(admin_client, acme, bob):
    team = team_upsert(organization=acme, name="developers", role="member")
    member = team_member_add(team=team, user=bob)
    data = {"role": "member", "description": ""}
    data.update(_members_formset(initial=[member]))
    data["members-0-DELETE"] = "on"

    response = admin_client.post(reverse("admin:organizations_team_change", args=[team.pk]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert not TeamMember.objects.filter(team=team).exists()


def test_owners_team_keeps_admin_and_cannot_be_deleted(admin_client, acme):
    owners = Team.objects.get(organization=acme, name="owners")
    data = {"role": "member", "description": ""}
    data.update(_members_formset(initial=list(owners.members.all())))

    response = admin_client.post(reverse("admin:organizations_team_change", args=[owners.pk]), data)

    assert response.status_code == 200
    assert "The owners team always has the admin role." in response.content.decode()
    assert admin_client.get(reverse("admin:organizations_team_delete", args=[owners.pk])).status_code == 403
    owners.refresh_from_db()
    assert owners.role == "admin"


def test_bulk_delete_refuses_a_selection_with_an_owners_team(admin_client, acme):
    developers = team_upsert(organization=acme, name="developers", role="member")
    owners = Team.objects.get(organization=acme, name="owners")
    url = reverse("admin:organizations_team_changelist")

    refused = admin_client.post(url, {"action": "delete_selected", "_selected_action": [owners.pk, developers.pk], "post": "yes"})
    assert refused.status_code == 403
    assert Team.objects.filter(organization=acme).count() == 2

    deleted = admin_client.post(url, {"action": "delete_selected", "_selected_action": [developers.pk], "post": "yes"})
    assert deleted.status_code == 302
    assert list(Team.objects.filter(organization=acme).values_list("name", flat=True)) == ["owners"]


def test_default_permissions_list_and_search(admin_client, acme, bob, deployer):
    prototype_create(organization=acme, role="write", delegate_robot=deployer, activating_user=bob)
    prototype_create(organization=organization_create(name="globex", creator=bob), role="read", delegate_user=bob)

    response = admin_client.get(reverse("admin:organizations_prototype_changelist"), {"q": "deployer"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "robot acme+deployer" in content and "globex" not in content
    assert ">bob<" in content  # "on repositories created by"


def test_adding_a_default_permission_validates_the_delegate(admin_client, acme, bob):
    spy = robot_create(namespace=organization_create(name="other", creator=bob).namespace, shortname="spy").robot
    url = reverse("admin:organizations_prototype_add")

    refused = admin_client.post(url, {"organization": acme.pk, "role": "read", "delegate_robot": spy.pk})
    accepted = admin_client.post(url, {"organization": acme.pk, "role": "read", "delegate_user": bob.pk})

    assert refused.status_code == 200
    assert "Only robots of the organization can receive its default permissions." in refused.content.decode()
    assert accepted.status_code == 302
    assert Prototype.objects.get().delegate_user == bob


def test_deleting_a_default_permission(admin_client, acme, bob):
    prototype = prototype_create(organization=acme, role="read", delegate_user=bob)

    response = admin_client.post(reverse("admin:organizations_prototype_delete", args=[prototype.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Prototype.objects.exists()
