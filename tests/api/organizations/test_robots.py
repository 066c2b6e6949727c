"""Robot accounts: ``/api/v1/user/robots[...]`` and ``/api/v1/organization/<orgname>/robots[...]``."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.models import Robot
from accounts.services import credentials_verify, robot_create
from organizations.services import team_member_add
from repositories.services.repositories import permission_set
from tests.api.organizations.conftest import audit_entries

ROBOTS = "/api/v1/organization/acme/robots"
MY_ROBOTS = "/api/v1/user/robots"


# --- organization robots: create --------------------------------------------------------------


def test_an_admin_creates_a_robot_and_sees_its_token_once(as_alice, acme):
    response = as_alice.put(f"{ROBOTS}/builder", {"description": "builds"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "acme+builder"
    assert body["description"] == "builds"
    assert body["unstructured_metadata"] == {}
    assert body["last_accessed"] is None
    assert credentials_verify(username="acme+builder", password=body["token"]) is not None
    assert "token" not in as_alice.get(f"{ROBOTS}/builder").json()


def test_a_robot_can_be_created_without_a_body(as_alice, acme):
    assert as_alice.put(f"{ROBOTS}/builder").status_code == 201


def test_a_migrated_robot_keeps_the_token_it_is_given(as_alice, acme):
    token = "M" * 16 + "s" * 32
    body = as_alice.put(f"{ROBOTS}/migrated", {"token": token}, format="json").json()
    assert body["token"] == token
    assert credentials_verify(username="acme+migrated", password=token) is not None


def test_a_too_short_supplied_token_is_a_bad_request(as_alice, acme):
    assert as_alice.put(f"{ROBOTS}/migrated", {"token": "short"}, format="json").status_code == 400


def test_creating_a_robot_is_audited_without_its_token(as_alice, acme):
    token = as_alice.put(f"{ROBOTS}/builder", {"description": "builds"}, format="json").json()["token"]
    [entry] = audit_entries("create_robot")
    assert entry.metadata["robot"] == "builder"
    assert entry.metadata["description"] == "builds"
    assert token not in str(entry.metadata)


def test_a_robot_name_outside_the_grammar_is_a_bad_request(as_alice, acme):
    assert as_alice.put(f"{ROBOTS}/Bad-Name").status_code == 400
    assert not Robot.objects.exists()


def test_an_existing_robot_name_is_a_conflict(as_alice, acme_robot):
    assert as_alice.put(f"{ROBOTS}/deployer").status_code == 409


def test_robot_metadata_is_stored_and_returned(as_alice, acme):
    response = as_alice.put(f"{ROBOTS}/builder", {"unstructured_metadata": {"team": "ci"}}, format="json")
    assert response.status_code == 201
    assert response.json()["unstructured_metadata"] == {"team": "ci"}
    assert as_alice.get(f"{ROBOTS}/builder").json()["unstructured_metadata"] == {"team": "ci"}


def test_oversized_robot_metadata_is_a_bad_request(as_alice, acme):
    response = as_alice.put(f"{ROBOTS}/builder", {"unstructured_metadata": {"blob": "x" * 20000}}, format="json")
    assert response.status_code == 400
    assert "unstructured_metadata" in response.json()["errors"]
    assert not Robot.objects.exists()


def test_a_member_cannot_create_organization_robots(as_bob, acme):
    assert as_bob.put(f"{ROBOTS}/builder").status_code == 403
    assert not Robot.objects.exists()


def test_anonymous_callers_cannot_create_organization_robots(anonymous, acme):
    assert anonymous.put(f"{ROBOTS}/builder").status_code == 401


def test_a_superuser_creates_robots_in_any_organization(as_root, acme):
    assert as_root.put(f"{ROBOTS}/builder").status_code == 201


def test_a_token_with_org_admin_scope_creates_robots(bearer, alice, acme):
    assert bearer(alice, scope="org:admin").put(f"{ROBOTS}/builder").status_code == 201


def test_a_token_without_org_admin_scope_cannot_create_robots(bearer, alice, acme):
    assert bearer(alice, scope="repo:admin").put(f"{ROBOTS}/builder").status_code == 403


# --- organization robots: read ----------------------------------------------------------------


def test_an_admin_reads_a_robot_without_its_token(as_alice, acme_robot):
    body = as_alice.get(f"{ROBOTS}/deployer").json()
    assert body["name"] == "acme+deployer"
    assert body["description"] == "pushes from CI"
    assert body["unstructured_metadata"] == {}
    assert "token" not in body


def test_an_unknown_robot_is_not_found(as_alice, acme):
    assert as_alice.get(f"{ROBOTS}/ghost").status_code == 404


def test_a_member_cannot_read_a_robot(as_bob, acme_robot):
    assert as_bob.get(f"{ROBOTS}/deployer").status_code == 403


def test_an_admin_lists_robots_without_tokens_even_when_asked(as_alice, acme_robot):
    body = as_alice.get(ROBOTS, {"token": "true"}).json()
    assert [r["name"] for r in body["robots"]] == ["acme+deployer"]
    assert "token" not in body["robots"][0]
    assert "teams" not in body["robots"][0]


def test_an_admin_lists_robots_with_their_teams_and_repositories(as_alice, acme_robot, devs, acme_repository):
    team_member_add(team=devs, robot=acme_robot.robot)
    permission_set(repository=acme_repository, role="write", robot=acme_robot.robot)
    [robot] = as_alice.get(ROBOTS, {"permissions": "true"}).json()["robots"]
    assert robot["teams"] == [{"name": "devs"}]
    assert robot["repositories"] == ["app"]


def test_a_member_lists_robots_but_not_their_permissions(as_bob, acme_robot):
    [robot] = as_bob.get(ROBOTS, {"permissions": "true"}).json()["robots"]
    assert robot["name"] == "acme+deployer"
    assert "repositories" not in robot


def test_an_outsider_cannot_list_robots(as_carol, acme_robot):
    assert as_carol.get(ROBOTS).status_code == 403


def test_anonymous_callers_cannot_list_robots(anonymous, acme_robot):
    assert anonymous.get(ROBOTS).status_code == 401


def test_the_robot_list_honours_limit(as_alice, acme):
    for name in ("one", "two", "three"):
        robot_create(namespace=acme.namespace, shortname=name)
    assert [r["name"] for r in as_alice.get(ROBOTS, {"limit": 2}).json()["robots"]] == ["acme+one", "acme+three"]


def test_a_limit_that_is_not_a_number_is_a_bad_request(as_alice, acme):
    assert as_alice.get(ROBOTS, {"limit": "many"}).status_code == 400


def test_listing_robots_with_permissions_takes_a_bounded_number_of_queries(as_alice, acme, devs, acme_repository, django_assert_max_num_queries):
    for index in range(10):
        robot = robot_create(namespace=acme.namespace, shortname=f"bot{index}").robot
        team_member_add(team=devs, robot=robot)
        permission_set(repository=acme_repository, role="read", robot=robot)
    with django_assert_max_num_queries(9):
        assert len(as_alice.get(ROBOTS, {"permissions": "true"}).json()["robots"]) == 10


def test_robot_permissions_lists_its_repository_roles(as_alice, acme_robot, acme_repository):
    permission_set(repository=acme_repository, role="write", robot=acme_robot.robot)
    assert as_alice.get(f"{ROBOTS}/deployer/permissions").json() == {
        "permissions": [{"repository": {"name": "app", "is_public": False}, "role": "write"}]
    }


def test_a_member_cannot_read_robot_permissions(as_bob, acme_robot):
    assert as_bob.get(f"{ROBOTS}/deployer/permissions").status_code == 403


# --- organization robots: regenerate and delete -----------------------------------------------


def test_regenerating_a_robot_token_replaces_the_old_one(as_alice, acme_robot):
    response = as_alice.post(f"{ROBOTS}/deployer/regenerate")
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert credentials_verify(username="acme+deployer", password=new_token) is not None
    assert credentials_verify(username="acme+deployer", password=acme_robot.token) is None
    assert [e.metadata for e in audit_entries("regenerate_robot_token")] == [{"robot": "deployer"}]


def test_a_member_cannot_regenerate_robot_tokens(as_bob, acme_robot):
    assert as_bob.post(f"{ROBOTS}/deployer/regenerate").status_code == 403
    assert credentials_verify(username="acme+deployer", password=acme_robot.token) is not None


def test_regenerating_an_unknown_robot_is_not_found(as_alice, acme):
    assert as_alice.post(f"{ROBOTS}/ghost/regenerate").status_code == 404


def test_an_admin_deletes_a_robot_and_its_token_stops_working(as_alice, acme_robot):
    assert as_alice.delete(f"{ROBOTS}/deployer").status_code == 204
    assert not Robot.objects.filter(pk=acme_robot.robot.pk).exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {acme_robot.token}")
    assert client.get(ROBOTS).status_code == 401
    assert [e.metadata for e in audit_entries("delete_robot")] == [{"robot": "deployer"}]


def test_deleting_an_unknown_robot_is_not_found(as_alice, acme):
    assert as_alice.delete(f"{ROBOTS}/ghost").status_code == 404


def test_a_member_cannot_delete_robots(as_bob, acme_robot):
    assert as_bob.delete(f"{ROBOTS}/deployer").status_code == 403


def test_a_robot_cannot_delete_itself(robot_client, acme, acme_robot):
    team_member_add(team=acme.teams.get(name="owners"), robot=acme_robot.robot)
    assert robot_client(acme_robot).delete(f"{ROBOTS}/deployer").status_code == 403


# --- the signed-in user's robots --------------------------------------------------------------


def test_a_user_creates_a_robot_in_their_own_namespace(as_carol, carol):
    body = as_carol.put(f"{MY_ROBOTS}/pusher", {"description": "laptop"}, format="json").json()
    assert body["name"] == "carol+pusher"
    assert Robot.objects.get(shortname="pusher").namespace_id == carol.namespace_id
    assert credentials_verify(username="carol+pusher", password=body["token"]) is not None
    assert [e.metadata["robot"] for e in audit_entries("create_robot", "carol")] == ["pusher"]


def test_a_user_lists_only_their_own_robots(as_carol, carol, acme_robot):
    robot_create(namespace=carol.namespace, shortname="pusher")
    assert [r["name"] for r in as_carol.get(MY_ROBOTS).json()["robots"]] == ["carol+pusher"]


def test_a_user_reads_regenerates_and_deletes_their_robot(as_carol, carol):
    old = robot_create(namespace=carol.namespace, shortname="pusher")
    assert as_carol.get(f"{MY_ROBOTS}/pusher").json()["name"] == "carol+pusher"
    new_token = as_carol.post(f"{MY_ROBOTS}/pusher/regenerate").json()["token"]
    assert new_token != old.token
    assert as_carol.get(f"{MY_ROBOTS}/pusher/permissions").json() == {"permissions": []}
    assert as_carol.delete(f"{MY_ROBOTS}/pusher").status_code == 204
    assert not Robot.objects.filter(namespace=carol.namespace).exists()


def test_a_user_cannot_reach_an_organization_robot_through_their_robots(as_alice, acme_robot):
    assert as_alice.get(f"{MY_ROBOTS}/deployer").status_code == 404


def test_anonymous_callers_have_no_robots(anonymous, db):
    assert anonymous.get(MY_ROBOTS).status_code == 401


def test_a_robot_has_no_robots_of_its_own(robot_client, acme_robot):
    assert robot_client(acme_robot).get(MY_ROBOTS).status_code == 403


def test_a_read_only_token_cannot_create_user_robots(bearer, carol):
    assert bearer(carol, scope="user:read").put(f"{MY_ROBOTS}/pusher").status_code == 403
    assert not Robot.objects.exists()
