"""Every /v2 error is OCI error JSON with the right status; hostile input never yields a 5xx."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest
import requests

from tests.oci.helpers import (
    EMPTY_DESCRIPTOR,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_error,
    digest_of,
    error_codes,
    push_blob,
    start_upload,
    unique_name,
)

pytestmark = pytest.mark.live

HEX = "a" * 64


def test_api_version_header_is_sent_on_errors_too(http, registry):
    response = http.get(f"{registry}/v2/no-such/repo/tags/list")
    assert response.status_code == 404
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize(
    "path",
    ["/v2/foo", "/v2/foo/bar/baz", "/v2/foo/manifests/", "/v2/foo/blobs/", "/v2/_catalog/extra", "/v2/foo/tags/list/extra", "/v2/foo/referrers/"],
)
def test_unknown_routes_are_404_with_oci_error_json(http, registry, path):
    for method in ("GET", "POST", "DELETE"):
        response = http.request(method, f"{registry}{path}")
        assert response.status_code == 404, (method, response.text)
        assert error_codes(response)


def test_head_of_an_unknown_route_is_404_without_a_body(http, registry):
    response = http.head(f"{registry}/v2/foo/bar/baz")
    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v2/foo/tags/list"),
        ("DELETE", "/v2/_catalog"),
        ("PATCH", "/v2/foo/manifests/latest"),
        ("POST", "/v2/foo/manifests/latest"),
        ("PUT", f"/v2/foo/blobs/sha256:{HEX}"),
        ("POST", f"/v2/foo/blobs/sha256:{HEX}"),
        ("PUT", f"/v2/foo/referrers/sha256:{HEX}"),
        ("DELETE", "/v2/"),
        ("PROPFIND", "/v2/foo/tags/list"),
        ("OPTIONS", "/v2/foo/tags/list"),
    ],
)
def test_unsupported_methods_are_405_unsupported_with_an_allow_header(http, registry, method, path):
    response = http.request(method, f"{registry}{path}")
    assert_error(response, 405, "UNSUPPORTED")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert method not in allowed
    assert "GET" in allowed or "POST" in allowed


# -- hostile input ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Hostile:
    """One hostile request and what a careful registry answers."""

    id: str
    method: str
    path: str  # ``{name}`` is replaced by an existing repository
    status: int
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""  # ``@BLOB@`` is replaced by the digest of an existing blob


def _manifest(**changes) -> bytes:
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": EMPTY_DESCRIPTOR, "layers": []}
    document.update(changes)
    return json.dumps(document).encode()


def _layer(**fields) -> dict:
    return {"mediaType": "application/octet-stream", "digest": digest_of(b"x"), "size": 1, **fields}


MD5 = "md5:d41d8cd98f00b204e9800998ecf8427e"
OCI = {"Content-Type": OCI_MANIFEST}
BAD_MANIFESTS = {
    "binary-garbage": os.urandom(4096),
    "nul-bytes": b"\x00" * 100,
    "json-array": b"[1, 2, 3]",
    "deeply-nested": b"[" * 200_000 + b"]" * 200_000,
    "nested-in-unknown-field": _manifest()[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "schema-version-string": _manifest(schemaVersion="2"),
    "layers-not-objects": _manifest(layers=[1, "x", None]),
    "size-bool": _manifest(config=dict(EMPTY_DESCRIPTOR, size=True)),
    "size-float": _manifest(config=dict(EMPTY_DESCRIPTOR, size=2.0)),
    "size-huge": _manifest(layers=[_layer(digest="@BLOB@", size=10**30)]),
    "size-infinite": _manifest()[:-1] + b',"layers":[{"mediaType":"a/b","digest":"sha256:' + HEX.encode() + b'","size":1e999}]}',
    "descriptor-md5": _manifest(layers=[_layer(digest=MD5)]),
    "data-not-base64": _manifest(layers=[_layer(data="!!!")]),
    "urls-not-a-list": _manifest(layers=[_layer(urls={"a": 1})]),
    "annotations-not-strings": _manifest(annotations={"a": 1}),
    "annotation-with-nul": _manifest(annotations={"a": "x\u0000y"}),
    "annotation-lone-surrogate": _manifest()[:-1] + b',"annotations":{"a":"\\ud800"}}',
    "artifact-type-with-nul": _manifest(artifactType="application/x\u0000"),
    "artifact-type-too-long": _manifest(artifactType="application/" + "x" * 300),
    "config-type-too-long": _manifest(config=dict(EMPTY_DESCRIPTOR, mediaType="application/" + "x" * 300)),
    "subject-garbage": _manifest(subject={"digest": "nope"}),
}
BAD_INDEX = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [_layer(mediaType=OCI_MANIFEST, platform="linux")]}).encode()

HOSTILE = [
    # digests
    Hostile("blob-digest-not-hex", "GET", "/v2/{name}/blobs/sha256:xyz", 400, "DIGEST_INVALID"),
    Hostile("blob-digest-md5", "GET", "/v2/{name}/blobs/" + MD5, 400, "DIGEST_INVALID"),
    Hostile("blob-digest-short", "GET", "/v2/{name}/blobs/sha256:" + "a" * 63, 400, "DIGEST_INVALID"),
    Hostile("blob-digest-uppercase-hex", "GET", "/v2/{name}/blobs/sha256:" + "A" * 64, 400, "DIGEST_INVALID"),
    Hostile("blob-digest-no-algorithm", "HEAD", "/v2/{name}/blobs/:" + "a" * 64, 400),
    Hostile("blob-digest-huge", "GET", "/v2/{name}/blobs/sha256:" + "a" * 3000, 400, "DIGEST_INVALID"),
    Hostile("delete-blob-md5", "DELETE", "/v2/{name}/blobs/" + MD5, 400, "DIGEST_INVALID"),
    Hostile("manifest-digest-md5", "GET", "/v2/{name}/manifests/" + MD5, 400, "DIGEST_INVALID"),
    Hostile("manifest-digest-garbage", "DELETE", "/v2/{name}/manifests/sha256:zz", 400, "DIGEST_INVALID"),
    Hostile("upload-digest-md5", "POST", "/v2/{name}/blobs/uploads/?digest=" + MD5, 400, "DIGEST_INVALID", body=b"x"),
    Hostile("upload-digest-garbage", "POST", "/v2/{name}/blobs/uploads/?digest=%00%ff", 400, "DIGEST_INVALID", body=b"x"),
    Hostile("upload-put-digest-garbage", "PUT", "{upload}?digest=sha256:nope", 400, "DIGEST_INVALID"),
    Hostile("mount-garbage-falls-back", "POST", "/v2/{name}/blobs/uploads/?mount=garbage&from=UPPER/..", 202),
    Hostile("referrers-digest-md5", "GET", "/v2/{name}/referrers/" + MD5, 400, "DIGEST_INVALID"),
    # upload sessions
    Hostile("upload-id-nul", "GET", "/v2/{name}/blobs/uploads/%00", 404, "BLOB_UPLOAD_UNKNOWN"),
    Hostile("upload-id-huge", "PATCH", "/v2/{name}/blobs/uploads/" + "f" * 2000, 404, "BLOB_UPLOAD_UNKNOWN", body=b"x"),
    Hostile("upload-id-non-ascii", "DELETE", "/v2/{name}/blobs/uploads/%C3%A9%F0%9F%90%B3", 404, "BLOB_UPLOAD_UNKNOWN"),
    Hostile("content-range-huge", "PATCH", "{upload}", 416, headers={"Content-Range": "99999999999999999999999-999999999999999999999999"}, body=b"x"),
    Hostile("content-range-past-int64", "PATCH", "{upload}", 416, headers={"Content-Range": "9223372036854775807-9223372036854775807"}, body=b"x"),
    Hostile("content-range-garbage", "PATCH", "{upload}", 416, headers={"Content-Range": "bytes=lots"}, body=b"x"),
    Hostile("content-range-backwards", "PATCH", "{upload}", 416, headers={"Content-Range": "5-0"}, body=b"x"),
    Hostile("put-content-range-huge", "PUT", "{upload}?digest=sha256:" + HEX, 416, headers={"Content-Range": "0-99999999999999999999"}, body=b"x"),
    # blob ranges
    Hostile("range-huge", "GET", "/v2/{name}/blobs/{blob}", 416, headers={"Range": "bytes=99999999999999999999999-"}),
    Hostile("range-int64-max", "GET", "/v2/{name}/blobs/{blob}", 416, headers={"Range": "bytes=9223372036854775807-9223372036854775807"}),
    Hostile("range-garbage", "GET", "/v2/{name}/blobs/{blob}", 416, headers={"Range": "bytes=abc"}),
    Hostile("range-double-dash", "GET", "/v2/{name}/blobs/{blob}", 416, headers={"Range": "bytes=--1"}),
    Hostile("range-backwards", "GET", "/v2/{name}/blobs/{blob}", 416, headers={"Range": "bytes=5-2"}),
    Hostile("range-empty", "GET", "/v2/{name}/blobs/{blob}", 416, headers={"Range": "bytes="}),
    # manifests (the bodies are in BAD_MANIFESTS)
    *(Hostile(f"manifest-{case}", "PUT", "/v2/{name}/manifests/v1", 400, "MANIFEST_INVALID", OCI, body) for case, body in BAD_MANIFESTS.items()),
    Hostile("index-platform-not-object", "PUT", "/v2/{name}/manifests/v1", 400, "MANIFEST_INVALID", {"Content-Type": OCI_INDEX}, BAD_INDEX),
    Hostile("manifest-tag-with-nul", "PUT", "/v2/{name}/manifests/v%001", 400, "TAG_INVALID", OCI, _manifest()),
    Hostile("manifest-get-tag-with-nul", "GET", "/v2/{name}/manifests/v%001", 400, "TAG_INVALID"),
    # listings
    Hostile("tags-last-nul", "GET", "/v2/{name}/tags/list?last=%00", 400, "TAG_INVALID"),
    Hostile("tags-n-huge", "GET", "/v2/{name}/tags/list?n=99999999999999999999999999", 200),
    Hostile("catalog-last-nul", "GET", "/v2/_catalog?last=%00", 400, "NAME_INVALID"),
    Hostile("catalog-last-huge", "GET", "/v2/_catalog?last=" + "z" * 2000, 400, "NAME_INVALID"),
    Hostile("referrers-artifact-type-nul", "GET", "/v2/{name}/referrers/sha256:" + HEX + "?artifactType=%00", 200),
    Hostile("referrers-n-garbage", "GET", "/v2/{name}/referrers/sha256:" + HEX + "?n=lots", 400),
    # names and credentials
    Hostile("name-nul", "GET", "/v2/a%00b/tags/list", 400, "NAME_INVALID"),
    Hostile("name-very-long", "GET", "/v2/" + "a/" * 1500 + "b/tags/list", 400, "NAME_INVALID"),
    Hostile("basic-auth-garbage", "GET", "/v2/{name}/tags/list", 401, "UNAUTHORIZED", {"Authorization": "Basic %%%not-base64"}),
    Hostile("auth-scheme-unknown", "GET", "/v2/", 401, "UNAUTHORIZED", {"Authorization": "Negotiate abc"}),
]


@pytest.fixture(scope="module")
def target(live_registry):
    """A repository with one blob and an open upload session, shared by the hostile requests."""
    with requests.Session() as http:
        name = unique_name("hostile")
        blob = push_blob(http, live_registry.url, name, b"a small blob")
        return {"name": name, "blob": blob, "upload": start_upload(http, live_registry.url, name).removeprefix(live_registry.url)}


@pytest.mark.parametrize("case", HOSTILE, ids=[case.id for case in HOSTILE])
def test_hostile_request_gets_a_clear_error_never_a_server_error(http, registry, target, case):
    path = case.path.format(**target)
    body = case.body.replace(b"@BLOB@", target["blob"].encode())
    response = http.request(case.method, f"{registry}{path}", headers=case.headers, data=body)
    assert response.status_code < 500, response.text
    assert response.status_code == case.status, response.text
    if case.status >= 400 and case.method != "HEAD":
        codes = error_codes(response)
        if case.code:
            assert codes[0] == case.code, response.text


def test_hostile_requests_leave_the_repository_usable(http, registry, target):
    assert http.get(f"{registry}/v2/{target['name']}/blobs/{target['blob']}").content == b"a small blob"
    assert http.get(f"{registry}{target['upload']}").status_code == 204
    assert_error(http.get(f"{registry}/v2/{target['name']}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
