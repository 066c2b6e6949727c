"""The soak driver: a live server with a Celery worker, concurrent clients pushing, pulling,
moving tags, deleting and attaching referrers, while the garbage collector runs every second.

Every operation is recorded. Each client owns its repositories (so it knows exactly what must be
there) while all clients draw layers from one shared pool that slides with time: layers fall out
of use, become garbage and are collected while other clients are about to push them again, so
the collector races the pushes for real. Afterwards every tag a client pushed and did not delete
must pull whole, and ``manage.py fsck`` must be clean.

Run it (it starts its own server; ``--database-url`` for a PostgreSQL server database)::

    .venv/bin/python -m tests.soak --duration 600 --workers 4
    make soak DURATION=600
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests

from tests.live import LiveRegistry
from tests.oci.helpers import OCI_INDEX, OCI_MANIFEST, descriptor, digest_of, image_manifest, to_bytes

EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
ARTIFACT_TYPE = "application/vnd.example.soak.signature"
#: Seconds an uploaded blob stays linked without a manifest (and a HEAD-confirmed blob is held).
GRACE_S = 8

GC_LOOP = """
import json, os, time
from accounts.models import Namespace
from repositories.services.gc import gc_run
stop = {stop!r}
totals = {{"runs": 0, "tags": 0, "manifests": 0, "blobs": 0, "errors": []}}
while not os.path.exists(stop):
    Namespace.objects.update(tag_expiration_s=0)  # deleted and moved tags are collectable at once
    report = gc_run()
    totals["runs"] += 1
    totals["tags"] += report.tags_deleted
    totals["manifests"] += report.manifests_deleted
    totals["blobs"] += report.blobs_deleted
    totals["errors"] += [str(e) for e in report.errors]
    time.sleep(1)
print("GC-TOTALS " + json.dumps(totals))
"""


@dataclass
class Op:
    kind: str
    ok: bool
    status: int
    seconds: float
    detail: str = ""


@dataclass
class Report:
    duration: float
    workers: int
    ops: list[Op] = field(default_factory=list)
    gc: dict = field(default_factory=dict)
    final_check: list[str] = field(default_factory=list)
    fsck: str = ""

    @property
    def failures(self) -> list[Op]:
        return [op for op in self.ops if not op.ok]

    @property
    def unknown_blob_errors(self) -> list[Op]:
        return [op for op in self.ops if "BLOB_UNKNOWN" in op.detail]

    def figures(self) -> dict:
        by_kind = Counter(op.kind for op in self.ops)
        failed = Counter(op.kind for op in self.failures)
        return {
            "duration_s": round(self.duration, 1),
            "workers": self.workers,
            "operations": len(self.ops),
            "ops_per_s": round(len(self.ops) / self.duration, 1) if self.duration else 0,
            "by_kind": {kind: {"count": n, "per_s": round(n / self.duration, 2), "failed": failed.get(kind, 0)} for kind, n in sorted(by_kind.items())},
            "failed": len(self.failures),
            "blob_unknown_errors": len(self.unknown_blob_errors),
            "gc": self.gc,
            "final_check_problems": len(self.final_check),
            "fsck": self.fsck,
        }

    def render(self) -> str:
        figures = self.figures()
        lines = [
            f"soak: {figures['duration_s']} s, {self.workers} clients, {figures['operations']} operations ({figures['ops_per_s']}/s)",
            f"{'kind':<16}{'count':>8}{'per s':>9}{'failed':>8}",
        ]
        for kind, row in figures["by_kind"].items():
            lines.append(f"{kind:<16}{row['count']:>8}{row['per_s']:>9}{row['failed']:>8}")
        gc = self.gc
        lines.append(
            f"gc: {gc.get('runs', 0)} runs, {gc.get('tags', 0)} tags, {gc.get('manifests', 0)} manifests, "
            f"{gc.get('blobs', 0)} blobs collected, {len(gc.get('errors', []))} errors"
        )
        lines.append(f"failed operations: {len(self.failures)}; BLOB_UNKNOWN/MANIFEST_BLOB_UNKNOWN: {len(self.unknown_blob_errors)}")
        lines.append(f"final pull of every live tag: {len(self.final_check)} problems; fsck: {self.fsck}")
        for op in self.failures[:10]:
            lines.append(f"  FAILED {op.kind} {op.status}: {op.detail[:200]}")
        for problem in self.final_check[:10]:
            lines.append(f"  FINAL {problem[:200]}")
        return "\n".join(lines)


def layer(generation: int) -> bytes:
    """A layer of the shared pool: the same bytes for every client in one generation."""
    return (b"soak layer generation %d " % generation) * 400


@dataclass
class Client:
    """One client and what it knows must be in its repositories."""

    number: int
    base: str
    started: float
    deadline: float
    ops: list[Op]
    lock: threading.Lock
    rng: random.Random = field(init=False)
    tags: dict[str, dict[str, bytes]] = field(default_factory=lambda: defaultdict(dict))  # repo -> tag -> raw
    referrers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # subject digest -> referrer digests

    def __post_init__(self) -> None:
        self.rng = random.Random(self.number)
        self.repositories = [f"soak/c{self.number}"]

    # -- recording -------------------------------------------------------------------------------
    def call(self, kind: str, expected: tuple[int, ...], method, *args, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = method(*args, timeout=120, **kwargs)
        except requests.RequestException as exc:
            self.record(Op(kind, False, 0, time.monotonic() - started, repr(exc)))
            return None
        ok = response.status_code in expected
        self.record(Op(kind, ok, response.status_code, time.monotonic() - started, "" if ok else response.text[:300]))
        return response if ok else None

    def record(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)

    def fail(self, kind: str, detail: str) -> None:
        self.record(Op(kind, False, 0, 0.0, detail))

    # -- operations ------------------------------------------------------------------------------
    def ensure_blob(self, http: requests.Session, name: str, data: bytes) -> bool:
        """What a client does: HEAD, and upload only when the registry does not have it."""
        digest = digest_of(data)
        head = self.call("blob-head", (200, 404), http.head, f"{self.base}/v2/{name}/blobs/{digest}")
        if head is not None and head.status_code == 200:
            return True
        if self.rng.random() < 0.3:  # a chunked upload now and then
            start = self.call("blob-upload", (202,), http.post, f"{self.base}/v2/{name}/blobs/uploads/")
            if start is None:
                return False
            location = requests.compat.urljoin(self.base, start.headers["Location"])
            half = len(data) // 2
            chunk = self.call("blob-upload", (202,), http.patch, location, data=data[:half],
                              headers={"Content-Range": f"0-{half - 1}", "Content-Type": "application/octet-stream"})
            if chunk is None:
                return False
            location = requests.compat.urljoin(self.base, chunk.headers["Location"])
            return self.call("blob-upload", (201,), http.put, location, params={"digest": digest}, data=data[half:],
                             headers={"Content-Type": "application/octet-stream"}) is not None
        return self.call("blob-upload", (201,), http.post, f"{self.base}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data) is not None

    def push(self, http: requests.Session, name: str, tag: str) -> bytes | None:
        generation = int((time.monotonic() - self.started) / 4)
        layers = [layer(generation + self.rng.randint(0, 1)), layer(self.rng.randint(max(0, generation - 6), generation)),
                  b"unique %d %d" % (self.number, self.rng.getrandbits(64))]
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": self.rng.getrandbits(64)}).encode()
        if not all(self.ensure_blob(http, name, data) for data in (config, *layers)):
            return None
        raw = to_bytes(image_manifest(config, layers))
        if self.call("push", (201,), http.put, f"{self.base}/v2/{name}/manifests/{tag}", data=raw, headers={"Content-Type": OCI_MANIFEST}) is None:
            return None
        self.tags[name][tag] = raw
        return raw

    def pull(self, http: requests.Session, name: str, tag: str, raw: bytes) -> None:
        response = self.call("pull", (200,), http.get, f"{self.base}/v2/{name}/manifests/{tag}",
                             headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
        if response is None:
            return
        if response.content != raw:
            self.fail("pull", f"{name}:{tag} serves other bytes than pushed")
            return
        body = json.loads(raw)
        for blob in [body["config"], *body["layers"]]:
            got = self.call("pull-blob", (200,), http.get, f"{self.base}/v2/{name}/blobs/{blob['digest']}")
            if got is not None and digest_of(got.content) != blob["digest"]:
                self.fail("pull-blob", f"{name}@{blob['digest']} has other bytes")

    def move_tag(self, http: requests.Session, name: str) -> None:
        tags = self.tags[name]
        if not tags:
            return
        if len(tags) < 2:  # nothing to move onto yet: a new tag for the manifest
            source, target = next(iter(tags)), f"m{self.rng.getrandbits(32)}"
        else:
            source, target = self.rng.sample(sorted(tags), 2)
        raw = tags[source]
        if self.call("tag-move", (201,), http.put, f"{self.base}/v2/{name}/manifests/{target}", data=raw,
                     headers={"Content-Type": OCI_MANIFEST}) is not None:
            self.forget_manifest_of(name, target)
            tags[target] = raw

    def delete(self, http: requests.Session, name: str) -> None:
        tags = self.tags[name]
        if not tags:
            return
        tag = self.rng.choice(sorted(tags))
        if self.rng.random() < 0.5:
            if self.call("delete-tag", (202,), http.delete, f"{self.base}/v2/{name}/manifests/{tag}") is not None:
                self.forget_manifest_of(name, tag)
                del tags[tag]
                self.call("deleted-gone", (404,), http.get, f"{self.base}/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        else:
            digest = digest_of(tags[tag])
            if self.call("delete-manifest", (202,), http.delete, f"{self.base}/v2/{name}/manifests/{digest}") is not None:
                for other in [t for t, raw in tags.items() if digest_of(raw) == digest]:
                    del tags[other]
                self.referrers.pop(digest, None)
                self.call("deleted-gone", (404,), http.get, f"{self.base}/v2/{name}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})

    def forget_manifest_of(self, name: str, tag: str) -> None:
        """``tag`` leaves its manifest: if no other tag holds it, the collector may take it (and
        its referrers)."""
        raw = self.tags[name].get(tag)
        if raw is not None and sum(1 for other in self.tags[name].values() if other == raw) == 1:
            self.referrers.pop(digest_of(raw), None)

    def attach_referrer(self, http: requests.Session, name: str) -> None:
        tags = self.tags[name]
        if not tags:
            return
        subject = tags[self.rng.choice(sorted(tags))]
        payload = b"signature %d %d" % (self.number, self.rng.getrandbits(64))
        if not (self.ensure_blob(http, name, EMPTY) and self.ensure_blob(http, name, payload)):
            return
        body = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": digest_of(EMPTY), "size": len(EMPTY)},
            "layers": [descriptor(payload, "application/octet-stream")],
            "subject": descriptor(subject, OCI_MANIFEST),
        }  # fmt: skip
        raw = json.dumps(body).encode()
        if self.call("referrer", (201,), http.put, f"{self.base}/v2/{name}/manifests/{digest_of(raw)}", data=raw,
                     headers={"Content-Type": OCI_MANIFEST}) is not None:
            self.referrers[digest_of(subject)].add(digest_of(raw))
            listed = self.call("referrers-list", (200,), http.get, f"{self.base}/v2/{name}/referrers/{digest_of(subject)}")
            if listed is not None and digest_of(raw) not in {m["digest"] for m in listed.json().get("manifests", [])}:
                self.fail("referrers-list", f"{name}: referrer {digest_of(raw)} not listed for its subject")

    def run(self) -> None:
        counter = 0
        with requests.Session() as http:
            while time.monotonic() < self.deadline:
                counter += 1
                name = self.rng.choice(self.repositories)
                roll = self.rng.random()
                if roll < 0.35 or not self.tags[name]:
                    self.push(http, name, f"t{counter}")
                elif roll < 0.65:
                    tag = self.rng.choice(sorted(self.tags[name]))
                    self.pull(http, name, tag, self.tags[name][tag])
                elif roll < 0.75:
                    self.move_tag(http, name)
                elif roll < 0.85:
                    self.delete(http, name)
                else:
                    self.attach_referrer(http, name)

    def final_check(self, problems: list[str]) -> None:
        with requests.Session() as http:
            for name, tags in self.tags.items():
                for tag, raw in tags.items():
                    response = http.get(f"{self.base}/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}, timeout=120)
                    if response.status_code != 200 or response.content != raw:
                        problems.append(f"{name}:{tag}: {response.status_code} {response.text[:200]}")
                        continue
                    body = json.loads(raw)
                    for blob in [body["config"], *body["layers"]]:
                        got = http.get(f"{self.base}/v2/{name}/blobs/{blob['digest']}", timeout=120)
                        if got.status_code != 200 or digest_of(got.content) != blob["digest"]:
                            problems.append(f"{name}@{blob['digest']}: {got.status_code} {got.text[:200]}")
                    expected = self.referrers.get(digest_of(raw), set())
                    if expected:
                        listed = http.get(f"{self.base}/v2/{name}/referrers/{digest_of(raw)}", timeout=120).json()
                        missing = expected - {m["digest"] for m in listed.get("manifests", [])}
                        if missing:
                            problems.append(f"{name}:{tag}: referrers missing {sorted(missing)[:3]}")


def run_soak(registry: LiveRegistry, *, duration: float, workers: int) -> Report:
    """Drive ``registry`` (started, with its Celery worker) for ``duration`` seconds."""
    stop_file = registry.data_dir / "soak-gc-stop"
    gc_output: list[str] = []
    gc = threading.Thread(target=lambda: gc_output.append(registry.manage("shell", "-c", GC_LOOP.format(stop=str(stop_file)), check=False).stdout))
    gc.start()
    report = Report(duration=duration, workers=workers)
    lock = threading.Lock()
    started = time.monotonic()
    clients = [Client(n, registry.url, started, started + duration, report.ops, lock) for n in range(workers)]
    threads = [threading.Thread(target=client.run) for client in clients]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop_file.write_text("stop")
        gc.join(timeout=300)
    report.duration = time.monotonic() - started
    output = gc_output[0] if gc_output else ""
    report.gc = json.loads(output.split("GC-TOTALS ", 1)[1]) if "GC-TOTALS " in output else {"errors": ["the GC loop did not report"]}
    for client in clients:
        client.final_check(report.final_check)
    fsck = registry.manage("fsck", "--json", check=False)
    report.fsck = "clean" if fsck.returncode == 0 else f"exit {fsck.returncode}: {(fsck.stdout + fsck.stderr)[-1500:]}"
    return report


def soak_registry(database_url: str | None = None) -> LiveRegistry:
    """A server (4 workers' worth of threads) and one Celery worker, grace periods short enough
    for the collector to race the pushes."""
    registry = LiveRegistry.create(
        {"MOORAGE_GC_BLOB_GRACE_S": str(GRACE_S), "MOORAGE_UPLOADS_LINK_GRACE_S": str(GRACE_S)}, database_url=database_url
    )
    registry.start(workers=2, threads=8)
    registry.start_worker(concurrency=2)
    return registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, metavar="SECONDS", help="How long the clients run (default 60).")
    parser.add_argument("--workers", type=int, default=4, metavar="N", help="Concurrent clients (default 4).")
    parser.add_argument("--database-url", default=os.environ.get("MOORAGE_DATABASE_URL"),
                        help="A PostgreSQL server URL to create the soak's database on (default: MOORAGE_DATABASE_URL, else SQLite).")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    options = parser.parse_args(argv)
    print(f"starting a server and a Celery worker, then {options.workers} clients for {options.duration:g} s ...", file=sys.stderr, flush=True)
    registry = soak_registry(options.database_url)
    try:
        report = run_soak(registry, duration=options.duration, workers=options.workers)
    finally:
        registry.destroy()
    print(json.dumps(report.figures(), indent=2) if options.json else report.render())
    clean = not report.failures and not report.final_check and report.fsck == "clean" and not report.gc.get("errors")
    return 0 if clean else 1
