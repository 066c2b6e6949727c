"""End to end: a real Moorage server process (gunicorn, two workers) as a pull-through cache of a
real Distribution, pulled with skopeo: the upstream digest comes through, a second pull is served
with the upstream stopped, an uncached tag then fails with a clear error, and pushes are refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import LiveRegistry
from tests.mirror.conftest import make_image, start_distribution

pytestmark = [pytest.mark.live, pytest.mark.e2e]

CONFIGURE = """
from organizations.services import organization_create
from repositories.services.proxy import proxy_config_create
org = organization_create(name="cache", creator=None)
proxy_config_create(organization=org, upstream_registry="%s", username="%s", password="%s", insecure=True)
"""
EXPIRE = """
from datetime import timedelta
from django.core.cache import cache
from django.utils import timezone
from repositories.models import ProxyCachedTag
ProxyCachedTag.objects.update(checked_at=timezone.now() - timedelta(days=400))
cache.clear()
"""


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", *args], capture_output=True, timeout=180, check=check)


@pytest.fixture
def skopeo_installed():
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo not installed (.ci/run installs it)")


def _registry(upstream_registry: str, credentials: tuple[str, str] = ("", "")) -> LiveRegistry:
    registry = LiveRegistry.create(extra_env={"MOORAGE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"})
    registry.start(workers=2, threads=4)
    registry.manage("shell", "-c", CONFIGURE % (upstream_registry, *credentials))
    return registry


@pytest.mark.usefixtures("skopeo_installed")
def test_skopeo_pulls_through_the_cache_and_keeps_pulling_with_the_upstream_stopped(tmp_path: Path):
    upstream = start_distribution()
    registry = None
    try:
        image = upstream.push_image("lib/app", "v1", make_image("e2e-proxy", layer_bytes=5_000_000))  # more than one append batch
        amd, arm = make_image("e2e-proxy-amd", architecture="amd64"), make_image("e2e-proxy-arm", architecture="arm64")
        index = upstream.push_index("lib/app", "multi", amd, arm)
        registry = _registry(f"127.0.0.1:{upstream.port}/lib")
        source = f"docker://{registry.host}/cache/app"

        raw = skopeo("inspect", "--raw", "--tls-verify=false", f"{source}:v1").stdout
        skopeo("copy", "--src-tls-verify=false", f"{source}:v1", f"dir:{tmp_path / 'first'}")
        skopeo("copy", "--src-tls-verify=false", "--override-arch", "arm64", f"{source}:multi", f"dir:{tmp_path / 'arm'}")

        assert raw == image.manifest and "sha256:" + hashlib.sha256(raw).hexdigest() == image.digest
        assert (tmp_path / "first" / "manifest.json").read_bytes() == image.manifest
        for blob in image.blobs:
            assert (tmp_path / "first" / hashlib.sha256(blob).hexdigest()).read_bytes() == blob
        assert skopeo("inspect", "--raw", "--tls-verify=false", f"{source}:multi").stdout == index
        assert (tmp_path / "arm" / "manifest.json").read_bytes() == arm.manifest  # the arm64 child, fetched on demand

        upstream.stop()
        registry.manage("shell", "-c", EXPIRE)  # every tag past its expiry: the cache must try the upstream
        skopeo("copy", "--src-tls-verify=false", f"{source}:v1", f"dir:{tmp_path / 'second'}")
        uncached = skopeo("copy", "--src-tls-verify=false", f"{source}:v2", f"dir:{tmp_path / 'uncached'}", check=False)
        pushed = skopeo("copy", "--dest-tls-verify=false", f"dir:{tmp_path / 'first'}", f"{source}:pushed", check=False)

        assert (tmp_path / "second" / "manifest.json").read_bytes() == image.manifest
        for blob in image.blobs:
            assert (tmp_path / "second" / hashlib.sha256(blob).hexdigest()).read_bytes() == blob
        assert uncached.returncode != 0
        assert b"cache/app:v2 is not cached and the upstream registry 127.0.0.1:" in uncached.stderr, uncached.stderr
        assert pushed.returncode != 0
        assert b"is a pull-through cache of 127.0.0.1:" in pushed.stderr, pushed.stderr
    finally:
        if registry is not None:
            registry.destroy()
        upstream.stop()


@pytest.mark.usefixtures("skopeo_installed")
def test_skopeo_pulls_through_a_cache_of_an_htpasswd_upstream(tmp_path: Path):
    upstream = start_distribution(htpasswd=("puller", "pull-secret"))
    registry = None
    try:
        image = upstream.push_image("lib/tools", "1.0", make_image("e2e-proxy-basic"))
        registry = _registry(f"127.0.0.1:{upstream.port}/lib", ("puller", "pull-secret"))

        skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/cache/tools:1.0", f"dir:{tmp_path / 'tools'}")
        digest = skopeo("inspect", "--format", "{{.Digest}}", "--tls-verify=false", f"docker://{registry.host}/cache/tools:1.0").stdout.strip()

        assert (tmp_path / "tools" / "manifest.json").read_bytes() == image.manifest
        assert digest.decode() == image.digest
    finally:
        if registry is not None:
            registry.destroy()
        upstream.stop()
