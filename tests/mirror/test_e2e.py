"""End to end: a real Moorage server process mirrors a real Distribution with ``manage.py
mirror_sync`` and skopeo sees the same digests on both sides and pulls every blob back."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import LiveRegistry
from tests.mirror.conftest import make_image, start_distribution

pytestmark = [pytest.mark.live, pytest.mark.e2e]

CONFIGURE = """
from django.utils import timezone
from accounts.services import robot_create
from organizations.services import organization_create
from repositories.models import Repository
from repositories.services.mirror import MirrorSettings, mirror_create
org = organization_create(name="acme", creator=None)
robot = robot_create(namespace=org.namespace, shortname="mirror").robot
repository = Repository.objects.create(namespace=org.namespace, name="app", full_name="acme/app")
mirror_create(repository=repository, values=MirrorSettings(
    external_reference="%s", sync_interval=3600, sync_start_date=timezone.now(), tag_patterns=["v*"], robot=robot,
    architecture_filter=["arm64"]))
"""


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", *args], capture_output=True, text=False, timeout=120, check=True)


def test_skopeo_sees_the_upstream_digests_in_the_mirror_and_pulls_every_blob(tmp_path: Path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo not installed (.ci/run installs it)")
    upstream = start_distribution()
    registry = LiveRegistry.create(extra_env={"MOORAGE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"})
    try:
        single = upstream.push_image("lib/app", "v1", make_image("e2e-single", layer_bytes=1_500_000))
        amd, arm = make_image("e2e-amd", architecture="amd64"), make_image("e2e-arm", architecture="arm64")
        index = upstream.push_index("lib/app", "v2", amd, arm)
        upstream.push_image("lib/app", "dev", make_image("e2e-dev"))
        registry.start(workers=1, threads=4)
        registry.manage("shell", "-c", CONFIGURE % upstream.reference("lib/app"))

        first = registry.manage("mirror_sync", "acme/app", check=False)
        second = registry.manage("mirror_sync", "acme/app", "--json", check=False)

        assert first.returncode == 0, first.stdout + first.stderr
        assert "SUCCESS: 2 tag(s) copied" in first.stdout
        assert second.returncode == 0 and json.loads(second.stdout)["counts"]["blobs_copied"] == 0
        for tag, raw in (("v1", single.manifest), ("v2", index)):
            mirrored = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/acme/app:{tag}").stdout
            original = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{upstream.port}/lib/app:{tag}").stdout
            assert mirrored == original == raw
            assert "sha256:" + hashlib.sha256(mirrored).hexdigest() == "sha256:" + hashlib.sha256(raw).hexdigest()
        skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/acme/app:v1", f"dir:{tmp_path / 'v1'}")
        for blob in single.blobs:
            assert (tmp_path / "v1" / hashlib.sha256(blob).hexdigest()).read_bytes() == blob
        skopeo("copy", "--src-tls-verify=false", "--override-arch", "arm64", f"docker://{registry.host}/acme/app:v2", f"dir:{tmp_path / 'arm'}")
        assert (tmp_path / "arm" / "manifest.json").read_bytes() == arm.manifest
        tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/acme/app").stdout)["Tags"]
        assert sorted(tags) == ["v1", "v2"]  # dev does not match v*
    finally:
        registry.destroy()
        upstream.stop()
