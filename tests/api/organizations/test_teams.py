"""Teams: ``/team/<teamname>``, its members and its repository permissions."""

from __future__ import annotations

from accounts.services import robot_create, user_create
from organizations.models import Team, TeamMember
from organizations.services import organization_create, team_member_add
from repositories.services.repositories import permission_set, repository_get_or_create
from tests.api.organizations.conftest import audit_entries

TEAM = "/api/v1/organization/acme/team"


# --- upsert -----------------------------------------------------------------------------------


def test_an_admin_creates_a_team(as_alice, acme):
    response = as_alice.put(f"{TEAM}/builders", {"role": "creator", "description": "CI"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"name": "builders", "description": "CI", "can_view": True, "role": "creator", "new_team": True}
    assert acme.teams.get(name="builders").role == Team.TeamRole.CREATOR
    assert [e.metadata for e in audit_entries("org_create_team")] == [{"team": "builders"}]


def test_an_admin_changes_a_teams_role_and_description(as_alice, devs):
    response = as_alice.put(f"{TEAM}/devs", {"role": "creator", "description": "builders now"}, format="json")
    assert response.json()["new_team"] is False
    devs.refresh_from_db()
    assert (devs.role, devs.description) == ("creator", "builders now")
    assert [e.metadata["role"] for e in audit_entries("org_set_team_role")] == ["creator"]
    assert [e.metadata["description"] for e in audit_entries("org_set_team_description")] == ["builders now"]


def test_changing_only_the_role_keeps_the_description(as_alice, devs):
    as_alice.put(f"{TEAM}/devs", {"role": "admin"}, format="json")
    devs.refresh_from_db()
    assert devs.description == "developers"
    assert audit_entries("org_set_team_description") == []


def test_a_team_needs_a_known_role(as_alice, acme):
    response = as_alice.put(f"{TEAM}/builders", {"role": "boss"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_a_team_name_outside_the_grammar_is_a_bad_request(as_alice, acme):
    response = as_alice.put(f"{TEAM}/Bad Name", {"role": "member"}, format="json")
    assert response.status_code == 400
    assert not acme.teams.filter(name="Bad Name").exists()


def test_the_owners_team_keeps_the_admin_role(as_alice, acme):
    assert as_alice.put(f"{TEAM}/owners", {"role": "member"}, format="json").status_code == 400
    assert acme.teams.get(name="owners").role == Team.TeamRole.ADMIN


def test_a_member_cannot_create_teams(as_bob, acme):
    assert as_bob.put(f"{TEAM}/builders", {"role": "admin"}, format="json").status_code == 403
    assert not acme.teams.filter(name="builders").exists()


def test_anonymous_callers_cannot_create_teams(anonymous, acme):
    assert anonymous.put(f"{TEAM}/builders", {"role": "member"}, format="json").status_code == 401


def test_a_superuser_creates_teams_in_any_organization(as_root, acme):
    assert as_root.put(f"{TEAM}/builders", {"role": "member"}, format="json").status_code == 200


def test_teams_of_an_unknown_organization_are_not_found(as_root):
    assert as_root.put("/api/v1/organization/nope/team/builders", {"role": "member"}, format="json").status_code == 404


# --- delete -----------------------------------------------------------------------------------


def test_an_admin_deletes_a_team(as_alice, devs):
    assert as_alice.delete(f"{TEAM}/devs").status_code == 204
    assert not Team.objects.filter(pk=devs.pk).exists()
    assert [e.metadata for e in audit_entries("org_delete_team")] == [{"team": "devs"}]


def test_the_owners_team_cannot_be_deleted(as_alice, acme):
    response = as_alice.delete(f"{TEAM}/owners")
    assert response.status_code == 400
    assert acme.teams.filter(name="owners").exists()


def test_deleting_an_unknown_team_is_not_found(as_alice):
    assert as_alice.delete(f"{TEAM}/ghosts").status_code == 404


def test_a_member_cannot_delete_teams(as_bob, devs):
    assert as_bob.delete(f"{TEAM}/devs").status_code == 403


# --- members ----------------------------------------------------------------------------------


def test_team_members_lists_people_then_robots(as_alice, devs, acme_robot):
    team_member_add(team=devs, robot=acme_robot.robot)
    assert as_alice.get(f"{TEAM}/devs/members").json() == {
        "name": "devs",
        "members": [
            {"name": "bob", "kind": "user", "is_robot": False, "invited": False},
            {"name": "acme+deployer", "kind": "user", "is_robot": True, "invited": False},
        ],
        "can_edit": True,
    }


def test_a_team_member_lists_their_own_team_without_edit_rights(as_bob):
    body = as_bob.get(f"{TEAM}/devs/members").json()
    assert [m["name"] for m in body["members"]] == ["bob"]
    assert body["can_edit"] is False


def test_a_member_cannot_list_a_team_they_are_not_in(as_bob):
    assert as_bob.get(f"{TEAM}/owners/members").status_code == 403


def test_an_outsider_cannot_list_team_members(as_carol, devs):
    assert as_carol.get(f"{TEAM}/devs/members").status_code == 403


def test_anonymous_callers_cannot_list_team_members(anonymous, devs):
    assert anonymous.get(f"{TEAM}/devs/members").status_code == 401


def test_members_of_an_unknown_team_are_not_found(as_alice):
    assert as_alice.get(f"{TEAM}/ghosts/members").status_code == 404


def test_listing_team_members_takes_a_bounded_number_of_queries(as_alice, devs, acme, django_assert_max_num_queries):
    for index in range(10):
        team_member_add(team=devs, user=user_create(username=f"dev{index}", password=None))
        team_member_add(team=devs, robot=robot_create(namespace=acme.namespace, shortname=f"bot{index}").robot)
    with django_assert_max_num_queries(8):
        assert len(as_alice.get(f"{TEAM}/devs/members").json()["members"]) == 21


def test_an_admin_adds_a_user_to_a_team(as_alice, devs, carol):
    response = as_alice.put(f"{TEAM}/devs/members/carol")
    assert response.status_code == 200
    assert response.json() == {"name": "carol", "kind": "user", "is_robot": False, "invited": False}
    assert devs.members.filter(user=carol).exists()
    assert [e.metadata for e in audit_entries("org_add_team_member")] == [{"member": "carol", "team": "devs"}]


def test_an_admin_adds_an_organization_robot_to_a_team(as_alice, devs, acme_robot):
    response = as_alice.put(f"{TEAM}/devs/members/acme+deployer")
    assert response.json()["is_robot"] is True
    assert devs.members.filter(robot=acme_robot.robot).exists()


def test_adding_a_member_twice_keeps_one_membership(as_alice, devs, bob):
    assert as_alice.put(f"{TEAM}/devs/members/bob").status_code == 200
    assert devs.members.filter(user=bob).count() == 1


def test_a_robot_of_another_namespace_cannot_join_a_team(as_alice, devs, carol):
    other = organization_create(name="other", creator=carol)
    robot_create(namespace=other.namespace, shortname="spy")
    assert as_alice.put(f"{TEAM}/devs/members/other+spy").status_code == 400
    assert not devs.members.filter(robot__shortname="spy").exists()


def test_adding_an_unknown_user_is_a_bad_request(as_alice, devs):
    response = as_alice.put(f"{TEAM}/devs/members/ghost")
    assert response.status_code == 400
    assert response.json()["error_message"] == "Unknown user"


def test_adding_to_an_unknown_team_is_not_found(as_alice, carol):
    assert as_alice.put(f"{TEAM}/ghosts/members/carol").status_code == 404


def test_a_team_member_cannot_add_members(as_bob, carol):
    assert as_bob.put(f"{TEAM}/devs/members/carol").status_code == 403


def test_a_robot_token_cannot_add_members(robot_client, acme, devs, acme_robot, carol):
    team_member_add(team=acme.teams.get(name="owners"), robot=acme_robot.robot)
    assert robot_client(acme_robot).put(f"{TEAM}/devs/members/carol").status_code == 403


def test_an_admin_removes_a_member_from_a_team(as_alice, devs, bob):
    assert as_alice.delete(f"{TEAM}/devs/members/bob").status_code == 204
    assert not TeamMember.objects.filter(team=devs, user=bob).exists()
    assert [e.metadata for e in audit_entries("org_remove_team_member")] == [{"member": "bob", "team": "devs"}]


def test_an_admin_removes_a_robot_from_a_team(as_alice, devs, acme_robot):
    team_member_add(team=devs, robot=acme_robot.robot)
    assert as_alice.delete(f"{TEAM}/devs/members/acme+deployer").status_code == 204
    assert not devs.members.filter(robot=acme_robot.robot).exists()


def test_removing_someone_who_is_not_in_the_team_is_not_found(as_alice, devs, carol):
    assert as_alice.delete(f"{TEAM}/devs/members/carol").status_code == 404
    assert audit_entries("org_remove_team_member") == []


def test_a_team_member_cannot_remove_members(as_bob, devs):
    assert as_bob.delete(f"{TEAM}/devs/members/bob").status_code == 403


# --- permissions ------------------------------------------------------------------------------


def test_team_permissions_lists_its_repository_roles(as_alice, acme, devs):
    app = repository_get_or_create(name="acme/app")
    tool = repository_get_or_create(name="acme/tool")
    permission_set(repository=app, role="write", team=devs)
    permission_set(repository=tool, role="read", team=devs)
    assert as_alice.get(f"{TEAM}/devs/permissions").json() == {
        "permissions": [
            {"repository": {"name": "app", "is_public": False}, "role": "write"},
            {"repository": {"name": "tool", "is_public": False}, "role": "read"},
        ]
    }


def test_a_team_member_cannot_read_team_permissions(as_bob):
    assert as_bob.get(f"{TEAM}/devs/permissions").status_code == 403


def test_a_read_only_superuser_reads_team_permissions(as_auditor, devs):
    assert as_auditor.get(f"{TEAM}/devs/permissions").json() == {"permissions": []}


def test_permissions_of_an_unknown_team_are_not_found(as_alice):
    assert as_alice.get(f"{TEAM}/ghosts/permissions").status_code == 404


def test_listing_team_permissions_takes_a_bounded_number_of_queries(as_alice, devs, django_assert_max_num_queries):
    for index in range(10):
        permission_set(repository=repository_get_or_create(name=f"acme/app{index}"), role="read", team=devs)
    with django_assert_max_num_queries(7):
        assert len(as_alice.get(f"{TEAM}/devs/permissions").json()["permissions"]) == 10

