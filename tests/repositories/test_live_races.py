"""Races against a real server process: concurrent HTTP clients, checked over HTTP and in the
server's own database and storage folder."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urljoin

import psycopg2
import pytest
import requests

from repositories.media_types import OCI_MANIFEST
from repositories.models import Blob, BlobPlacement, Manifest, Repository, Tag
from storagebackends.paths import blob_path
from tests.factories import digest_of, image_manifest

pytestmark = pytest.mark.live

CLIENTS = 12


def unique_name() -> str:
    return f"races/r{uuid.uuid4().hex[:12]}"


def concurrently(requests_to_send: list[Callable[[requests.Session], requests.Response]]) -> list[requests.Response]:
    """Send every request from its own client at the same moment."""
    barrier = threading.Barrier(len(requests_to_send))

    def send(request: Callable[[requests.Session], requests.Response]) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(timeout=60)
            return request(session)

    with ThreadPoolExecutor(len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def live_rows(registry, sql: str, *params: Any) -> list[tuple]:
    """Rows from the server's own database (``%s`` placeholders)."""
    url = registry.env.get("MOORAGE_DATABASE_URL")
    if url:
        connection = psycopg2.connect(url)
    else:
        connection = sqlite3.connect(registry.data_dir / "moorage.sqlite3")
        sql = sql.replace("%s", "?")
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        connection.close()


def tag_rows(registry, name: str, tag: str) -> list[tuple]:
    """(lifetime_start, lifetime_end, manifest digest) of every lifetime of ``tag``, oldest first."""
    return live_rows(
        registry,
        f"SELECT t.lifetime_start, t.lifetime_end, m.digest FROM {Tag._meta.db_table} t"
        f" JOIN {Repository._meta.db_table} r ON r.id = t.repository_id"
        f" JOIN {Manifest._meta.db_table} m ON m.id = t.manifest_id"
        " WHERE r.full_name = %s AND t.name = %s ORDER BY t.lifetime_start, t.id",
        name,
        tag,
    )


def push_blob(base: str, name: str, data: bytes) -> None:
    response = requests.post(f"{base}/v2/{name}/blobs/uploads/", params={"digest": digest_of(data)}, data=data)
    assert response.status_code == 201, response.text


def start_upload(base: str, name: str) -> str:
    response = requests.post(f"{base}/v2/{name}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return urljoin(base, response.headers["Location"])


def is_clean_error(response: requests.Response) -> bool:
    """A refusal a client can act on: an error status with OCI error JSON."""
    if response.status_code < 400:
        return False
    try:
        errors = response.json()["errors"]
    except (ValueError, KeyError):
        return False
    return bool(errors) and all({"code", "message"} <= set(e) for e in errors)


def test_concurrent_completions_of_one_blob_over_http_all_succeed_and_store_it_once(live_registry):
    base, name = live_registry.url, unique_name()
    layer = hashlib.sha512(name.encode()).digest() * 16384  # 1 MiB, unique to this test
    digest = digest_of(layer)
    sessions = []
    for _ in range(4):
        location = start_upload(base, name)
        patched = requests.patch(location, data=layer, headers={"Content-Type": "application/octet-stream"})
        assert patched.status_code == 202, patched.text
        sessions.append(urljoin(base, patched.headers["Location"]))

    responses = concurrently([lambda s, url=url: s.put(url, params={"digest": digest}) for url in sessions])

    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert requests.get(f"{base}/v2/{name}/blobs/{digest}").content == layer
    assert live_rows(live_registry, f"SELECT COUNT(*) FROM {Blob._meta.db_table} WHERE digest = %s", digest) == [(1,)]
    placements = live_rows(
        live_registry,
        f"SELECT p.location FROM {BlobPlacement._meta.db_table} p JOIN {Blob._meta.db_table} b ON b.id = p.blob_id WHERE b.digest = %s",
        digest,
    )
    assert len(placements) == 1
    stored = live_registry.data_dir / "blobs" / blob_path(digest)
    assert digest_of(stored.read_bytes()) == digest


def test_concurrent_pushes_of_one_tag_over_http_leave_exactly_one_live_row(live_registry):
    base, name = live_registry.url, unique_name()
    config, layer = b'{"os": "linux"}', name.encode() * 1000
    push_blob(base, name, config)
    push_blob(base, name, layer)
    images = [image_manifest(config=config, layers=[layer], annotations={"build": str(i)}) for i in range(CLIENTS)]

    responses = concurrently(
        [
            lambda s, raw=raw: s.put(f"{base}/v2/{name}/manifests/latest", data=raw, headers={"Content-Type": OCI_MANIFEST})
            for raw in images
        ]
    )

    assert all(r.status_code == 201 or is_clean_error(r) for r in responses), [(r.status_code, r.text) for r in responses]
    pushed = {digest_of(images[i]) for i, r in enumerate(responses) if r.status_code == 201}
    history = tag_rows(live_registry, name, "latest")
    assert [end is None for _start, end, _digest in history].count(True) == 1
    assert history[-1][1] is None and history[-1][2] in pushed
    served = requests.get(f"{base}/v2/{name}/manifests/latest", headers={"Accept": OCI_MANIFEST})
    assert served.headers["Docker-Content-Digest"] == history[-1][2]


def test_concurrent_pushes_of_one_tag_over_http_keep_an_unbroken_history(live_registry):
    base, name = live_registry.url, unique_name()
    config, layer = b'{"os": "linux"}', name.encode() * 1000
    push_blob(base, name, config)
    push_blob(base, name, layer)
    images = [image_manifest(config=config, layers=[layer], annotations={"build": str(i)}) for i in range(CLIENTS)]

    responses = concurrently(
        [
            lambda s, raw=raw: s.put(f"{base}/v2/{name}/manifests/latest", data=raw, headers={"Content-Type": OCI_MANIFEST})
            for raw in images
        ]
    )

    history = tag_rows(live_registry, name, "latest")
    assert len(history) == sum(r.status_code == 201 for r in responses)
    for (start, end, _digest), (next_start, _next_end, _next_digest) in zip(history, history[1:]):
        assert start <= end == next_start


def test_concurrent_patches_to_one_upload_session_let_exactly_one_win_each_offset(live_registry):
    base, name = live_registry.url, unique_name()
    location = start_upload(base, name)
    expected = b""
    for round_number in range(3):
        # 2.4 MB each: the winner is still writing when the others arrive
        chunks = [f"round {round_number} client {c} ".encode() * 100000 for c in range(6)]
        offset = len(expected)

        def patch(session: requests.Session, chunk: bytes) -> requests.Response:
            return session.patch(
                location,
                timeout=120,
                data=chunk,
                headers={"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(chunk) - 1}"},
            )

        responses = concurrently([lambda s, c=c: patch(s, c) for c in chunks])

        statuses = [r.status_code for r in responses]
        assert statuses.count(202) == 1, [(r.status_code, r.text) for r in responses]
        assert all(r.status_code in (202, 416) or (r.status_code == 400 and is_clean_error(r)) for r in responses), statuses
        expected += chunks[statuses.index(202)]
        location = urljoin(base, responses[statuses.index(202)].headers["Location"])

    done = requests.put(location, params={"digest": digest_of(expected)})
    assert done.status_code == 201, done.text
    assert requests.get(f"{base}/v2/{name}/blobs/{digest_of(expected)}").content == expected


def test_concurrent_puts_of_the_same_manifest_over_http_store_it_once(live_registry):
    base, name = live_registry.url, unique_name()
    config, layer = b'{"os": "linux"}', name.encode() * 1000
    push_blob(base, name, config)
    push_blob(base, name, layer)
    raw = image_manifest(config=config, layers=[layer])

    responses = concurrently(
        [lambda s: s.put(f"{base}/v2/{name}/manifests/latest", data=raw, headers={"Content-Type": OCI_MANIFEST})] * CLIENTS
    )

    assert [r.status_code for r in responses] == [201] * CLIENTS, [r.text for r in responses]
    assert {r.headers["Docker-Content-Digest"] for r in responses} == {digest_of(raw)}
    manifests = live_rows(
        live_registry,
        f"SELECT COUNT(*) FROM {Manifest._meta.db_table} m JOIN {Repository._meta.db_table} r ON r.id = m.repository_id"
        " WHERE r.full_name = %s",
        name,
    )
    assert manifests == [(1,)]
    assert [(end, digest) for _start, end, digest in tag_rows(live_registry, name, "latest")] == [(None, digest_of(raw))]
