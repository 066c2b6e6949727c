"""Superuser management of users: list, create (with a generated password shown once), change,
delete; every change audited; only superusers may change, global read-only superusers may read."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_set_enabled
from repositories.models import AuditLog, Repository
from repositories.services.repositories import repository_get_or_create
from tests.api.admin.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def token_for(username: str, password: str) -> int:
    return APIClient().post("/api/v1/token/", {"username": username, "password": password}, format="json").status_code


def test_list_users_in_quays_shape(login, root, alice):
    response = login(root).get("/api/v1/superuser/users/")

    assert response.status_code == 200
    users = {user["username"]: user for user in response.json()["users"]}
    assert users["alice"] == {
        "kind": "user", "name": "alice", "username": "alice", "email": "alice@example.test", "verified": True,
        "super_user": False, "global_readonly_super_user": False, "enabled": True,
    }
    assert users["root"]["super_user"] is True


def test_disabled_false_lists_only_enabled_users(login, root, alice, bob):
    user_set_enabled(user=bob, enabled=False)
    client = login(root)

    everyone = [u["username"] for u in client.get("/api/v1/superuser/users/").json()["users"]]
    enabled = [u["username"] for u in client.get("/api/v1/superuser/users/", {"disabled": "false"}).json()["users"]]

    assert "bob" in everyone and "bob" not in enabled and "alice" in enabled


def test_the_user_list_is_paged_with_next_page(login, root, django_assert_max_num_queries):
    for n in range(120):
        make_user(f"user{n:03d}")
    client = login(root)

    with django_assert_max_num_queries(5):
        first = client.get("/api/v1/superuser/users/").json()
    second = client.get("/api/v1/superuser/users/", {"next_page": first["next_page"]}).json()

    names = [u["username"] for u in first["users"] + second["users"]]
    assert len(first["users"]) == 100 and "next_page" not in second
    assert names == sorted(names) and len(set(names)) == 121  # 120 + root


def test_a_forged_page_token_is_a_400(login, root):
    assert login(root).get("/api/v1/superuser/users/", {"next_page": "forged"}).status_code == 400


def test_create_a_user_with_a_generated_password_shown_once(bearer, root):
    response = bearer(root).post("/api/v1/superuser/users/", {"username": "dave", "email": "dave@example.test"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "dave" and body["email"] == "dave@example.test"
    assert len(body["password"]) >= 20
    assert token_for("dave", body["password"]) == 200
    entry = AuditLog.objects.get(kind="superuser_create_user")
    assert (entry.performer_name, entry.metadata["username"]) == ("root", "dave")
    assert body["password"] not in str(entry.metadata)


def test_create_a_user_with_a_chosen_password(login, root):
    response = login(root).post("/api/v1/superuser/users/", {"username": "erin", "password": "a-long-password"}, format="json")

    assert response.status_code == 201
    assert response.json()["password"] is None
    assert token_for("erin", "a-long-password") == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "Not Valid"}, 400),
        ({"username": "frank", "email": "not-an-email"}, 400),
        ({"username": "frank", "password": "short"}, 400),
        ({}, 400),
        ({"username": "alice"}, 409),  # taken by a user
        ({"username": "acme"}, 409),  # taken by an organization
    ],
)
def test_create_refuses_bad_or_taken_names(login, root, alice, acme, body, status):
    response = login(root).post("/api/v1/superuser/users/", body, format="json")

    assert response.status_code == status, response.content
    assert not AuditLog.objects.filter(kind="superuser_create_user").exists()


def test_get_one_user(login, root, alice):
    assert login(root).get("/api/v1/superuser/users/alice").json()["email"] == "alice@example.test"
    assert login(root).get("/api/v1/superuser/users/nobody").status_code == 404


def test_change_email_and_password(login, root, alice):
    response = login(root).put("/api/v1/superuser/users/alice", {"email": "new@example.test", "password": "another-password"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "new@example.test"
    assert token_for("alice", "another-password") == 200 and token_for("alice", PASSWORD) == 401
    entry = AuditLog.objects.get(kind="superuser_change_user")
    assert entry.metadata == {"username": "alice", "email": "new@example.test", "password": "changed"}


def test_disabling_a_user_stops_their_logins_and_enabling_restores_them(login, root, alice):
    client = login(root)

    assert client.put("/api/v1/superuser/users/alice", {"enabled": False}, format="json").json()["enabled"] is False
    assert token_for("alice", PASSWORD) == 401
    assert client.put("/api/v1/superuser/users/alice", {"enabled": True}, format="json").json()["enabled"] is True
    assert token_for("alice", PASSWORD) == 200
    assert [e.metadata["enabled"] for e in AuditLog.objects.filter(kind="superuser_change_user").order_by("id")] == [False, True]


def test_granting_and_revoking_superuser(login, root, alice):
    client = login(root)

    assert client.put("/api/v1/superuser/users/alice", {"superuser": True}, format="json").json()["super_user"] is True
    assert login(alice).get("/api/v1/superuser/users/").status_code == 200
    assert client.put("/api/v1/superuser/users/alice", {"superuser": False}, format="json").json()["super_user"] is False
    assert login(alice).get("/api/v1/superuser/users/").status_code == 403


@pytest.mark.parametrize("change", [{"enabled": False}, {"superuser": False}])
def test_superusers_cannot_lock_themselves_out(login, root, change):
    response = login(root).put("/api/v1/superuser/users/root", change, format="json")

    assert response.status_code == 400
    root.refresh_from_db()
    assert root.is_active and root.is_superuser


def test_an_unchanged_put_writes_no_audit_entry(login, root, alice):
    assert login(root).put("/api/v1/superuser/users/alice", {"enabled": True}, format="json").status_code == 200
    assert not AuditLog.objects.filter(kind="superuser_change_user").exists()


def test_delete_a_user(login, root, alice):
    response = login(root).delete("/api/v1/superuser/users/alice")

    assert response.status_code == 204
    assert not User.objects.filter(username="alice").exists()
    assert AuditLog.objects.get(kind="superuser_delete_user").metadata == {"username": "alice"}
    assert login(root).delete("/api/v1/superuser/users/alice").status_code == 404


def test_deleting_a_user_deletes_their_repositories_in_the_background(login, root, alice):
    repository = repository_get_or_create(name="alice/app")

    response = login(root).delete("/api/v1/superuser/users/alice")

    assert response.status_code == 204
    assert not User.objects.filter(username="alice").exists()
    assert not Repository.objects.filter(full_name="alice/app").exists()
    assert Repository.all_objects.get(pk=repository.pk).deleted_at is not None
    assert AuditLog.objects.filter(kind="delete_repo", metadata__with_namespace=True).count() == 1


def test_superusers_cannot_be_deleted_before_being_demoted(login, root):
    other = make_user("root2", is_superuser=True)

    assert login(root).delete("/api/v1/superuser/users/root2").status_code == 400
    assert login(root).delete("/api/v1/superuser/users/root").status_code == 400
    assert User.objects.filter(pk=other.pk).exists()


# --- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/superuser/users/", None),
        ("post", "/api/v1/superuser/users/", {"username": "zed"}),
        ("get", "/api/v1/superuser/users/bob", None),
        ("put", "/api/v1/superuser/users/bob", {"enabled": False}),
        ("delete", "/api/v1/superuser/users/bob", None),
    ],
)
def test_normal_users_and_robots_are_refused(login, robot_client, alice, bob, acme_robot, anonymous, method, path, body):
    for client, status in ((login(alice), 403), (robot_client(acme_robot), 403), (anonymous, 401)):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == status, (client, response.content)
    bob.refresh_from_db()
    assert bob.is_active and not User.objects.filter(username="zed").exists()


def test_readonly_superusers_read_but_do_not_change(bearer, auditor, bob):
    client = bearer(auditor)

    assert client.get("/api/v1/superuser/users/").status_code == 200
    assert client.get("/api/v1/superuser/users/bob").status_code == 200
    assert client.put("/api/v1/superuser/users/bob", {"enabled": False}, format="json").status_code == 403
    assert client.post("/api/v1/superuser/users/", {"username": "zed"}, format="json").status_code == 403
    assert client.delete("/api/v1/superuser/users/bob").status_code == 403


def test_a_token_without_super_user_scope_is_refused(bearer, root):
    assert bearer(root, "user:admin").get("/api/v1/superuser/users/").status_code == 403
    assert bearer(root, "super:user").get("/api/v1/superuser/users/").status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_name_with_a_nul_byte_is_a_bad_request_not_a_database_error(login, root, method):
    # PostgreSQL refuses NUL bytes in a query: the name must be turned away before any query
    response = getattr(login(root), method)("/api/v1/superuser/users/a%00b", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error_type"] == "invalid_request"
