"""Pushing blobs: monolithic, POST then PUT, chunked, streamed, mounts, digests and failures."""

from __future__ import annotations

import pytest

from tests.oci.helpers import (
    absolute,
    assert_error,
    digest_of,
    error_codes,
    patch_chunk,
    push_blob,
    random_bytes,
    send_raw,
    start_upload,
)

pytestmark = pytest.mark.live


def _pulled(http, registry, name, digest) -> bytes:
    response = http.get(f"{registry}/v2/{name}/blobs/{digest}")
    assert response.status_code == 200, response.text
    return response.content


def _in_chunks(data: bytes, size: int):
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


# -- monolithic ------------------------------------------------------------------------------
def test_monolithic_post_with_digest_creates_the_blob(http, registry, name):
    data = random_bytes(4000)
    digest = digest_of(data)
    response = http.post(
        f"{registry}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest
    assert http.get(absolute(registry, response.headers["Location"])).content == data


def test_monolithic_post_of_a_blob_already_stored_succeeds_again(http, registry, name):
    data = random_bytes(100)
    first = push_blob(http, registry, name, data)
    assert push_blob(http, registry, name, data) == first
    assert _pulled(http, registry, name, first) == data


def test_monolithic_post_may_stream_with_chunked_transfer_encoding(http, registry, name):
    data = random_bytes(300_000)
    digest = digest_of(data)
    response = http.post(f"{registry}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=_in_chunks(data, 65536))
    assert response.status_code == 201, response.text
    assert _pulled(http, registry, name, digest) == data


def test_post_opens_an_upload_session_with_a_location(http, registry, name):
    response = http.post(f"{registry}/v2/{name}/blobs/uploads/")
    assert response.status_code == 202
    assert response.headers["Location"]
    assert http.get(absolute(registry, response.headers["Location"])).status_code == 204


def test_post_then_put_with_the_whole_body_creates_the_blob(http, registry, name):
    data = random_bytes(5000)
    digest = digest_of(data)
    location = start_upload(http, registry, name)
    response = http.put(location, params={"digest": digest}, data=data, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest
    assert http.get(absolute(registry, response.headers["Location"])).content == data


# -- chunked ---------------------------------------------------------------------------------
def test_chunks_in_order_are_accepted_and_the_range_grows(http, registry, name):
    data = random_bytes(300)
    location = start_upload(http, registry, name)
    first = patch_chunk(http, location, data[:100], 0)
    assert first.status_code == 202
    assert first.headers["Range"] == "0-99"
    second = patch_chunk(http, absolute(registry, first.headers["Location"]), data[100:], 100)
    assert second.status_code == 202
    assert second.headers["Range"] == "0-299"
    done = http.put(absolute(registry, second.headers["Location"]), params={"digest": digest_of(data)})
    assert done.status_code == 201
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_chunk_that_skips_ahead_is_416_with_the_current_range_and_location(http, registry, name):
    data = random_bytes(300)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data[:100], 0)
    response = patch_chunk(http, location, data[200:], 200)
    assert response.status_code == 416
    assert response.headers["Range"] == "0-99"
    assert absolute(registry, response.headers["Location"]) == location
    assert error_codes(response) == ["RANGE_INVALID"]


def test_chunk_that_overlaps_what_was_received_is_416_with_the_current_range(http, registry, name):
    data = random_bytes(300)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data[:100], 0)
    response = patch_chunk(http, location, data[50:150], 50)
    assert response.status_code == 416
    assert response.headers["Range"] == "0-99"
    assert response.headers["Location"]


def test_upload_resumes_from_the_reported_range_after_a_rejected_chunk(http, registry, name):
    data = random_bytes(300)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data[:100], 0)
    rejected = patch_chunk(http, location, data[200:], 200)
    resume_at = int(rejected.headers["Range"].split("-")[1]) + 1
    assert patch_chunk(http, location, data[resume_at:], resume_at).status_code == 202
    assert http.put(location, params={"digest": digest_of(data)}).status_code == 201
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_chunk_whose_content_range_disagrees_with_its_length_is_416(http, registry, name):
    location = start_upload(http, registry, name)
    response = http.patch(location, data=b"x" * 10, headers={"Content-Range": "0-19"})
    assert response.status_code == 416
    status = http.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-0"


def test_chunks_without_content_range_are_appended_in_arrival_order(http, registry, name):
    data = random_bytes(3000)
    location = start_upload(http, registry, name)
    for start in (0, 1000, 2000):
        response = patch_chunk(http, location, data[start : start + 1000], None)
        assert response.status_code == 202
        assert response.headers["Range"] == f"0-{start + 999}"
    assert http.put(location, params={"digest": digest_of(data)}).status_code == 201
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_patch_may_stream_its_body_with_chunked_transfer_encoding(http, registry, name):
    data = random_bytes(250_000)
    location = start_upload(http, registry, name)
    response = http.patch(location, data=_in_chunks(data, 40_000), headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 202, response.text
    assert response.headers["Range"] == f"0-{len(data) - 1}"
    assert http.put(location, params={"digest": digest_of(data)}).status_code == 201
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_put_may_carry_the_final_chunk(http, registry, name):
    data = random_bytes(2000)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data[:1500], 0)
    response = http.put(
        location,
        params={"digest": digest_of(data)},
        data=data[1500:],
        headers={"Content-Range": f"1500-{len(data) - 1}", "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_final_chunk_in_put_may_omit_content_range(http, registry, name):
    data = random_bytes(2000)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data[:700], 0)
    response = http.put(location, params={"digest": digest_of(data)}, data=data[700:], headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_put_without_a_final_chunk_completes_what_was_patched(http, registry, name):
    data = random_bytes(2000)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data, 0)
    response = http.put(location, params={"digest": digest_of(data)})
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest_of(data)
    assert _pulled(http, registry, name, digest_of(data)) == data


def test_put_without_a_digest_is_refused_and_the_upload_stays_open(http, registry, name):
    location = start_upload(http, registry, name)
    patch_chunk(http, location, b"abc", 0)
    assert_error(http.put(location), 400, "DIGEST_INVALID")
    assert http.get(location).headers["Range"] == "0-2"


# -- status, cancel, unknown sessions --------------------------------------------------------
def test_upload_status_reports_204_with_range_and_location(http, registry, name):
    location = start_upload(http, registry, name)
    patch_chunk(http, location, random_bytes(42), 0)
    response = http.get(location)
    assert response.status_code == 204
    assert response.headers["Range"] == "0-41"
    assert absolute(registry, response.headers["Location"]) == location
    assert response.content == b""


def test_cancelled_upload_is_then_unknown(http, registry, name):
    location = start_upload(http, registry, name)
    patch_chunk(http, location, random_bytes(42), 0)
    assert http.delete(location).status_code == 204
    assert_error(http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch_chunk(http, location, b"more", 42), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(http.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")


def test_completed_upload_session_is_then_unknown(http, registry, name):
    data = random_bytes(10)
    location = start_upload(http, registry, name)
    assert http.put(location, params={"digest": digest_of(data)}, data=data).status_code == 201
    assert_error(http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_id_is_404_blob_upload_unknown(http, registry, name, method):
    push_blob(http, registry, name, b"the repository exists")
    url = f"{registry}/v2/{name}/blobs/uploads/0123456789abcdef0123456789abcdef"
    response = http.request(method, url, params={"digest": digest_of(b"x")} if method == "PUT" else None, data=b"x")
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_session_of_one_repository_is_unknown_in_another(http, registry, name):
    location = start_upload(http, registry, name)
    other = f"{name}-other"
    push_blob(http, registry, other, b"the other repository exists")
    upload_id = location.rsplit("/", 1)[1]
    assert_error(http.get(f"{registry}/v2/{other}/blobs/uploads/{upload_id}"), 404, "BLOB_UPLOAD_UNKNOWN")


# -- mounts ----------------------------------------------------------------------------------
def test_mount_from_another_repository_links_the_blob_without_upload(http, registry, name):
    data = random_bytes(700)
    digest = push_blob(http, registry, name, data)
    target = f"{name}-target"
    response = http.post(f"{registry}/v2/{target}/blobs/uploads/", params={"mount": digest, "from": name})
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest
    assert http.get(absolute(registry, response.headers["Location"])).content == data


def test_mount_of_an_unknown_blob_falls_back_to_a_usable_upload_session(http, registry, name):
    push_blob(http, registry, name, b"source exists")
    data = random_bytes(100)
    target = f"{name}-target"
    response = http.post(f"{registry}/v2/{target}/blobs/uploads/", params={"mount": digest_of(data), "from": name})
    assert response.status_code == 202
    location = absolute(registry, response.headers["Location"])
    assert http.put(location, params={"digest": digest_of(data)}, data=data).status_code == 201
    assert _pulled(http, registry, target, digest_of(data)) == data


def test_mount_from_a_repository_that_lacks_the_blob_does_not_link_it(http, registry, name):
    data = random_bytes(100)
    digest = push_blob(http, registry, f"{name}-holder", data)
    push_blob(http, registry, name, b"source exists but lacks the blob")
    target = f"{name}-target"
    response = http.post(f"{registry}/v2/{target}/blobs/uploads/", params={"mount": digest, "from": name})
    assert response.status_code == 202
    assert http.head(f"{registry}/v2/{target}/blobs/{digest}").status_code == 404


def test_mount_without_from_finds_the_blob_in_a_readable_repository(http, registry, name):
    data = random_bytes(100)
    digest = push_blob(http, registry, name, data)
    target = f"{name}-target"
    response = http.post(f"{registry}/v2/{target}/blobs/uploads/", params={"mount": digest})
    assert response.status_code == 201
    assert _pulled(http, registry, target, digest) == data


# -- digest algorithms -----------------------------------------------------------------------
def test_monolithic_upload_with_a_sha512_digest(http, registry, name):
    data = random_bytes(1000)
    digest = push_blob(http, registry, name, data, algorithm="sha512")
    assert digest.startswith("sha512:")
    head = http.head(f"{registry}/v2/{name}/blobs/{digest}")
    assert head.headers["Docker-Content-Digest"] == digest
    assert _pulled(http, registry, name, digest) == data


def test_chunked_upload_completed_with_a_sha512_digest(http, registry, name):
    data = random_bytes(3000)
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data[:1000], 0)
    patch_chunk(http, location, data[1000:], 1000)
    response = http.put(location, params={"digest": digest_of(data, "sha512")})
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest_of(data, "sha512")
    assert _pulled(http, registry, name, digest_of(data, "sha512")) == data


# -- failures store nothing ------------------------------------------------------------------
def test_monolithic_upload_with_the_wrong_digest_is_digest_invalid_and_stores_nothing(http, registry, name):
    data = random_bytes(100)
    claimed = digest_of(b"something else")
    response = http.post(f"{registry}/v2/{name}/blobs/uploads/", params={"digest": claimed}, data=data)
    assert_error(response, 400, "DIGEST_INVALID")
    assert http.head(f"{registry}/v2/{name}/blobs/{claimed}").status_code == 404
    assert http.head(f"{registry}/v2/{name}/blobs/{digest_of(data)}").status_code == 404


def test_chunked_upload_with_the_wrong_digest_is_digest_invalid_and_stores_nothing(http, registry, name):
    data = random_bytes(100)
    claimed = digest_of(b"something else", "sha512")
    location = start_upload(http, registry, name)
    patch_chunk(http, location, data, 0)
    assert_error(http.put(location, params={"digest": claimed}), 400, "DIGEST_INVALID")
    assert http.head(f"{registry}/v2/{name}/blobs/{claimed}").status_code == 404
    assert http.head(f"{registry}/v2/{name}/blobs/{digest_of(data)}").status_code == 404


def test_monolithic_body_shorter_than_content_length_is_size_invalid_and_stores_nothing(live_registry, http, registry, name):
    push_blob(http, registry, name, b"the repository exists")
    data = random_bytes(100)
    digest = digest_of(data)
    head = (
        f"POST /v2/{name}/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: {live_registry.host}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: 200\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _headers, body = send_raw(live_registry.host, head, data)
    assert status == 400
    assert b"SIZE_INVALID" in body
    assert http.head(f"{registry}/v2/{name}/blobs/{digest}").status_code == 404


def test_chunk_shorter_than_its_content_length_leaves_the_upload_unchanged(live_registry, http, registry, name):
    location = start_upload(http, registry, name)
    patch_chunk(http, location, b"x" * 50, 0)
    path = location.removeprefix(registry)
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: {live_registry.host}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: 100\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _headers, body = send_raw(live_registry.host, head, b"y" * 60)
    assert status == 400
    assert b"SIZE_INVALID" in body
    assert http.get(location).headers["Range"] == "0-49"
