"""Query budgets of the push path (issue 11), through the real views in-process with a bearer
token: a chunk (PATCH) and a manifest PUT with two layers and a tag. Counts, not timings."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import user_create

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PASSWORD = "push-budget-secret-1"
MIB = 1024 * 1024

pytestmark = pytest.mark.django_db

#: a PATCH: the upload row read and claimed in one statement, the conditional final update (the
#: repository, its proxy-cache setting and the namespace's quota thresholds come from the cache)
PATCH_BUDGET = 2
#: a manifest PUT with a config, two layers and a tag (transaction statements and savepoints
#: included; it was 32 before the blob checks were batched)
MANIFEST_PUT_BUDGET = 26


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def pusher():
    user_create(username="budget", password=PASSWORD)
    client, name = Client(), f"budget/app-{uuid.uuid4().hex[:8]}"
    basic = "Basic " + base64.b64encode(f"budget:{PASSWORD}".encode()).decode()
    response = client.get("/v2/auth", {"service": "testserver", "scope": f"repository:{name}:pull,push"}, HTTP_AUTHORIZATION=basic)
    assert response.status_code == 200, response.content
    return client, name, {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}


def _sql(queries: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"] for q in queries.captured_queries)


def test_a_chunk_patch_stays_within_its_query_budget(pusher):
    client, name, auth = pusher
    data = os.urandom(3 * MIB)
    location = client.generic("POST", f"/v2/{name}/blobs/uploads/", b"", **auth)["Location"]
    for index in range(3):
        with CaptureQueriesContext(connection) as queries:
            response = client.generic(
                "PATCH", location, data[index * MIB:(index + 1) * MIB], content_type="application/octet-stream",
                HTTP_CONTENT_RANGE=f"{index * MIB}-{(index + 1) * MIB - 1}", **auth,
            )
        assert response.status_code == 202, response.content
        assert response["Range"] == f"0-{(index + 1) * MIB - 1}"
        location = response["Location"]
        if index:  # the first PATCH may warm the repository lookup
            assert len(queries.captured_queries) <= PATCH_BUDGET, _sql(queries)
            assert '"repositories_repository"' not in _sql(queries)
            assert '"repositories_proxycacheconfig"' not in _sql(queries)
            assert '"repositories_namespacequota"' not in _sql(queries)
    done = client.put(f"{location}{'&' if '?' in location else '?'}digest={digest_of(data)}", **auth)
    assert done.status_code == 201, done.content
    blob = client.get(f"/v2/{name}/blobs/{digest_of(data)}", **auth)
    assert blob.status_code == 200 and hashlib.sha256(b"".join(blob.streaming_content)).hexdigest() == digest_of(data)[7:]


def test_a_manifest_put_with_two_layers_and_a_tag_stays_within_its_query_budget(pusher):
    client, name, auth = pusher
    config = json.dumps({"os": "linux", "architecture": "amd64"}).encode()
    layers = [os.urandom(4096), os.urandom(2048)]
    for blob in (config, *layers):
        response = client.post(f"/v2/{name}/blobs/uploads/?digest={digest_of(blob)}", data=blob, content_type="application/octet-stream", **auth)
        assert response.status_code == 201, response.content

    def manifest(n: int) -> bytes:
        return json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "annotations": {"n": str(n)},
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of(layer), "size": len(layer)}
                for layer in layers
            ],
        }).encode()

    assert client.put(f"/v2/{name}/manifests/v0", data=manifest(0), content_type=OCI_MANIFEST, **auth).status_code == 201
    raw = manifest(1)
    with CaptureQueriesContext(connection) as queries:
        response = client.put(f"/v2/{name}/manifests/v1", data=raw, content_type=OCI_MANIFEST, **auth)
    assert response.status_code == 201, response.content
    assert response["Docker-Content-Digest"] == digest_of(raw)
    assert len(queries.captured_queries) <= MANIFEST_PUT_BUDGET, _sql(queries)
    # The referenced blobs are looked up together, not one by one.
    assert '"repositories_blob"."digest" = ' not in _sql(queries), _sql(queries)
    pulled = client.get(f"/v2/{name}/manifests/v1", HTTP_ACCEPT=OCI_MANIFEST, **auth)
    assert pulled.status_code == 200 and pulled.content == raw


def test_a_manifest_put_naming_a_blob_of_another_repository_is_refused_one_error_per_missing_blob(pusher):
    client, name, auth = pusher
    config = json.dumps({"os": "linux"}).encode()
    foreign, missing = os.urandom(1024), os.urandom(1024)
    assert client.post(f"/v2/{name}/blobs/uploads/?digest={digest_of(config)}", data=config, content_type="application/octet-stream", **auth).status_code == 201
    other = f"{name}-other"
    token = client.get(
        "/v2/auth", {"service": "testserver", "scope": f"repository:{other}:pull,push"},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"budget:{PASSWORD}".encode()).decode(),
    ).json()["token"]
    response = client.post(
        f"/v2/{other}/blobs/uploads/?digest={digest_of(foreign)}", data=foreign, content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201
    raw = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of(blob), "size": len(blob)}
            for blob in (foreign, missing)
        ],
    }).encode()
    response = client.put(f"/v2/{name}/manifests/v1", data=raw, content_type=OCI_MANIFEST, **auth)
    assert response.status_code == 404, response.content
    errors = response.json()["errors"]
    assert [e["code"] for e in errors] == ["MANIFEST_BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"]
    assert {e["detail"]["digest"] for e in errors} == {digest_of(foreign), digest_of(missing)}
