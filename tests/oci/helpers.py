"""Helpers shared by the conformance suite: content, digests, pushes and checks of OCI errors.

Everything here speaks HTTP to a live server with ``requests``; nothing touches the database.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urljoin

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_NONDISTRIBUTABLE_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
EMPTY_DESCRIPTOR = {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}

MIB = 1024 * 1024


# -- content ---------------------------------------------------------------------------------
def random_bytes(size: int = 1024) -> bytes:
    return os.urandom(size)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def unique_name(prefix: str = "conformance") -> str:
    """A repository name no other test uses."""
    return f"{prefix}/r{uuid.uuid4().hex[:12]}"


def descriptor(content: bytes, media_type: str, algorithm: str = "sha256", **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(content, algorithm), "size": len(content), **extra}


def to_bytes(document: dict[str, Any]) -> bytes:
    """Deliberately not canonical JSON (indentation, key order as written): the registry must
    store and serve the exact bytes, not a re-serialisation."""
    return json.dumps(document, indent=3).encode() + b"\n"


def image_manifest(
    config: bytes, layers: Iterable[bytes] = (), *, media_type: str = OCI_MANIFEST, algorithm: str = "sha256", **fields: Any
) -> dict[str, Any]:
    docker = media_type == DOCKER_MANIFEST
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config, DOCKER_CONFIG if docker else OCI_CONFIG, algorithm),
        "layers": [descriptor(layer, DOCKER_LAYER if docker else OCI_LAYER, algorithm) for layer in layers],
        **fields,
    }


def index_of(children: Iterable[tuple[bytes, str, dict[str, str] | None]], *, media_type: str = OCI_INDEX, **fields: Any) -> dict[str, Any]:
    """An index over ``(raw manifest, its media type, platform)`` triples."""
    manifests = []
    for raw, child_type, platform in children:
        entry = descriptor(raw, child_type)
        if platform:
            entry["platform"] = platform
        manifests.append(entry)
    return {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests, **fields}


def inline_data(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- HTTP ------------------------------------------------------------------------------------
def absolute(base: str, location: str) -> str:
    """Locations may be relative to the registry (the spec allows both)."""
    return urljoin(base + "/", location)


def push_blob(http: requests.Session, base: str, name: str, data: bytes, algorithm: str = "sha256") -> str:
    """Monolithic upload (POST ?digest=); returns the digest."""
    digest = digest_of(data, algorithm)
    response = http.post(
        f"{base}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 201, response.text
    return digest


def start_upload(http: requests.Session, base: str, name: str) -> str:
    """Open an upload session; returns its absolute Location."""
    response = http.post(f"{base}/v2/{name}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return absolute(base, response.headers["Location"])


def patch_chunk(http: requests.Session, location: str, data: bytes, start: int | None) -> requests.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + len(data) - 1}"
    return http.patch(location, data=data, headers=headers)


@dataclass(frozen=True)
class Pushed:
    """A manifest the test pushed: its exact bytes, digest and media type."""

    raw: bytes
    digest: str
    media_type: str
    response: requests.Response


def push_manifest(
    http: requests.Session,
    base: str,
    name: str,
    reference: str | None,
    document: dict[str, Any] | bytes,
    media_type: str | None = None,
    *,
    params: dict[str, Any] | list[tuple[str, str]] | None = None,
    expect: int | None = 201,
) -> Pushed:
    """PUT a manifest by tag or digest (``reference=None``: its own digest)."""
    raw = document if isinstance(document, bytes) else to_bytes(document)
    if media_type is None and isinstance(document, dict):
        media_type = document.get("mediaType", OCI_MANIFEST)
    digest = digest_of(raw)
    response = http.put(
        f"{base}/v2/{name}/manifests/{reference or digest}",
        data=raw,
        headers={"Content-Type": media_type or OCI_MANIFEST},
        params=params,
    )
    if expect is not None:
        assert response.status_code == expect, response.text
    return Pushed(raw=raw, digest=digest, media_type=media_type or OCI_MANIFEST, response=response)


def push_image(
    http: requests.Session, base: str, name: str, tag: str | None = None, *, layers: int = 1, media_type: str = OCI_MANIFEST, **fields: Any
) -> Pushed:
    """Push a config, ``layers`` random layers and a manifest over them."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "nonce": uuid.uuid4().hex}).encode()
    blobs = [random_bytes(512) for _ in range(layers)]
    for blob in (config, *blobs):
        push_blob(http, base, name, blob)
    return push_manifest(http, base, name, tag, image_manifest(config, blobs, media_type=media_type, **fields))


def push_artifact(
    http: requests.Session, base: str, name: str, *, subject: Pushed | None = None, artifact_type: str = "application/vnd.example.sbom", **fields: Any
) -> Pushed:
    """An OCI 1.1 artifact: empty config, one small layer carried inline, optional subject."""
    layer = random_bytes(64)
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": EMPTY_DESCRIPTOR,
        "layers": [descriptor(layer, "application/octet-stream", data=inline_data(layer))],
        **fields,
    }
    if subject is not None:
        document["subject"] = {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.raw)}
    return push_manifest(http, base, name, None, document)


def follow_pages(http: requests.Session, base: str, first_url: str, key: str) -> tuple[list[Any], int]:
    """Follow ``Link: <...>; rel="next"`` to the end; returns every item and the number of pages."""
    items: list[Any] = []
    url: str | None = first_url
    pages = 0
    while url:
        response = http.get(url)
        assert response.status_code == 200, response.text
        items.extend(response.json()[key] or [])
        pages += 1
        assert pages < 1000, "pagination does not end"
        link = response.links.get("next")
        url = absolute(base, link["url"]) if link else None
    return items, pages


# -- errors ----------------------------------------------------------------------------------
_CODE_RE = re.compile(r"^[A-Z_]+$")


def error_codes(response: requests.Response) -> list[str]:
    """The codes of an OCI error body, after checking its shape."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], body
    for error in body["errors"]:
        assert set(error) >= {"code", "message", "detail"}, error
        assert _CODE_RE.match(error["code"]), error
        assert isinstance(error["message"], str), error
    return [error["code"] for error in body["errors"]]


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The response is ``status`` with OCI error JSON whose first code is ``code``; returns that error."""
    assert response.status_code == status, (response.status_code, response.text)
    assert error_codes(response)[0] == code, response.text
    return response.json()["errors"][0]


# -- raw sockets, for what requests will not send ------------------------------------------
def send_raw(host: str, request_head: bytes, body: bytes = b"", *, close_write: bool = True) -> tuple[int, dict[str, str], bytes]:
    """Send a hand-written request (a body shorter than its Content-Length, say) and read the answer."""
    address, port = host.rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        sock.sendall(request_head + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
