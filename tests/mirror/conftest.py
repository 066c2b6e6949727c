"""Real upstream registries for the mirroring tests: Debian's ``docker-registry`` (CNCF
Distribution 2.8) on free loopback ports, without auth and with htpasswd Basic auth, seeded over
HTTP with images built by ``tests.factories``; a mirrored repository with its organization and
robot; an outbound policy that lets the tests reach 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.services import robot_create
from organizations.services import organization_create
from repositories.models import Repository
from repositories.services.mirror import MirrorSettings, mirror_create
from tests.api.conftest import alice, anonymous, bob, login, root  # noqa: F401 - shared fixtures
from tests.factories import RepositoryFactory, digest_of, image_manifest, index_manifest
from tests.live import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
#: fast retries: the tests must not wait for production backoffs
FAST_MIRROR = {
    "connect_timeout_s": 2, "max_retries": 2, "backoff_s": 0.05, "max_backoff_s": 0.2, "max_retry_after_s": 5,
    "sync_lease_s": 600, "retry_delay_s": 300, "retries": 3,
}


@dataclass
class Image:
    manifest: bytes
    blobs: list[bytes]
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def make_image(seed: str, *, architecture: str = "amd64", layer_bytes: int = 3000) -> Image:
    config = json.dumps({"architecture": architecture, "os": "linux", "config": {"Labels": {"seed": seed}}, "rootfs": {"type": "layers"}}).encode()
    # deterministic, incompressible-looking content of the wanted size
    layer = b"".join(hashlib.sha256(f"{seed}-{i}".encode()).digest() for i in range(layer_bytes // 32 + 1))[:layer_bytes]
    small = f"small layer {seed}".encode()
    return Image(manifest=image_manifest(config=config, layers=[layer, small]), blobs=[config, layer, small])


@dataclass
class Upstream:
    """A running Distribution; ``reference(repo)`` is what a mirror configuration names."""

    port: int
    root: Path
    process: subprocess.Popen
    auth: tuple[str, str] | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reference(self, repository: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repository}"

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        started = self.session.post(f"{self.url}/v2/{repository}/blobs/uploads/", auth=self.auth)
        assert started.status_code == 202, started.text
        location = urljoin(self.url, started.headers["Location"])
        done = self.session.put(
            f"{location}{'&' if '?' in location else '?'}digest={digest}", data=data,
            headers={"Content-Type": "application/octet-stream"}, auth=self.auth,
        )
        assert done.status_code == 201, done.text
        return digest

    def push_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> None:
        response = self.session.put(f"{self.url}/v2/{repository}/manifests/{reference}", data=raw, headers={"Content-Type": media_type}, auth=self.auth)
        assert response.status_code == 201, response.text

    def push_image(self, repository: str, tag: str | None, image: Image) -> Image:
        for blob in image.blobs:
            self.push_blob(repository, blob)
        self.push_manifest(repository, tag or image.digest, image.manifest, image.media_type)
        return image

    def push_index(self, repository: str, tag: str, *children: Image) -> bytes:
        for child in children:
            self.push_image(repository, None, child)
        raw = index_manifest(*(child.manifest for child in children))
        self.push_manifest(repository, tag, raw, OCI_INDEX)
        return raw

    def delete_manifest(self, repository: str, digest: str) -> None:
        response = self.session.delete(f"{self.url}/v2/{repository}/manifests/{digest}", auth=self.auth)
        assert response.status_code == 202, response.text

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.session.close()
        shutil.rmtree(self.root, ignore_errors=True)


def start_distribution(*, htpasswd: tuple[str, str] | None = None) -> Upstream:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry not installed (apt-get install docker-registry; .ci/run installs it)")
    root = Path(tempfile.mkdtemp(prefix="moorage-upstream-"))
    port = free_port()
    auth = ""
    if htpasswd is not None:
        import bcrypt

        user, password = htpasswd
        (root / "htpasswd").write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n")
        auth = f"auth: {{htpasswd: {{realm: basic-realm, path: {root / 'htpasswd'}}}}}\n"
    (root / "config.yml").write_text(
        "version: 0.1\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}, maintenance: {{uploadpurging: {{enabled: false}}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: mirror-test-{port}}}\n" + auth
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL, stderr=open(root / "log", "wb"), start_new_session=True
    )
    upstream = Upstream(port=port, root=root, process=process, auth=htpasswd)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{upstream.url}/v2/", timeout=1).status_code in (200, 401):
                return upstream
        except requests.RequestException:
            time.sleep(0.05)
    upstream.stop()
    raise RuntimeError(f"docker-registry did not start:\n{(root / 'log').read_text()[-2000:]}")


@pytest.fixture
def upstream():
    """A fresh, empty Distribution without auth (one per test: tests change its content)."""
    server = start_distribution()
    yield server
    server.stop()


@pytest.fixture
def basic_upstream():
    server = start_distribution(htpasswd=("puller", "pull-secret"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def outbound_loopback(settings):
    """Mirrors may reach 127.0.0.1 (tests only); fast retries."""
    settings.MOORAGE = {**django_settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}, "mirror": dict(FAST_MIRROR)}
    return settings


@dataclass
class MirrorSetup:
    org: Any
    robot: Any
    repository: Repository


@pytest.fixture
def setup(db, alice) -> MirrorSetup:
    org = organization_create(name="acme", creator=alice)
    robot = robot_create(namespace=org.namespace, shortname="mirror").robot
    repository = RepositoryFactory(namespace=org.namespace, name="app")
    return MirrorSetup(org=org, robot=robot, repository=repository)


def configure(setup: MirrorSetup, reference: str, **overrides: Any):
    values = {
        "external_reference": reference, "sync_interval": 3600, "sync_start_date": timezone.now() - timedelta(seconds=1),
        "tag_patterns": ["*"], "robot": setup.robot, **overrides,
    }
    return mirror_create(repository=setup.repository, values=MirrorSettings(**values))

