"""Hostile input on /v2 against a real server with small limits: oversized blobs and manifests
(refused early from Content-Length and while streaming, nothing stored, the upload still
resumable), path traversal, unicode and over-long names, unknown digest algorithms, broken
Range / Content-Range, huge and duplicated headers, truncated and slow bodies. Every answer is a
clear 4xx (OCI error JSON where the registry answers; gunicorn's own 400/431 for broken HTTP),
never a 5xx, and the server log holds no traceback at the end."""

from __future__ import annotations

import json
import os

import pytest
import requests

from tests.hostile.conftest import MAX_BLOB, MAX_MANIFEST
from tests.hostile.raw import exchange, request_head
from tests.oci.helpers import EMPTY_DIGEST, OCI_MANIFEST, digest_of, error_codes, push_blob, start_upload, unique_name

pytestmark = pytest.mark.live

OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def name() -> str:
    return unique_name("hostile")


def upload_url(registry, name: str) -> str:
    return start_upload(requests.Session(), registry.url, name)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def upload_range(registry, location: str) -> str:
    """The upload's ``Range`` header: ``0-<last byte>`` (``0-0`` also for an empty upload)."""
    response = requests.get(location, timeout=10)
    assert response.status_code == 204, response.text
    return response.headers["Range"]


def upload_offset(registry, location: str) -> int:
    return int(upload_range(registry, location).rsplit("-", 1)[1]) + 1


def assert_oci_error(status: int, body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status, body[:300]
    assert json.loads(body)["errors"][0]["code"] == code, body[:300]


# -- blob size limit -------------------------------------------------------------------------------
def test_monolithic_upload_declaring_more_than_the_limit_is_refused_before_its_body(limited, name):
    data_digest = "sha256:" + "a" * 64
    head = request_head("POST", f"/v2/{name}/blobs/uploads/?digest={data_digest}", {**OCTETS, "Content-Length": str(10**12)})

    answer = exchange(limited.port, head, close_write=False, timeout=20)  # no body is ever sent

    assert_oci_error(answer.status, answer.body, 413, "SIZE_INVALID")
    assert requests.head(f"{limited.url}/v2/{name}/blobs/{data_digest}", timeout=10).status_code == 404


def test_monolithic_upload_streaming_past_the_limit_is_413_and_stores_nothing(limited, name):
    data = os.urandom(MAX_BLOB + 1)

    def chunked():
        for offset in range(0, len(data), 16384):
            yield data[offset : offset + 16384]

    response = requests.post(f"{limited.url}/v2/{name}/blobs/uploads/?digest={digest_of(data)}", data=chunked(), headers=OCTETS, timeout=30)

    assert response.status_code == 413 and error_codes(response) == ["SIZE_INVALID"]
    assert requests.head(f"{limited.url}/v2/{name}/blobs/{digest_of(data)}", timeout=10).status_code == 404


def test_a_blob_of_exactly_the_limit_is_accepted(limited, name):
    data = os.urandom(MAX_BLOB)

    response = requests.post(f"{limited.url}/v2/{name}/blobs/uploads/?digest={digest_of(data)}", data=data, headers=OCTETS, timeout=30)

    assert response.status_code == 201, response.text


def test_chunk_declaring_past_the_limit_is_refused_early_and_the_upload_stays_resumable(limited, name):
    location = upload_url(limited, name)
    first = os.urandom(MAX_BLOB - 10)
    assert requests.patch(location, data=first, headers=OCTETS, timeout=30).status_code == 202
    head = request_head("PATCH", path_of(location), {**OCTETS, "Content-Length": "11"})

    answer = exchange(limited.port, head, close_write=False, timeout=20)

    assert_oci_error(answer.status, answer.body, 413, "SIZE_INVALID")
    assert upload_offset(limited, location) == len(first)
    last = b"0123456789"
    response = requests.put(f"{location}&digest={digest_of(first + last)}" if "?" in location else f"{location}?digest={digest_of(first + last)}",
                            data=last, headers=OCTETS, timeout=30)
    assert response.status_code == 201, response.text


def test_chunked_patch_streaming_past_the_limit_is_413_and_keeps_what_came_before(limited, name):
    location = upload_url(limited, name)
    assert requests.patch(location, data=b"x" * 1000, headers=OCTETS, timeout=30).status_code == 202

    response = requests.patch(location, data=iter([b"y" * 60_000, b"y" * 60_000]), headers=OCTETS, timeout=30)

    assert response.status_code == 413 and error_codes(response) == ["SIZE_INVALID"]
    assert upload_offset(limited, location) == 1000


def test_final_put_chunk_past_the_limit_is_413_and_nothing_is_stored(limited, name):
    location = upload_url(limited, name)
    data = os.urandom(MAX_BLOB + 5)
    separator = "&" if "?" in location else "?"

    response = requests.put(f"{location}{separator}digest={digest_of(data)}", data=data, headers=OCTETS, timeout=30)

    assert response.status_code == 413 and error_codes(response) == ["SIZE_INVALID"]
    assert requests.head(f"{limited.url}/v2/{name}/blobs/{digest_of(data)}", timeout=10).status_code == 404


# -- manifest size limit ---------------------------------------------------------------------------
def big_manifest(size: int) -> bytes:
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_DIGEST, "size": 2}, "layers": [],
        "annotations": {"pad": ""},
    }
    raw = json.dumps(document).encode()
    document["annotations"]["pad"] = "p" * (size - len(raw))
    return json.dumps(document).encode()


def test_manifest_over_the_configured_limit_is_413_size_invalid(limited, name):
    raw = big_manifest(MAX_MANIFEST + 1)

    response = requests.put(f"{limited.url}/v2/{name}/manifests/v1", data=raw, headers={"Content-Type": OCI_MANIFEST}, timeout=30)

    assert response.status_code == 413 and error_codes(response) == ["SIZE_INVALID"]
    assert requests.get(f"{limited.url}/v2/{name}/manifests/v1", timeout=10).status_code == 404


def test_manifest_at_the_configured_limit_is_accepted(limited, name):
    raw = big_manifest(MAX_MANIFEST)
    assert len(raw) == MAX_MANIFEST

    response = requests.put(f"{limited.url}/v2/{name}/manifests/v1", data=raw, headers={"Content-Type": OCI_MANIFEST}, timeout=30)

    assert response.status_code == 201, response.text


def test_manifest_declaring_a_huge_length_is_refused_before_its_body(limited, name):
    head = request_head("PUT", f"/v2/{name}/manifests/v1", {"Content-Type": OCI_MANIFEST, "Content-Length": str(10**10)})

    answer = exchange(limited.port, head, close_write=False, timeout=20)

    assert_oci_error(answer.status, answer.body, 413, "SIZE_INVALID")


def test_chunked_manifest_streaming_past_the_limit_is_413(limited, name):
    raw = big_manifest(MAX_MANIFEST * 3)

    response = requests.put(f"{limited.url}/v2/{name}/manifests/v1", data=iter([raw[:5000], raw[5000:]]),
                            headers={"Content-Type": OCI_MANIFEST}, timeout=30)

    assert response.status_code == 413 and error_codes(response) == ["SIZE_INVALID"]


# -- names -----------------------------------------------------------------------------------------
HOSTILE_NAMES = [
    "../etc/passwd", "a/../b", "a/./b", "..", "a/%2e%2e/b", "a/..%2fb", "%2e%2e/%2e%2e/etc",
    "a%5c..%5cb", "%C3%A9t%C3%A9/app", "a/%E2%80%AEgnp", "a/%F0%9F%90%B3", "a%00b/c",
    "a/" + "b" * 256, "a/" + "/".join(["c"] * 130), "A/b", "a//b", "/a/b", "a/b/", "-a/b", "a/b-", "a/b%20c", "a/b%09",
]


@pytest.mark.parametrize("name_path", HOSTILE_NAMES)
@pytest.mark.parametrize("method,suffix", [("GET", "tags/list"), ("POST", "blobs/uploads/"), ("PUT", "manifests/v1")])
def test_hostile_repository_names_are_name_invalid(limited, name_path, method, suffix):
    body = b"{}" if method == "PUT" else b""
    head = request_head(method, f"/v2/{name_path}/{suffix}", {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(body))})

    answer = exchange(limited.port, head, (body,))

    assert answer.status in (400, 404), answer.body[:300]
    codes = [error["code"] for error in json.loads(answer.body)["errors"]]
    assert codes[0] in ("NAME_INVALID", "NAME_UNKNOWN"), answer.body[:300]
    if ".." in name_path or "%2e%2e" in name_path or "%C3" in name_path or "b" * 256 in name_path:
        assert codes[0] == "NAME_INVALID"


def test_no_hostile_name_created_a_repository(limited):
    response = requests.get(f"{limited.url}/v2/_catalog?n=1000", timeout=10)
    assert response.status_code == 200
    assert all(".." not in repo and "etc" != repo.split("/")[0] for repo in response.json()["repositories"])


# -- digests ---------------------------------------------------------------------------------------
UNKNOWN_DIGESTS = [
    "sha384:" + "a" * 96, "blake3:" + "a" * 64, "md5:" + "a" * 32, "sha1:" + "a" * 40, "sha256+b64u:" + "a" * 43,
    "sha512:" + "a" * 64, "sha256:" + "a" * 65, "SHA256:" + "a" * 64, "sha256:" + "g" * 64, ":" + "a" * 64,
]


@pytest.mark.parametrize("digest", UNKNOWN_DIGESTS)
def test_unknown_and_malformed_digests_are_digest_invalid_everywhere(limited, name, digest):
    blob = push_blob(requests.Session(), limited.url, name, b"a blob")
    location = upload_url(limited, name)
    separator = "&" if "?" in location else "?"
    quoted = requests.utils.quote(digest, safe=":")
    answers = [
        requests.get(f"{limited.url}/v2/{name}/blobs/{quoted}", timeout=10),
        requests.delete(f"{limited.url}/v2/{name}/blobs/{quoted}", timeout=10),
        requests.get(f"{limited.url}/v2/{name}/manifests/{quoted}", timeout=10),
        requests.put(f"{limited.url}/v2/{name}/manifests/{quoted}", data=b"{}", headers={"Content-Type": OCI_MANIFEST}, timeout=10),
        requests.post(f"{limited.url}/v2/{name}/blobs/uploads/?digest={quoted}", data=b"x", headers=OCTETS, timeout=10),
        requests.put(f"{location}{separator}digest={quoted}", data=b"x", headers=OCTETS, timeout=10),
        requests.get(f"{limited.url}/v2/{name}/referrers/{quoted}", timeout=10),
    ]
    for response in answers:
        assert response.status_code in (400, 404), (response.request.method, response.request.url, response.text)
        assert error_codes(response)[0] in ("DIGEST_INVALID", "MANIFEST_UNKNOWN", "TAG_INVALID"), response.text
    assert all(r.status_code == 400 and error_codes(r) == ["DIGEST_INVALID"] for r in answers[:2] + answers[4:6]), [r.text for r in answers]
    # the upload refused at completion is still usable
    assert upload_range(limited, location) == "0-0"
    assert requests.get(f"{limited.url}/v2/{name}/blobs/{blob}", timeout=10).content == b"a blob"


# -- ranges ----------------------------------------------------------------------------------------
BAD_CONTENT_RANGES = ["0-", "-5", "5-0", "bytes=lots", "0-4, 5-9", "0x0-0x4", "1-5", "0-3", "0-9999999999999999999999",
                      "-0-4", "0--4", "0-4/3", "\u00bd-1"]


@pytest.mark.parametrize("content_range", BAD_CONTENT_RANGES)
def test_bad_content_range_on_a_chunk_is_416_with_the_current_range_and_location(limited, name, content_range):
    location = upload_url(limited, name)
    head = request_head("PATCH", path_of(location), {**OCTETS, "Content-Length": "5", "Content-Range": content_range})

    answer = exchange(limited.port, head, (b"abcde",))

    assert answer.status == 416, answer.body[:300]
    assert json.loads(answer.body)["errors"][0]["code"] == "RANGE_INVALID"
    assert answer.headers.get("location") and answer.headers.get("range") == "0-0"
    assert upload_range(limited, location) == "0-0"
    assert requests.patch(location, data=b"abcde", headers={**OCTETS, "Content-Range": "0-4"}, timeout=10).status_code == 202
    assert upload_offset(limited, location) == 5  # nothing of the refused chunk was kept


@pytest.mark.parametrize("value,status", [
    ("bytes=0-0", 206), ("bytes=-1", 206), ("bytes=5-", 416), ("bytes=0-1,3-4", 416), ("bytes=abc", 416),
    ("bytes=9223372036854775808-", 416), ("items=0-1", 200), ("bytes=-0", 416),
])
def test_range_requests_on_a_blob_are_partial_or_416(limited, name, value, status):
    blob = push_blob(requests.Session(), limited.url, name, b"hello")

    response = requests.get(f"{limited.url}/v2/{name}/blobs/{blob}", headers={"Range": value}, timeout=10)

    assert response.status_code == status, response.text
    if status == 416:
        assert error_codes(response) == ["RANGE_INVALID"]
        assert response.headers.get("Content-Range") == "bytes */5"


# -- headers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers,statuses", [
    ([("Content-Length", "0"), ("Content-Length", "5")], (400,)),
    ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], (400,)),
    ([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "gzip")], (400, 501)),
    ([("X-Huge", "h" * 20000)], (400, 431)),
    ([(f"X-Many-{i}", "v") for i in range(150)], (400, 431)),
    ([("Authorization", "Basic Zm9vOmJhcg=="), ("Authorization", "Bearer x")], (401,)),
    ([("Host", "a"), ("Host", "b")], (200, 400)),
    ([("Content-Length", "-1")], (400,)),
    ([("Content-Length", "1e3")], (400,)),
])
def test_huge_and_duplicated_headers_get_a_4xx(limited, headers, statuses):
    head = request_head("GET", "/v2/", headers)

    answer = exchange(limited.port, head)

    assert answer.status in statuses, (answer.status, answer.body[:300])


def test_a_request_line_past_the_limit_is_refused_not_crashed(limited):
    head = request_head("GET", "/v2/" + "a" * 9000 + "/tags/list")
    try:
        answer = exchange(limited.port, head, close_write=False)
    except ConnectionError:
        answer = None  # gunicorn may close at once
    assert answer is None or answer.status in (400, 414)
    assert requests.get(f"{limited.url}/v2/", timeout=10).status_code == 200


# -- truncated and slow bodies ---------------------------------------------------------------------
def test_truncated_monolithic_upload_leaves_no_blob(limited, name):
    data = os.urandom(50_000)
    head = request_head("POST", f"/v2/{name}/blobs/uploads/?digest={digest_of(data)}", {**OCTETS, "Content-Length": str(len(data))})

    answer = exchange(limited.port, head, (data[:20_000],))

    assert 400 <= answer.status < 500, answer.body[:300]
    assert requests.head(f"{limited.url}/v2/{name}/blobs/{digest_of(data)}", timeout=10).status_code == 404


def test_truncated_chunk_leaves_the_upload_resumable_from_the_last_good_offset(limited, name):
    location = upload_url(limited, name)
    first, second = os.urandom(30_000), os.urandom(30_000)
    assert requests.patch(location, data=first, headers=OCTETS, timeout=30).status_code == 202
    head = request_head("PATCH", path_of(location), {**OCTETS, "Content-Length": str(len(second))})

    answer = exchange(limited.port, head, (second[:10_000],))

    assert 400 <= answer.status < 500, answer.body[:300]
    assert upload_offset(limited, location) == len(first)
    assert requests.patch(location, data=second, headers={**OCTETS, "Content-Range": f"{len(first)}-{len(first) + len(second) - 1}"},
                          timeout=30).status_code == 202
    separator = "&" if "?" in location else "?"
    done = requests.put(f"{location}{separator}digest={digest_of(first + second)}", timeout=30)
    assert done.status_code == 201, done.text
    assert requests.get(f"{limited.url}/v2/{name}/blobs/{digest_of(first + second)}", timeout=30).content == first + second


def test_a_slow_but_complete_body_is_stored_intact(limited, name):
    data = os.urandom(20_000)
    head = request_head("POST", f"/v2/{name}/blobs/uploads/?digest={digest_of(data)}", {**OCTETS, "Content-Length": str(len(data))})
    parts = tuple(data[offset : offset + 2000] for offset in range(0, len(data), 2000))

    answer = exchange(limited.port, head, parts, pause=0.2)

    assert answer.status == 201, answer.body[:300]
    assert requests.get(f"{limited.url}/v2/{name}/blobs/{digest_of(data)}", timeout=30).content == data


def test_the_server_logged_no_error_for_any_of_this(limited):
    log = limited.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-5000:]
