"""Default permissions: ``/api/v1/organization/<orgname>/prototypes[/<prototypeid>]``."""

from __future__ import annotations

import uuid

from organizations.models import Organization, Prototype
from organizations.services import prototype_create
from repositories.models import RepositoryPermission
from repositories.services.repositories import repository_get_or_create
from tests.api.organizations.conftest import audit_entries

PROTOTYPES = "/api/v1/organization/acme/prototypes"


def test_an_admin_creates_a_default_permission_for_a_team(as_alice, devs):
    response = as_alice.post(PROTOTYPES, {"role": "write", "delegate": {"kind": "team", "name": "devs"}}, format="json")
    assert response.status_code == 200
    body = response.json()
    prototype = Prototype.objects.get(uuid=body["id"])
    assert prototype.delegate_team == devs
    assert body == {"activating_user": None, "delegate": {"name": "devs", "kind": "team"}, "role": "write", "id": str(prototype.uuid)}


def test_a_default_permission_applies_to_repositories_created_later(as_alice, devs):
    as_alice.post(PROTOTYPES, {"role": "write", "delegate": {"kind": "team", "name": "devs"}}, format="json")
    repository = repository_get_or_create(name="acme/new")
    assert RepositoryPermission.objects.get(repository=repository, team=devs).role == "write"


def test_a_default_permission_for_a_user_with_an_activating_user(as_alice, alice, bob, devs):
    payload = {"role": "read", "delegate": {"kind": "user", "name": "bob"}, "activating_user": {"name": "alice"}}
    body = as_alice.post(PROTOTYPES, payload, format="json").json()
    assert body["delegate"] == {"name": "bob", "is_robot": False, "kind": "user", "is_org_member": True}
    assert body["activating_user"] == {"name": "alice", "is_robot": False, "kind": "user", "is_org_member": True}


def test_a_user_outside_the_organization_is_marked_as_such(as_alice, carol):
    body = as_alice.post(PROTOTYPES, {"role": "read", "delegate": {"kind": "user", "name": "carol"}}, format="json").json()
    assert body["delegate"]["is_org_member"] is False


def test_a_robot_delegate_is_named_as_a_user_as_in_quay(as_alice, acme_robot):
    body = as_alice.post(PROTOTYPES, {"role": "write", "delegate": {"kind": "user", "name": "acme+deployer"}}, format="json").json()
    assert body["delegate"] == {"name": "acme+deployer", "is_robot": True, "kind": "user", "is_org_member": True}
    assert Prototype.objects.get(uuid=body["id"]).delegate_robot == acme_robot.robot


def test_a_robot_delegate_may_also_be_given_kind_robot(as_alice, acme_robot):
    response = as_alice.post(PROTOTYPES, {"role": "write", "delegate": {"kind": "robot", "name": "acme+deployer"}}, format="json")
    assert response.status_code == 200


def test_creating_a_default_permission_is_audited(as_alice, devs):
    body = as_alice.post(PROTOTYPES, {"role": "admin", "delegate": {"kind": "team", "name": "devs"}}, format="json").json()
    [entry] = audit_entries("create_prototype_permission")
    assert entry.metadata == {"prototypeid": body["id"], "activating_username": None, "role": "admin", "delegate_team": "devs"}


def test_an_unknown_delegate_is_a_bad_request(as_alice, acme):
    response = as_alice.post(PROTOTYPES, {"role": "read", "delegate": {"kind": "team", "name": "ghosts"}}, format="json")
    assert response.status_code == 400
    assert response.json()["error_message"] == "Missing delegate user or team"


def test_a_robot_name_with_kind_robot_must_be_a_robot(as_alice, carol):
    response = as_alice.post(PROTOTYPES, {"role": "read", "delegate": {"kind": "robot", "name": "carol"}}, format="json")
    assert response.status_code == 400


def test_an_unknown_activating_user_is_a_bad_request(as_alice, devs):
    payload = {"role": "read", "delegate": {"kind": "team", "name": "devs"}, "activating_user": {"name": "ghost"}}
    response = as_alice.post(PROTOTYPES, payload, format="json")
    assert response.status_code == 400
    assert response.json()["error_message"] == "Unknown activating user"


def test_a_robot_of_another_namespace_cannot_be_a_delegate(as_alice, carol, login):
    login(carol).post("/api/v1/organization/", {"name": "other"}, format="json")
    login(carol).put("/api/v1/organization/other/robots/spy", format="json")
    response = as_alice.post(PROTOTYPES, {"role": "read", "delegate": {"kind": "user", "name": "other+spy"}}, format="json")
    assert response.status_code == 400
    assert not Prototype.objects.exists()


def test_a_default_permission_needs_a_known_role(as_alice, devs):
    response = as_alice.post(PROTOTYPES, {"role": "owner", "delegate": {"kind": "team", "name": "devs"}}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_a_member_cannot_create_default_permissions(as_bob):
    assert as_bob.post(PROTOTYPES, {"role": "read", "delegate": {"kind": "team", "name": "devs"}}, format="json").status_code == 403


def test_anonymous_callers_cannot_create_default_permissions(anonymous, acme):
    assert anonymous.post(PROTOTYPES, {"role": "read", "delegate": {"kind": "team", "name": "owners"}}, format="json").status_code == 401


def test_an_admin_lists_the_default_permissions(as_alice, acme, alice, devs, acme_robot):
    prototype_create(organization=acme, role="read", delegate_team=devs)
    prototype_create(organization=acme, role="write", delegate_robot=acme_robot.robot, activating_user=alice)
    prototypes = as_alice.get(PROTOTYPES).json()["prototypes"]
    assert [(p["delegate"]["name"], p["role"]) for p in prototypes] == [("devs", "read"), ("acme+deployer", "write")]
    assert prototypes[1]["activating_user"]["name"] == "alice"


def test_a_member_cannot_list_default_permissions(as_bob):
    assert as_bob.get(PROTOTYPES).status_code == 403


def test_a_read_only_superuser_lists_default_permissions(as_auditor, acme):
    assert as_auditor.get(PROTOTYPES).json() == {"prototypes": []}


def test_listing_default_permissions_takes_a_bounded_number_of_queries(as_alice, acme, alice, bob, devs, django_assert_max_num_queries):
    for index in range(5):
        prototype_create(organization=acme, role="read", delegate_team=devs)
        prototype_create(organization=acme, role="write", delegate_user=bob, activating_user=alice)
    with django_assert_max_num_queries(7):
        assert len(as_alice.get(PROTOTYPES).json()["prototypes"]) == 10


def test_an_admin_changes_the_role_of_a_default_permission(as_alice, acme, devs):
    prototype = prototype_create(organization=acme, role="read", delegate_team=devs)
    response = as_alice.put(f"{PROTOTYPES}/{prototype.uuid}", {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    prototype.refresh_from_db()
    assert prototype.role == "admin"
    [entry] = audit_entries("modify_prototype_permission")
    assert (entry.metadata["original_role"], entry.metadata["role"]) == ("read", "admin")


def test_changing_a_default_permission_needs_a_known_role(as_alice, acme, devs):
    prototype = prototype_create(organization=acme, role="read", delegate_team=devs)
    assert as_alice.put(f"{PROTOTYPES}/{prototype.uuid}", {"role": "owner"}, format="json").status_code == 400


def test_an_admin_deletes_a_default_permission(as_alice, acme, devs):
    prototype = prototype_create(organization=acme, role="read", delegate_team=devs)
    assert as_alice.delete(f"{PROTOTYPES}/{prototype.uuid}").status_code == 204
    assert not Prototype.objects.filter(pk=prototype.pk).exists()
    assert [e.metadata["prototypeid"] for e in audit_entries("delete_prototype_permission")] == [str(prototype.uuid)]


def test_an_unknown_default_permission_is_not_found(as_alice):
    assert as_alice.delete(f"{PROTOTYPES}/{uuid.uuid4()}").status_code == 404


def test_a_malformed_default_permission_id_is_not_found(as_alice):
    assert as_alice.put(f"{PROTOTYPES}/not-a-uuid", {"role": "read"}, format="json").status_code == 404


def test_a_default_permission_of_another_organization_is_not_found(as_alice, login, carol):
    login(carol).post("/api/v1/organization/", {"name": "other"}, format="json")
    other = Organization.objects.get(namespace__name="other")
    prototype = prototype_create(organization=other, role="read", delegate_team=other.teams.get(name="owners"))
    assert as_alice.delete(f"{PROTOTYPES}/{prototype.uuid}").status_code == 404
    assert Prototype.objects.filter(pk=prototype.pk).exists()


def test_a_member_cannot_delete_default_permissions(as_bob, acme, devs):
    prototype = prototype_create(organization=acme, role="read", delegate_team=devs)
    assert as_bob.delete(f"{PROTOTYPES}/{prototype.uuid}").status_code == 403

