"""Organization members (``/members``, ``/members/<name>``) and outside collaborators."""

from __future__ import annotations

from accounts.services import user_create
from organizations.models import TeamMember
from organizations.services import team_member_add, team_upsert
from repositories.models import RepositoryPermission
from repositories.services.repositories import permission_set, repository_get_or_create
from tests.api.organizations.conftest import audit_entries

MEMBERS = "/api/v1/organization/acme/members"


def test_members_lists_people_with_their_teams_and_direct_permissions(as_alice, devs, bob, acme_repository):
    permission_set(repository=acme_repository, role="write", user=bob)
    response = as_alice.get(MEMBERS)
    assert response.status_code == 200
    assert response.json() == {
        "members": [
            {"name": "alice", "kind": "user", "teams": [{"name": "owners"}], "repositories": []},
            {"name": "bob", "kind": "user", "teams": [{"name": "devs"}], "repositories": ["app"]},
        ]
    }


def test_members_leaves_robots_out(as_alice, devs, acme_robot):
    team_member_add(team=devs, robot=acme_robot.robot)
    assert [m["name"] for m in as_alice.get(MEMBERS).json()["members"]] == ["alice", "bob"]


def test_a_member_cannot_list_the_members(as_bob):
    assert as_bob.get(MEMBERS).status_code == 403


def test_an_outsider_cannot_list_the_members(as_carol, acme):
    assert as_carol.get(MEMBERS).status_code == 403


def test_anonymous_callers_cannot_list_the_members(anonymous, acme):
    assert anonymous.get(MEMBERS).status_code == 401


def test_a_read_only_superuser_lists_the_members(as_auditor, devs):
    assert len(as_auditor.get(MEMBERS).json()["members"]) == 2


def test_a_token_without_org_admin_scope_cannot_list_the_members(bearer, alice, acme):
    assert bearer(alice, scope="repo:admin user:admin").get(MEMBERS).status_code == 403


def test_members_of_an_unknown_organization_are_not_found(as_root):
    assert as_root.get("/api/v1/organization/nope/members").status_code == 404


def test_listing_members_takes_a_bounded_number_of_queries(as_alice, acme, acme_repository, django_assert_max_num_queries):
    for index in range(5):
        team = team_upsert(organization=acme, name=f"team{index}", role="member")
        for person in range(4):
            user = user_create(username=f"u{index}x{person}", password=None)
            team_member_add(team=team, user=user)
            permission_set(repository=acme_repository, role="read", user=user)
    with django_assert_max_num_queries(8):
        members = as_alice.get(MEMBERS).json()["members"]
    assert len(members) == 21


def test_one_member_shows_their_teams_and_repositories(as_alice, devs, bob, acme_repository):
    permission_set(repository=acme_repository, role="read", user=bob)
    assert as_alice.get(f"{MEMBERS}/bob").json() == {"name": "bob", "kind": "user", "teams": [{"name": "devs"}], "repositories": ["app"]}


def test_a_robot_of_the_organization_can_be_looked_up_as_a_member(as_alice, acme_robot, devs):
    team_member_add(team=devs, robot=acme_robot.robot)
    body = as_alice.get(f"{MEMBERS}/acme+deployer").json()
    assert body == {"name": "acme+deployer", "kind": "robot", "teams": [{"name": "devs"}], "repositories": []}


def test_a_user_in_no_team_is_not_a_member(as_alice, carol):
    assert as_alice.get(f"{MEMBERS}/carol").status_code == 404


def test_an_unknown_member_is_not_found(as_alice):
    assert as_alice.get(f"{MEMBERS}/ghost").status_code == 404


def test_removing_a_member_takes_them_out_of_every_team_and_revokes_direct_permissions(as_alice, acme, devs, bob, acme_repository):
    team_member_add(team=team_upsert(organization=acme, name="ops", role="creator"), user=bob)
    permission_set(repository=acme_repository, role="write", user=bob)
    assert as_alice.delete(f"{MEMBERS}/bob").status_code == 204
    assert not TeamMember.objects.filter(user=bob).exists()
    assert not RepositoryPermission.objects.filter(user=bob).exists()
    [entry] = audit_entries("org_remove_member")
    assert entry.metadata == {"member": "bob", "teams": ["devs", "ops"]}


def test_removing_a_member_keeps_their_permissions_in_other_namespaces(as_alice, bob, devs, login, carol):
    login(carol).post("/api/v1/organization/", {"name": "other"}, format="json")
    elsewhere = repository_get_or_create(name="other/tool")
    permission_set(repository=elsewhere, role="read", user=bob)
    as_alice.delete(f"{MEMBERS}/bob")
    assert RepositoryPermission.objects.filter(user=bob, repository=elsewhere).exists()


def test_the_last_administrator_cannot_be_removed(as_alice, alice):
    response = as_alice.delete(f"{MEMBERS}/alice")
    assert response.status_code == 409
    assert TeamMember.objects.filter(user=alice, team__name="owners").exists()


def test_an_administrator_can_be_removed_while_another_remains(as_alice, acme, carol, alice):
    team_member_add(team=acme.teams.get(name="owners"), user=carol)
    assert as_alice.delete(f"{MEMBERS}/alice").status_code == 204
    assert not TeamMember.objects.filter(user=alice).exists()


def test_a_member_cannot_remove_members(as_bob, alice):
    assert as_bob.delete(f"{MEMBERS}/alice").status_code == 403


def test_removing_an_unknown_user_is_not_found(as_alice):
    assert as_alice.delete(f"{MEMBERS}/ghost").status_code == 404


# --- collaborators ----------------------------------------------------------------------------

COLLABORATORS = "/api/v1/organization/acme/collaborators"


def test_collaborators_are_users_with_direct_permissions_in_no_team(as_alice, devs, bob, carol, acme_repository):
    permission_set(repository=acme_repository, role="read", user=carol)
    permission_set(repository=acme_repository, role="write", user=bob)
    assert as_alice.get(COLLABORATORS).json() == {"collaborators": [{"kind": "user", "name": "carol", "repositories": ["app"]}]}


def test_a_member_cannot_list_collaborators(as_bob):
    assert as_bob.get(COLLABORATORS).status_code == 403


def test_anonymous_callers_cannot_list_collaborators(anonymous, acme):
    assert anonymous.get(COLLABORATORS).status_code == 401


def test_listing_collaborators_takes_a_bounded_number_of_queries(as_alice, acme, django_assert_max_num_queries):
    for index in range(10):
        repository = repository_get_or_create(name=f"acme/app{index}")
        permission_set(repository=repository, role="read", user=user_create(username=f"guest{index}", password=None))
    with django_assert_max_num_queries(7):
        assert len(as_alice.get(COLLABORATORS).json()["collaborators"]) == 10
