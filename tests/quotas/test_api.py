"""Quay's quota API: superusers create and change quotas and limits; organization members read
them with the usage report; other users get 403; a user reads their own namespace's quota."""

from __future__ import annotations

import pytest

from repositories.models import AuditLog
from repositories.models.lifecycle import NamespaceQuota, QuotaLimit

pytestmark = pytest.mark.django_db

ORG = "/api/v1/organization/acme/quota"


@pytest.fixture
def as_root(login, root):
    return login(root)


@pytest.fixture
def quota(as_root, acme):
    response = as_root.post(ORG, {"limit_bytes": 1000}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_superuser_creates_a_quota_and_its_limits(as_root, acme):
    created = as_root.post(ORG, {"limit_bytes": 5_000_000}, format="json")
    assert created.status_code == 201, created.content
    quota_id = created.json()["id"]

    limit = as_root.post(f"{ORG}/{quota_id}/limit", {"type": "Reject", "threshold_percent": 90}, format="json")
    assert limit.status_code == 201, limit.content

    listed = as_root.get(ORG).json()
    assert len(listed) == 1
    assert listed[0]["limit_bytes"] == 5_000_000
    assert listed[0]["limits"] == [{"id": limit.json()["id"], "type": "Reject", "limit_percent": 90}]
    assert listed[0]["quota_report"] == {"quota_bytes": 0, "configured_quota": 5_000_000, "percent_consumed": 0.0}
    assert AuditLog.objects.filter(kind="org_create_quota", namespace_name="acme").exists()


def test_an_organization_admin_cannot_create_a_quota(login, alice, acme):
    response = login(alice).post(ORG, {"limit_bytes": 1000}, format="json")
    assert response.status_code == 403
    assert not NamespaceQuota.objects.exists()


def test_members_read_but_cannot_change_the_quota(login, acme_member, quota):
    client = login(acme_member)
    assert client.get(ORG).status_code == 200
    assert client.get(f"{ORG}/{quota['id']}").json()["limit_bytes"] == 1000
    assert client.put(f"{ORG}/{quota['id']}", {"limit_bytes": 10**12}, format="json").status_code == 403
    assert client.delete(f"{ORG}/{quota['id']}").status_code == 403
    assert client.post(f"{ORG}/{quota['id']}/limit", {"type": "Reject", "threshold_percent": 100}, format="json").status_code == 403
    assert NamespaceQuota.objects.get().limit_bytes == 1000


def test_outsiders_and_anonymous_callers_cannot_read_the_quota(login, bob, quota, client):
    assert login(bob).get(ORG).status_code == 403  # bob is not in acme in this test
    assert client.get(ORG).status_code in (401, 403)


def test_one_quota_per_namespace(as_root, quota):
    response = as_root.post(ORG, {"limit_bytes": 2000}, format="json")
    assert response.status_code == 409


def test_invalid_input_is_refused(as_root, quota):
    assert as_root.post("/api/v1/organization/acme/quota", {"limit_bytes": -5}, format="json").status_code == 400
    assert as_root.post(f"{ORG}/{quota['id']}/limit", {"type": "Panic", "threshold_percent": 90}, format="json").status_code == 400
    assert as_root.post(f"{ORG}/{quota['id']}/limit", {"type": "Warning", "threshold_percent": 0}, format="json").status_code == 400


def test_change_and_delete_a_quota_and_a_limit(as_root, quota):
    base = f"{ORG}/{quota['id']}"
    limit = as_root.post(f"{base}/limit", {"type": "Warning", "threshold_percent": 70}, format="json").json()

    assert as_root.put(base, {"limit_bytes": 4000}, format="json").json()["limit_bytes"] == 4000
    assert as_root.put(f"{base}/limit/{limit['id']}", {"threshold_percent": 75}, format="json").json()["limit_percent"] == 75
    assert as_root.get(f"{base}/limit/{limit['id']}").json() == {"id": limit["id"], "type": "Warning", "limit_percent": 75}
    assert as_root.delete(f"{base}/limit/{limit['id']}").status_code == 204
    assert not QuotaLimit.objects.exists()
    assert as_root.delete(base).status_code == 204
    assert not NamespaceQuota.objects.exists()
    assert as_root.get(base).status_code == 404


def test_editing_can_be_disabled(as_root, acme, settings):
    settings.MOORAGE = {**settings.MOORAGE, "quotas": {**settings.MOORAGE["quotas"], "edit_enabled": False}}
    assert as_root.post(ORG, {"limit_bytes": 1000}, format="json").status_code == 403


def test_a_user_reads_their_own_quota_but_cannot_write_it(login, root, alice):
    as_root = login(root)
    created = as_root.post(f"/api/v1/superuser/users/{alice.username}/quota", {"limit_bytes": 777}, format="json")
    assert created.status_code == 201, created.content
    as_alice = login(alice)

    own = as_alice.get("/api/v1/user/quota")
    assert own.status_code == 200
    assert own.json()[0]["limit_bytes"] == 777
    assert as_alice.get(f"/api/v1/user/quota/{created.json()['id']}/limit").json() == []
    assert as_alice.post("/api/v1/user/quota", {"limit_bytes": 10**12}, format="json").status_code == 405


def test_superuser_paths_manage_any_namespace_and_refuse_others(login, root, alice, acme):
    base = "/api/v1/superuser/users/acme/quota"
    assert login(alice).post(base, {"limit_bytes": 10}, format="json").status_code == 403
    as_root = login(root)
    quota_id = as_root.post(base, {"limit_bytes": 10}, format="json").json()["id"]
    assert as_root.put(f"{base}/{quota_id}", {"limit_bytes": 20}, format="json").json()["limit_bytes"] == 20
    assert as_root.get(base).json()[0]["limit_bytes"] == 20
    assert as_root.delete(f"{base}/{quota_id}").status_code == 204
    assert as_root.get("/api/v1/superuser/users/nobody-here/quota").status_code == 404


def test_a_global_readonly_superuser_reads_but_cannot_create(login, auditor, acme, quota):
    client = login(auditor)
    assert client.get(ORG).status_code == 200
    assert client.post("/api/v1/superuser/users/acme/quota", {"limit_bytes": 10}, format="json").status_code == 403
