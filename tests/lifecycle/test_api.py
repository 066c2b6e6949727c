"""The auto-prune and immutability policy APIs (Quay's paths and JSON shapes) and who may use them."""

from __future__ import annotations

import pytest

from repositories.models import AuditLog
from repositories.models.lifecycle import AutoPrunePolicy, ImmutabilityPolicy
from repositories.services.repositories import permission_set

pytestmark = pytest.mark.django_db

ORG_PRUNE = "/api/v1/organization/acme/autoprunepolicy/"
REPO_PRUNE = "/api/v1/repository/acme/app/autoprunepolicy/"
ORG_IMMUTABLE = "/api/v1/organization/acme/immutabilitypolicy/"
REPO_IMMUTABLE = "/api/v1/repository/acme/app/immutabilitypolicy/"


def test_an_org_admin_manages_namespace_autoprune_policies(login, alice, acme):
    client = login(alice)
    created = client.post(ORG_PRUNE, {"method": "number_of_tags", "value": 5, "tagPattern": "^pr-", "tagPatternMatches": True}, format="json")
    assert created.status_code == 201, created.content
    uuid = created.json()["uuid"]

    assert client.get(ORG_PRUNE).json() == {
        "policies": [{"uuid": uuid, "method": "number_of_tags", "value": 5, "tagPattern": "^pr-", "tagPatternMatches": True}]
    }
    assert client.put(f"{ORG_PRUNE}{uuid}", {"method": "creation_date", "value": "2w"}, format="json").status_code == 204
    assert client.get(f"{ORG_PRUNE}{uuid}").json() == {"uuid": uuid, "method": "creation_date", "value": "2w", "tagPattern": None, "tagPatternMatches": True}
    assert client.delete(f"{ORG_PRUNE}{uuid}").json() == {"uuid": uuid}
    assert not AutoPrunePolicy.objects.exists()
    kinds = set(AuditLog.objects.values_list("kind", flat=True))
    assert {"create_namespace_autoprune_policy", "update_namespace_autoprune_policy", "delete_namespace_autoprune_policy"} <= kinds


def test_bad_policy_values_are_a_400(login, alice, acme):
    client = login(alice)
    assert client.post(ORG_PRUNE, {"method": "creation_date", "value": "soon"}, format="json").status_code == 400
    assert client.post(ORG_PRUNE, {"method": "number_of_tags", "value": 3, "tagPattern": "(["}, format="json").status_code == 400
    assert client.post(ORG_IMMUTABLE, {"tagPattern": "*"}, format="json").status_code == 400


def test_non_admins_cannot_touch_namespace_policies(login, bob, acme):
    client = login(bob)
    assert client.get(ORG_PRUNE).status_code == 403
    assert client.post(ORG_PRUNE, {"method": "number_of_tags", "value": 1}, format="json").status_code == 403
    assert client.post(ORG_IMMUTABLE, {"tagPattern": ".*"}, format="json").status_code == 403


def test_repository_policies_need_the_repository_admin_role(login, alice, bob, app):
    permission_set(repository=app, user=bob, role="write")
    as_bob = login(bob)
    assert as_bob.post(REPO_PRUNE, {"method": "number_of_tags", "value": 1}, format="json").status_code == 403
    assert as_bob.post(REPO_IMMUTABLE, {"tagPattern": ".*"}, format="json").status_code == 403

    as_alice = login(alice)
    created = as_alice.post(REPO_PRUNE, {"method": "number_of_tags", "value": 1}, format="json")
    assert created.status_code == 201, created.content
    assert AutoPrunePolicy.objects.get().repository == app
    assert as_alice.get(REPO_PRUNE).json()["policies"][0]["uuid"] == created.json()["uuid"]
    assert as_alice.get(ORG_PRUNE).json() == {"policies": []}  # a repository policy is not a namespace one


def test_user_autoprune_policies_act_on_the_callers_namespace(login, bob):
    client = login(bob)
    created = client.post("/api/v1/user/autoprunepolicy/", {"method": "creation_date", "value": "30d"}, format="json")
    assert created.status_code == 201, created.content
    assert AutoPrunePolicy.objects.get().namespace.name == bob.username
    uuid = created.json()["uuid"]
    assert client.get(f"/api/v1/user/autoprunepolicy/{uuid}").json()["value"] == "30d"
    assert client.delete(f"/api/v1/user/autoprunepolicy/{uuid}").status_code == 200


def test_immutability_policy_crud_on_org_and_repository(login, alice, app):
    client = login(alice)
    org = client.post(ORG_IMMUTABLE, {"tagPattern": "^v[0-9]", "tagPatternMatches": True}, format="json")
    repo = client.post(REPO_IMMUTABLE, {"tagPattern": "^dev", "tagPatternMatches": False}, format="json")
    assert org.status_code == repo.status_code == 201

    assert client.get(ORG_IMMUTABLE).json()["policies"] == [{"uuid": org.json()["uuid"], "tagPattern": "^v[0-9]", "tagPatternMatches": True}]
    assert client.get(f"{REPO_IMMUTABLE}{repo.json()['uuid']}").json()["tagPatternMatches"] is False
    assert client.put(f"{ORG_IMMUTABLE}{org.json()['uuid']}", {"tagPattern": "^release"}, format="json").status_code == 204
    assert ImmutabilityPolicy.objects.get(uuid=org.json()["uuid"]).tag_pattern == "^release"
    assert client.delete(f"{REPO_IMMUTABLE}{repo.json()['uuid']}").status_code == 200
    assert client.get(f"{REPO_IMMUTABLE}{repo.json()['uuid']}").status_code == 404


def test_unknown_or_malformed_policy_ids_are_404(login, alice, acme):
    client = login(alice)
    assert client.get(f"{ORG_PRUNE}not-a-uuid").status_code == 404
    assert client.get(f"{ORG_PRUNE}6f1c8a52-3c35-4c43-a1a5-2f3b4a5d6e7f").status_code == 404
