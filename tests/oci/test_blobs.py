"""Pulling and deleting blobs: ``HEAD``/``GET``/``DELETE /v2/<name>/blobs/<digest>``, with Range."""

from __future__ import annotations

import json

import pytest

from tests.oci.helpers import assert_error, digest_of, push_blob, push_image, random_bytes

pytestmark = pytest.mark.live


@pytest.fixture
def blob(http, registry, name) -> tuple[bytes, str]:
    data = random_bytes(1000)
    return data, push_blob(http, registry, name, data)


def test_head_of_a_blob_reports_length_digest_etag_and_range_support(http, registry, name, blob):
    data, digest = blob
    response = http.head(f"{registry}/v2/{name}/blobs/{digest}")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.content == b""


def test_get_of_a_blob_returns_its_bytes_and_headers(http, registry, name, blob):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["Accept-Ranges"] == "bytes"


def test_an_empty_blob_is_served_with_zero_length(http, registry, name):
    digest = push_blob(http, registry, name, b"")
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"


def test_range_request_returns_206_with_the_slice_and_content_range(http, registry, name, blob):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == data[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert response.headers["Content-Length"] == "10"
    assert response.headers["Docker-Content-Digest"] == digest


def test_open_ended_range_returns_the_rest_of_the_blob(http, registry, name, blob):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": "bytes=900-"})
    assert response.status_code == 206
    assert response.content == data[900:]
    assert response.headers["Content-Range"] == f"bytes 900-999/{len(data)}"


def test_suffix_range_returns_the_last_bytes(http, registry, name, blob):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": "bytes=-16"})
    assert response.status_code == 206
    assert response.content == data[-16:]
    assert response.headers["Content-Range"] == f"bytes 984-999/{len(data)}"


def test_suffix_range_longer_than_the_blob_returns_all_of_it(http, registry, name, blob):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": "bytes=-5000"})
    assert response.status_code == 206
    assert response.content == data
    assert response.headers["Content-Range"] == f"bytes 0-999/{len(data)}"


def test_range_ending_past_the_blob_is_clamped_to_its_end(http, registry, name, blob):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": "bytes=990-5000"})
    assert response.status_code == 206
    assert response.content == data[990:]
    assert response.headers["Content-Range"] == f"bytes 990-999/{len(data)}"


@pytest.mark.parametrize("range_header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_blob_size(http, registry, name, blob, range_header):
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": range_header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(data)}"


def test_range_in_a_unit_the_server_does_not_know_is_ignored(http, registry, name, blob):
    # RFC 9110 14.2: a server MUST ignore a Range header with a range unit it does not understand.
    data, digest = blob
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}", headers={"Range": "items=0-5"})
    assert response.status_code == 200
    assert response.content == data


def test_unknown_blob_is_404_blob_unknown(http, registry, name, blob):
    missing = digest_of(b"never pushed")
    assert_error(http.get(f"{registry}/v2/{name}/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    head = http.head(f"{registry}/v2/{name}/blobs/{missing}")
    assert head.status_code == 404
    assert head.content == b""


def test_blob_pushed_to_one_repository_is_not_visible_in_another(http, registry, name, blob):
    _data, digest = blob
    other = f"{name}-other"
    push_blob(http, registry, other, random_bytes(10))
    assert_error(http.get(f"{registry}/v2/{other}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_delete_of_a_blob_answers_202_and_the_blob_is_then_unknown(http, registry, name, blob):
    _data, digest = blob
    response = http.delete(f"{registry}/v2/{name}/blobs/{digest}")
    assert response.status_code == 202
    assert http.head(f"{registry}/v2/{name}/blobs/{digest}").status_code == 404
    assert_error(http.get(f"{registry}/v2/{name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert_error(http.delete(f"{registry}/v2/{name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_delete_of_a_blob_leaves_other_repositories_holding_it_alone(http, registry, name, blob):
    data, digest = blob
    other = f"{name}-other"
    push_blob(http, registry, other, data)
    assert http.delete(f"{registry}/v2/{name}/blobs/{digest}").status_code == 202
    assert http.get(f"{registry}/v2/{other}/blobs/{digest}").content == data


def test_delete_of_a_blob_a_live_manifest_references_is_refused(http, registry, name):
    image = push_image(http, registry, name, "v1")
    layer = json.loads(image.raw)["layers"][0]["digest"]
    response = http.delete(f"{registry}/v2/{name}/blobs/{layer}")
    assert_error(response, 405, "UNSUPPORTED")
    assert http.head(f"{registry}/v2/{name}/blobs/{layer}").status_code == 200


def test_delete_of_a_blob_is_allowed_once_its_manifest_is_deleted(http, registry, name):
    image = push_image(http, registry, name, "v1")
    layer = json.loads(image.raw)["layers"][0]["digest"]
    assert http.delete(f"{registry}/v2/{name}/manifests/{image.digest}").status_code == 202
    assert http.delete(f"{registry}/v2/{name}/blobs/{layer}").status_code == 202
    assert http.head(f"{registry}/v2/{name}/blobs/{layer}").status_code == 404
