"""/api/v1/repository/<repo>/permissions/{user,team}/...: admin only."""

from __future__ import annotations

from accounts.services import robot_create
from repositories.models import AuditLog, Repository, RepositoryPermission
from repositories.services.repositories import permission_set

BASE = "/api/v1/repository/acme/web/permissions"


def test_the_user_list_shows_users_and_robots_with_quays_fields(session_client, world, django_assert_max_num_queries):
    client = session_client("olga")
    with django_assert_max_num_queries(10):
        body = client.get(f"{BASE}/user/").json()["permissions"]
    assert set(body) == {"rita", "acme+deployer"}
    assert {k: body["rita"][k] for k in ("role", "name", "is_robot", "is_org_member")} == {
        "role": "read", "name": "rita", "is_robot": False, "is_org_member": False,
    }
    assert body["rita"]["avatar"]["kind"] == "user"
    assert (body["acme+deployer"]["is_robot"], body["acme+deployer"]["is_org_member"]) == (True, True)


def test_the_team_list_shows_team_grants(session_client, world):
    body = session_client("olga").get(f"{BASE}/team/").json()["permissions"]
    assert body == {"devs": {"role": "write", "name": "devs", "avatar": body["devs"]["avatar"]}}


def test_a_reader_is_forbidden_and_an_outsider_sees_not_found(session_client, world):
    assert session_client("rita").get(f"{BASE}/user/").status_code == 403
    assert session_client("nora").get(f"{BASE}/user/").status_code == 404


def test_an_admin_grants_a_user_a_role(session_client, world):
    response = session_client("olga").put(f"{BASE}/user/nora", {"role": "write"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "write" and response.json()["name"] == "nora"
    assert RepositoryPermission.objects.get(repository=world.repos["web"], user=world.users["nora"]).role == "write"
    entry = AuditLog.objects.get(kind="change_repo_permission")
    assert entry.metadata == {"username": "nora", "repo": "web", "namespace": "acme", "role": "write"}


def test_an_admin_changes_a_robots_role(session_client, world):
    assert session_client("olga").put(f"{BASE}/user/acme+deployer", {"role": "admin"}, format="json").status_code == 200
    assert RepositoryPermission.objects.get(repository=world.repos["web"], robot=world.robot).role == "admin"


def test_granting_an_unknown_user_is_a_bad_request(session_client, world):
    response = session_client("olga").put(f"{BASE}/user/ghost", {"role": "read"}, format="json")
    assert response.status_code == 400 and response.json()["error_message"] == "Invalid username: ghost"


def test_an_unknown_role_is_a_field_error(session_client, world):
    response = session_client("olga").put(f"{BASE}/user/nora", {"role": "owner"}, format="json")
    assert response.status_code == 400 and "role" in response.json()["errors"]


def test_a_robot_of_another_namespace_gets_no_permission(session_client, world):
    robot_create(namespace=world.users["alice"].namespace, shortname="bot")
    assert session_client("olga").put(f"{BASE}/user/alice+bot", {"role": "read"}, format="json").status_code == 400


def test_one_users_direct_permission(session_client, world):
    assert session_client("olga").get(f"{BASE}/user/rita").json()["role"] == "read"


def test_a_user_without_a_direct_permission_is_not_found(session_client, world):
    assert session_client("olga").get(f"{BASE}/user/tess").status_code == 404


def test_revoking_a_user_permission(session_client, world):
    assert session_client("olga").delete(f"{BASE}/user/rita").status_code == 204
    assert not RepositoryPermission.objects.filter(repository=world.repos["web"], user=world.users["rita"]).exists()
    assert AuditLog.objects.get(kind="delete_repo_permission").metadata["username"] == "rita"


def test_revoking_a_permission_that_does_not_exist_is_not_found(session_client, world):
    assert session_client("olga").delete(f"{BASE}/user/nora").status_code == 404


def test_the_transitive_permission_combines_team_and_direct_grants(session_client, world):
    permission_set(repository=world.repos["web"], role="read", user=world.users["tess"])
    body = session_client("olga").get(f"{BASE}/user/tess/transitive").json()
    assert body == {"permissions": [{"role": "write"}, {"role": "read"}]}


def test_the_transitive_permission_of_a_stranger_is_not_found(session_client, world):
    assert session_client("olga").get(f"{BASE}/user/nora/transitive").status_code == 404


def test_an_admin_grants_a_team_a_role(session_client, world):
    response = session_client("olga").put(f"{BASE}/team/creators", {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "creators"
    assert RepositoryPermission.objects.get(repository=world.repos["web"], team=world.teams["creators"]).role == "admin"
    assert AuditLog.objects.get(kind="change_repo_permission").metadata["team"] == "creators"


def test_one_teams_role(session_client, world):
    assert session_client("olga").get(f"{BASE}/team/devs").json() == {"role": "write"}


def test_granting_an_unknown_team_is_a_bad_request(session_client, world):
    assert session_client("olga").put(f"{BASE}/team/ghosts", {"role": "read"}, format="json").status_code == 400


def test_revoking_a_team_permission(session_client, world):
    assert session_client("olga").delete(f"{BASE}/team/devs").status_code == 204
    assert not RepositoryPermission.objects.filter(team=world.teams["devs"]).exists()


def test_permissions_stay_manageable_on_a_read_only_repository(session_client, world):
    Repository.objects.filter(pk=world.repos["web"].pk).update(state="READ_ONLY")
    assert session_client("olga").put(f"{BASE}/user/nora", {"role": "read"}, format="json").status_code == 200


def test_a_user_with_a_direct_admin_grant_manages_permissions(session_client, world):
    permission_set(repository=world.repos["web"], role="admin", user=world.users["nora"])
    assert session_client("nora").put(f"{BASE}/user/alice", {"role": "read"}, format="json").status_code == 200
