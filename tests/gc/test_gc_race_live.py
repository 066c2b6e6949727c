"""The garbage collector in a tight loop against a real server under concurrent pushes.

Clients push images whose layers come from a pool that slides with time (so layers fall out of
use and become garbage while other clients may still be about to reuse them), index children
before their index, and referrers by digest; tags keep moving, the time-machine window is zero
and the grace period a few seconds, so manifests and blobs are collected during the pushes.
Afterwards no valid push may have failed and every live manifest's blobs must be present in
the server's database and storage.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from repositories.media_types import OCI_INDEX, OCI_MANIFEST
from repositories.models import Blob, BlobPlacement, Manifest, ManifestBlob, ManifestChild
from storagebackends.paths import blob_path
from tests.factories import descriptor, digest_of, image_manifest, index_manifest
from tests.live import LiveRegistry
from tests.repositories.test_live_races import live_rows

pytestmark = [pytest.mark.live, pytest.mark.slow]

PUSH_SECONDS = 24
WORKERS = 4
GRACE_S = 4
REPOSITORIES = ("gcrace/alpha", "gcrace/beta")
EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"

GC_LOOP = """
import json, time
from accounts.models import Namespace
from repositories.services.gc import gc_run
deadline = time.monotonic() + {seconds}
totals = {{"runs": 0, "tags": 0, "manifests": 0, "blobs": 0, "bytes": 0, "errors": []}}
while time.monotonic() < deadline:
    Namespace.objects.update(tag_expiration_s=0)
    report = gc_run()
    totals["runs"] += 1
    totals["tags"] += report.tags_deleted
    totals["manifests"] += report.manifests_deleted
    totals["blobs"] += report.blobs_deleted
    totals["bytes"] += report.bytes_reclaimed
    totals["errors"] += report.errors
print("GC-TOTALS " + json.dumps(totals))
"""


def layer(generation: int) -> bytes:
    return (b"layer generation %d " % generation) * 200


@dataclass
class Workload:
    base: str
    started: float = field(default_factory=time.monotonic)
    failures: list[str] = field(default_factory=list)
    pushes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, what: str, response: requests.Response) -> None:
        with self.lock:
            self.failures.append(f"{what}: {response.status_code} {response.text[:300]}")

    def ensure_blob(self, session: requests.Session, name: str, data: bytes) -> None:
        """What a client does: HEAD, and upload only when the registry does not have it."""
        digest = digest_of(data)
        if session.head(f"{self.base}/v2/{name}/blobs/{digest}").status_code == 200:
            return
        response = session.post(f"{self.base}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data)
        if response.status_code != 201:
            self.fail(f"upload {digest}", response)

    def put(self, session: requests.Session, name: str, reference: str, raw: bytes, media_type: str) -> bool:
        response = session.put(f"{self.base}/v2/{name}/manifests/{reference}", data=raw, headers={"Content-Type": media_type})
        if response.status_code != 201:
            self.fail(f"PUT {name}:{reference}", response)
            return False
        with self.lock:
            self.pushes += 1
        return True

    def image(self, session: requests.Session, name: str, rng: random.Random, tag: str | None) -> bytes | None:
        generation = int((time.monotonic() - self.started) / 3)
        # A current layer, and one from any earlier generation: out of use for a while, maybe
        # garbage about now, maybe collected already (then the client uploads it again).
        layers = [layer(generation + rng.randint(0, 2)), layer(rng.randint(0, generation))]
        layers.append(b"unique %d" % rng.getrandbits(64))
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": rng.getrandbits(64)}).encode()
        for data in (config, *layers):
            self.ensure_blob(session, name, data)
        time.sleep(rng.uniform(0, 0.4))  # a client still uploading its other layers
        raw = image_manifest(config=config, layers=layers)
        return raw if self.put(session, name, tag or digest_of(raw), raw, OCI_MANIFEST) else None

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        deadline = self.started + PUSH_SECONDS
        with requests.Session() as session:
            iteration = 0
            while time.monotonic() < deadline:
                iteration += 1
                name = rng.choice(REPOSITORIES)
                subject = self.image(session, name, rng, f"t{rng.randint(0, 2)}")
                if iteration % 3 == 0:  # an index: children by digest first, then the index
                    children = [self.image(session, name, rng, None) for _ in range(2)]
                    if all(children):
                        self.put(session, name, f"multi{rng.randint(0, 1)}", index_manifest(*children), OCI_INDEX)
                if iteration % 2 == 0 and subject:  # a referrer (a signature) of the image
                    payload = b"signature %d" % rng.getrandbits(64)
                    self.ensure_blob(session, name, EMPTY)
                    self.ensure_blob(session, name, payload)
                    body = {
                        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
                        "config": {"mediaType": EMPTY_TYPE, "digest": digest_of(EMPTY), "size": 2},
                        "layers": [descriptor(payload, "application/octet-stream")],
                        "subject": descriptor(subject, OCI_MANIFEST),
                    }
                    raw = json.dumps(body).encode()
                    self.put(session, name, digest_of(raw), raw, OCI_MANIFEST)


def test_gc_in_a_tight_loop_never_breaks_a_valid_push_nor_a_live_manifest():
    registry = LiveRegistry.create({"MOORAGE_GC_BLOB_GRACE_S": str(GRACE_S), "MOORAGE_UPLOADS_LINK_GRACE_S": str(GRACE_S)})
    try:
        registry.start(workers=2, threads=8)
        workload = Workload(registry.url)
        gc_output: list[str] = []
        gc = threading.Thread(
            target=lambda: gc_output.append(registry.manage("shell", "-c", GC_LOOP.format(seconds=PUSH_SECONDS + 6)).stdout)
        )
        gc.start()
        clients = [threading.Thread(target=workload.client, args=(seed,)) for seed in range(WORKERS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=PUSH_SECONDS + 120)
        gc.join(timeout=180)

        totals = json.loads(gc_output[0].split("GC-TOTALS ", 1)[1])
        assert workload.failures == [], f"{len(workload.failures)} valid operations failed: {workload.failures[:5]}"
        assert workload.pushes > 40
        assert totals["runs"] > 3 and totals["errors"] == []
        assert totals["manifests"] > 10 and totals["blobs"] > 10, f"the collector had nothing to race with: {totals}"
        _assert_every_live_manifest_is_whole(registry)
    finally:
        registry.destroy()


def _assert_every_live_manifest_is_whole(registry: LiveRegistry) -> None:
    # In the database: every blob a remaining manifest references has a row, a placement and bytes.
    rows = live_rows(
        registry,
        f"SELECT b.digest, b.size, p.location FROM {ManifestBlob._meta.db_table} mb"
        f" JOIN {Blob._meta.db_table} b ON b.id = mb.blob_id"
        f" LEFT JOIN {BlobPlacement._meta.db_table} p ON p.blob_id = b.id",
    )
    assert rows, "no manifest left to check"
    for digest, size, location in rows:
        assert location is not None, f"{digest} has no placement"
        stored = registry.data_dir / "blobs" / blob_path(digest)
        assert stored.exists() and stored.stat().st_size == size, f"{digest} is missing from storage"
    orphans = live_rows(
        registry,
        f"SELECT COUNT(*) FROM {ManifestChild._meta.db_table} mc"
        f" LEFT JOIN {Manifest._meta.db_table} m ON m.id = mc.child_id WHERE m.id IS NULL",
    )
    assert orphans == [(0,)]
    # Over HTTP, as a client pulls: every tag's manifest, its children and all their blobs.
    accept = ", ".join((OCI_MANIFEST, OCI_INDEX))
    with requests.Session() as session:
        for name in REPOSITORIES:
            tags = session.get(f"{registry.url}/v2/{name}/tags/list").json()["tags"] or []
            assert tags
            for tag in tags:
                _pull(session, registry.url, name, tag, accept)


def _pull(session: requests.Session, base: str, name: str, reference: str, accept: str) -> None:
    response = session.get(f"{base}/v2/{name}/manifests/{reference}", headers={"Accept": accept})
    assert response.status_code == 200, f"{name}:{reference} {response.status_code} {response.text[:200]}"
    body = response.json()
    for child in body.get("manifests", []):
        _pull(session, base, name, child["digest"], accept)
    for blob in [body["config"], *body.get("layers", [])] if "config" in body else []:
        got = session.get(f"{base}/v2/{name}/blobs/{blob['digest']}")
        assert got.status_code == 200 and digest_of(got.content) == blob["digest"], f"{name}@{blob['digest']}"
