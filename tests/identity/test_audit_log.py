"""The audit log of a live server: logins (good and bad), pushes, pulls, tag deletions and
repository creation each write one row naming who, what and from which address."""

from __future__ import annotations

import json
import random

import pytest
import requests

from tests.identity.helpers import SourceAddressAdapter, bearer, push_image, token, unique

pytestmark = pytest.mark.live

MANIFEST_ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


@pytest.fixture(scope="module")
def audited(live_world) -> dict:
    """Do one of everything from a fresh address; return the rows written for that address."""
    ip = f"127.3.{random.randrange(0, 256)}.{random.randrange(1, 255)}"
    base = live_world.url
    by_basic, by_token = unique("alice/audited-"), unique("alice/token-made-")
    with requests.Session() as http:
        http.mount("http://", SourceAddressAdapter(ip))
        assert http.get(f"{base}/v2/auth", params={"scope": "repository:alice/private:pull"}, auth=("alice", "not-her-password")).status_code == 401
        assert http.get(f"{base}/v2/auth", params={"scope": "repository:alice/private:pull"}, auth=("alice", live_world.password)).status_code == 200
        digest = push_image(http, base, by_basic, "v1", auth=live_world.login("alice"))
        assert http.get(f"{base}/v2/{by_basic}/manifests/v1", auth=live_world.login("alice"), headers=MANIFEST_ACCEPT).status_code == 200
        assert http.delete(f"{base}/v2/{by_basic}/manifests/v1", auth=live_world.login("alice")).status_code == 202
        push_token = token(http, base, f"repository:{by_token}:pull,push", auth=live_world.login("alice"))
        push_image(http, base, by_token, "v1", headers=bearer(push_token))
    rows = live_world.query(
        f"list(AuditLog.objects.filter(ip={ip!r}).order_by('id').values('kind', 'performer_name', 'repository_name', 'ip', 'metadata'))",
        # Pull entries wait in Redis (when configured) until drained: drain them first.
        "from repositories.models import AuditLog\nfrom repositories.services.audit import audit_buffer_drain\naudit_buffer_drain()",
    )
    return {"rows": rows, "ip": ip, "digest": digest, "by_basic": by_basic, "by_token": by_token}


def rows_of(audited: dict, kind: str) -> list[dict]:
    return [row for row in audited["rows"] if row["kind"] == kind]


def test_a_successful_login_is_audited_with_the_user_and_address(audited):
    logins = rows_of(audited, "login_success")

    assert logins
    assert {row["performer_name"] for row in logins} == {"alice"}
    assert logins[0]["ip"] == audited["ip"]
    assert logins[0]["metadata"]["via"] == "password"


def test_a_failed_login_is_audited_with_the_attempted_user_name(audited):
    failures = rows_of(audited, "login_failure")

    assert len(failures) == 1
    assert failures[0]["performer_name"] == ""
    assert failures[0]["metadata"] == {"username": "alice"}


def test_a_push_is_audited_with_the_digest_and_tag(audited):
    pushes = [row for row in rows_of(audited, "push_repo") if row["repository_name"] == audited["by_basic"]]

    assert len(pushes) == 1
    assert pushes[0]["performer_name"] == "alice"
    assert pushes[0]["metadata"]["digest"] == audited["digest"]
    assert pushes[0]["metadata"]["tags"] == ["v1"]


def test_a_pull_is_audited(audited):
    pulls = rows_of(audited, "pull_repo")

    assert [(row["repository_name"], row["metadata"]["reference"], row["metadata"]["digest"]) for row in pulls] == [
        (audited["by_basic"], "v1", audited["digest"])
    ]


def test_a_tag_deletion_is_audited(audited):
    deletions = rows_of(audited, "delete_tag")

    assert [(row["repository_name"], row["performer_name"], row["metadata"]) for row in deletions] == [(audited["by_basic"], "alice", {"tag": "v1"})]


def test_creating_a_repository_through_the_token_service_is_audited(audited):
    assert audited["by_token"] in {row["repository_name"] for row in rows_of(audited, "create_repo")}


def test_creating_a_repository_by_pushing_with_basic_credentials_is_audited(audited):
    assert audited["by_basic"] in {row["repository_name"] for row in rows_of(audited, "create_repo")}


def test_no_secret_is_written_to_the_audit_log(audited, live_world):
    written = json.dumps(audited["rows"])

    assert live_world.password not in written
    assert live_world.app_tokens["alice"] not in written
    assert "not-her-password" not in written
