"""A small mixed load (pushes, pulls, token requests) that records every answer, for the
outage tests: during an outage each request must succeed or fail cleanly with 503 + Retry-After
in OCI error JSON; never a 500, never a dropped connection."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.oci.helpers import OCI_MANIFEST, digest_of, image_manifest, to_bytes


@dataclass
class Answer:
    kind: str
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    at: float
    body: str = ""
    retry_after: str | None = None
    content_type: str = ""


@dataclass
class Load:
    """``threads`` clients pushing small images and pulling them back until ``stop``."""

    base: str
    name: str
    threads: int = 3
    answers: list[Answer] = field(default_factory=list)
    pushed: dict[str, bytes] = field(default_factory=dict)  # tag -> manifest acknowledged with 201
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes acknowledged with 201
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def record(self, kind: str, call) -> requests.Response | None:
        try:
            response = call()
        except requests.RequestException as exc:
            with self._lock:
                self.answers.append(Answer(kind, 0, time.monotonic(), repr(exc)[:300]))
            return None
        with self._lock:
            self.answers.append(
                Answer(kind, response.status_code, time.monotonic(), response.text[:500], response.headers.get("Retry-After"), response.headers.get("Content-Type", ""))
            )
        return response

    def _client(self, number: int) -> None:
        iteration = 0
        with requests.Session() as http:
            while not self._stop.is_set():
                iteration += 1
                tag = f"c{number}-{iteration}"
                config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
                layer = os.urandom(4096)
                stored = True
                for blob in (config, layer):
                    answer = self.record("blob-push", lambda b=blob: http.post(
                        f"{self.base}/v2/{self.name}/blobs/uploads/", params={"digest": digest_of(b)}, data=b, timeout=60))
                    if answer is not None and answer.status_code == 201:
                        with self._lock:
                            self.blobs[digest_of(blob)] = blob
                    else:
                        stored = False
                if stored:
                    raw = to_bytes(image_manifest(config, [layer]))
                    answer = self.record("manifest-push", lambda: http.put(
                        f"{self.base}/v2/{self.name}/manifests/{tag}", data=raw, headers={"Content-Type": OCI_MANIFEST}, timeout=60))
                    if answer is not None and answer.status_code == 201:
                        with self._lock:
                            self.pushed[tag] = raw
                with self._lock:
                    earlier = list(self.pushed.items())[-5:]
                for old_tag, _raw in earlier:
                    self.record("manifest-pull", lambda t=old_tag: http.get(
                        f"{self.base}/v2/{self.name}/manifests/{t}", headers={"Accept": OCI_MANIFEST}, timeout=60))
                self.record("token", lambda: http.get(
                    f"{self.base}/v2/auth", params={"scope": f"repository:{self.name}:pull", "service": "x"}, timeout=60))
                time.sleep(0.05)

    def start(self) -> "Load":
        self._workers = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=120)

    def wait_for(self, predicate, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
            time.sleep(0.05)

    def count(self, status: int | None = None, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.at >= since and (status is None or a.status == status))

    def successes_since(self, since: float) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.at >= since and 200 <= a.status < 300)

    def bad_answers(self) -> list[Answer]:
        """Answers that are neither a success nor a clean 503 (with Retry-After, OCI error JSON)."""
        bad = []
        for answer in self.answers:
            if 200 <= answer.status < 300:
                continue
            if answer.status == 503 and answer.retry_after and _is_unavailable(answer):
                continue
            bad.append(answer)
        return bad


def _is_unavailable(answer: Answer) -> bool:
    try:
        body = json.loads(answer.body)
    except ValueError:
        return False
    if answer.kind == "token" and "errors" not in body:
        return False
    return body.get("errors", [{}])[0].get("code") == "UNAVAILABLE"


def assert_everything_acknowledged_pulls(load: Load) -> None:
    """After recovery every manifest and blob acknowledged during the run is there, byte for byte."""
    with requests.Session() as http:
        for tag, raw in load.pushed.items():
            response = http.get(f"{load.base}/v2/{load.name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}, timeout=60)
            assert response.status_code == 200 and response.content == raw, f"{tag}: {response.status_code} {response.text[:200]}"
        for digest, data in load.blobs.items():
            response = http.get(f"{load.base}/v2/{load.name}/blobs/{digest}", timeout=60)
            assert response.status_code == 200 and response.content == data, f"{digest}: {response.status_code}"
