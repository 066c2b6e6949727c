"""Live servers over a filesystem location and S3 (moto on loopback).

- skopeo pushes with ``replicate_to_all`` on and S3 direct downloads set at storage level; after
  ``manage.py storage_replicate`` every blob is in both locations and a blob GET is a 307 from S3.
- The S3 server is stopped in the middle of a chunked upload: the client gets an OCI 5xx error,
  no blob row is committed, and the same push succeeds once the server is back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests

from storagebackends.paths import blob_path
from tests.e2e.helpers import ContainerTool, containers_config, layout_blob, layout_image, repository_name, requires, umoci_image
from tests.live import LiveRegistry, free_port
from tests.storagebackends.conftest import _moto_command

pytestmark = [pytest.mark.live]

MIB = 1024 * 1024
BUCKET = "moorage-ops"


def bucket_keys(client, prefix: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/")
    return {entry["Key"][len(prefix) + 1 :] for page in pages for entry in page.get("Contents", ())}


class Moto:
    """A moto server of this module's own, on a fixed port, that tests may stop and start again."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(_moto_command(self.port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.endpoint, timeout=1)
                break
            except requests.RequestException:
                assert self.process.poll() is None and time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.1)
        self.client().create_bucket(Bucket=BUCKET)  # moto keeps everything in memory

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def client(self):  # noqa: ANN201 - a generated boto3 class
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")

    def location(self, prefix: str, **extra: object) -> dict:
        options = {"bucket_name": BUCKET, "endpoint_url": self.endpoint, "access_key": "k", "secret_key": "s",
                   "region_name": "us-east-1", "addressing_style": "path", "location": prefix}  # fmt: skip
        return {"driver": "s3", "options": options, **extra}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("moto.server")
    server = Moto(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


# -- replication end to end ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def replicated_registry(moto, tmp_path_factory):
    fs_root = tmp_path_factory.mktemp("fs-location")
    locations = {"local": {"driver": "filesystem", "options": {"location": str(fs_root)}}, "s3": moto.location("e2e")}
    registry = LiveRegistry.create(
        extra_env={
            "MOORAGE_STORAGE_LOCATIONS": json.dumps(locations),
            "MOORAGE_STORAGE_PREFERENCE": "local,s3",
            "MOORAGE_STORAGE_REPLICATE_TO_ALL": "true",
            "MOORAGE_STORAGE_DIRECT_DOWNLOAD": json.dumps({"s3": True}),
        }
    ).start()
    registry.fs_root = fs_root
    yield registry
    registry.destroy()


@pytest.mark.e2e
@requires("skopeo", "umoci")
def test_skopeo_push_then_storage_replicate_puts_every_blob_in_both_locations(moto, replicated_registry, tmp_path):
    registry = replicated_registry
    layout = tmp_path / "layout"
    umoci_image(layout, "v1", {"hello.txt": b"replicate me\n", "big.bin": os.urandom(7 * MIB)}, workdir=tmp_path)
    image = layout_image(layout, "v1")
    digests = [image.config_digest, *image.layer_digests]
    name = repository_name("replicated")
    config_dir = tmp_path / "containers"
    skopeo = ContainerTool(["skopeo"], containers_config(config_dir, registry.host))
    skopeo("copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{registry.host}/{name}:v1")
    assert not {blob_path(d) for d in digests} & bucket_keys(moto.client(), "e2e")  # pushed to the filesystem only
    # The blob is only on the filesystem: no redirect although S3 signs URLs.
    first = requests.get(f"{registry.url}/v2/{name}/blobs/{image.layer_digests[0]}", allow_redirects=False, timeout=30)
    assert first.status_code == 200

    result = registry.manage("storage_replicate", "--json", check=False)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["copied"] == len(digests) and report["failed"] == 0
    keys = bucket_keys(moto.client(), "e2e")
    for digest in digests:
        data = layout_blob(layout, digest)
        assert (registry.fs_root / blob_path(digest)).read_bytes() == data
        assert blob_path(digest) in keys
        assert moto.client().get_object(Bucket=BUCKET, Key=f"e2e/{blob_path(digest)}")["Body"].read() == data
    # Preference is local first: still streamed. storage_verify agrees that every copy is good.
    verify = registry.manage("storage_verify", "--json", check=False)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["placements_ok"] == 2 * len(digests)
    pulled = tmp_path / "pulled"
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{registry.host}/{name}:v1", f"oci:{pulled}:v1")
    assert layout_image(pulled, "v1").digest == image.digest
    shutil.rmtree(config_dir, ignore_errors=True)


def test_storage_level_direct_download_redirects_from_s3_once_s3_is_preferred_and_holds_the_blob(moto, replicated_registry):
    registry = replicated_registry
    data = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    name = repository_name("direct")
    assert requests.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data, timeout=30).status_code == 201
    assert registry.manage("storage_replicate", "--location", "s3", check=False).returncode == 0
    registry.env["MOORAGE_STORAGE_PREFERENCE"] = "s3,local"
    registry.restart()

    response = requests.get(f"{registry.url}/v2/{name}/blobs/{digest}", allow_redirects=False, timeout=30)

    assert response.status_code == 307
    assert response.headers["Location"].startswith(f"{moto.endpoint}/{BUCKET}/e2e/{blob_path(digest)}?")
    assert requests.get(response.headers["Location"], timeout=30).content == data


# -- S3 stops during a chunked upload ------------------------------------------------------------
@pytest.fixture
def s3_only_registry(moto):
    registry = LiveRegistry.create(extra_env={"MOORAGE_STORAGE_LOCATIONS": json.dumps({"s3": moto.location("fault")})}).start()
    yield registry
    registry.destroy()


def blob_rows(registry: LiveRegistry, digest: str) -> int:
    code = f"from repositories.models import Blob; print(Blob.objects.filter(digest={digest!r}).count())"
    return int(registry.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def chunked_push(url: str, name: str, data: bytes, *, before_last=None) -> requests.Response:  # noqa: ANN001
    """POST, PATCH all but the last 1 MiB in 6 MiB chunks, call ``before_last``, PUT the rest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{url}/v2/{name}/blobs/uploads/", timeout=30)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    offset, last = 0, len(data) - MIB
    while offset < last:
        chunk = data[offset : min(offset + 6 * MIB, last)]
        response = requests.patch(
            f"{url}{location}" if location.startswith("/") else location, data=chunk, timeout=120,
            headers={"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(chunk) - 1}"},
        )  # fmt: skip
        assert response.status_code == 202, response.text
        location = response.headers["Location"]
        offset += len(chunk)
    if before_last:
        before_last()
    target = f"{url}{location}" if location.startswith("/") else location
    return requests.put(target, params={"digest": digest}, data=data[offset:], timeout=180,
                        headers={"Content-Type": "application/octet-stream"})  # fmt: skip


def test_s3_stopping_mid_upload_gives_an_oci_5xx_commits_no_blob_and_the_push_succeeds_later(moto, s3_only_registry):
    registry = s3_only_registry
    data = os.urandom(13 * MIB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    name = repository_name("s3-fault")

    try:
        failed = chunked_push(registry.url, name, data, before_last=moto.stop)

        assert 500 <= failed.status_code < 600, failed.text
        assert failed.headers["Content-Type"].startswith("application/json")
        [error] = failed.json()["errors"]
        assert error["code"] == "UNAVAILABLE" and "storage" in error["message"]
        assert blob_rows(registry, digest) == 0
        assert requests.head(f"{registry.url}/v2/{name}/blobs/{digest}", timeout=30).status_code == 404
    finally:
        if moto.process is None:
            moto.start()  # the server is back (empty: moto keeps nothing across restarts)

    done = chunked_push(registry.url, name, data)

    assert done.status_code == 201, done.text
    assert blob_rows(registry, digest) == 1
    pulled = requests.get(f"{registry.url}/v2/{name}/blobs/{digest}", timeout=60)
    assert pulled.status_code == 200 and pulled.content == data


# -- S3 down, the filesystem copy serves the pulls -----------------------------------------------
def failover_count(registry: LiveRegistry, location: str) -> float:
    text = requests.get(f"{registry.url}/metrics", timeout=30).text
    prefix = f'moorage_storage_read_failover_total{{location="{location}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_with_the_preferred_s3_location_down_pulls_are_served_from_the_filesystem(moto, tmp_path):
    locations = {"s3": moto.location("failover"), "local": {"driver": "filesystem", "options": {"location": str(tmp_path / "fs")}}}
    registry = LiveRegistry.create(
        extra_env={
            "MOORAGE_STORAGE_LOCATIONS": json.dumps(locations),
            "MOORAGE_STORAGE_PREFERENCE": "s3,local",
            # What docs/storage.md advises for quick failover (botocore's own variables).
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_RETRY_MODE": "standard",
        }
    ).start(workers=1)  # one process: /metrics shows the counters of the process that served the pulls
    try:
        data = os.urandom(2 * MIB + 5)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        name = repository_name("failover")
        assert requests.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data, timeout=30).status_code == 201
        assert registry.manage("storage_replicate", check=False).returncode == 0
        assert (tmp_path / "fs" / blob_path(digest)).read_bytes() == data
        try:
            moto.stop()

            pulled = requests.get(f"{registry.url}/v2/{name}/blobs/{digest}", timeout=120)
            ranged = requests.get(f"{registry.url}/v2/{name}/blobs/{digest}", headers={"Range": "bytes=10-19"}, timeout=120)

            assert pulled.status_code == 200 and pulled.content == data
            assert ranged.status_code == 206 and ranged.content == data[10:20]
            assert failover_count(registry, "s3") >= 2
            assert failover_count(registry, "local") == 0
        finally:
            moto.start()
    finally:
        registry.destroy()
