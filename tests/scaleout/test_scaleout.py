"""Two instances behind nginx act as one registry: real clients push and pull through the
balancer, one upload's chunks alternate between the instances, and a task enqueued by one
instance is run by the other's Celery worker."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.helpers import ContainerTool, containers_config, layout_blob, layout_image, requires, umoci_image
from tests.live import CELERY_QUEUES
from tests.oci.helpers import OCI_MANIFEST, digest_of, image_manifest, to_bytes

pytestmark = [pytest.mark.live, pytest.mark.e2e]

MIB = 1024 * 1024


def _served_by(registry, needle: str) -> int:
    log = registry.data_dir / "access.log"
    return log.read_text().count(needle) if log.exists() else 0


def test_the_chunks_of_one_upload_alternate_between_the_instances(cluster):
    name = "scaleout/chunks"
    data = os.urandom(5 * MIB + 321)
    parts = [data[i : i + MIB] for i in range(0, len(data), MIB)]
    first, second = cluster.instances
    started = requests.post(f"{first.url}/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    path = started.headers["Location"]
    offset = 0
    for number, part in enumerate(parts):
        instance = (second, first)[number % 2]  # B, A, B, A, ... each PATCH to the other one
        response = requests.patch(
            urljoin(instance.url, path), data=part,
            headers={"Content-Range": f"{offset}-{offset + len(part) - 1}", "Content-Type": "application/octet-stream"},
        )  # fmt: skip
        assert response.status_code == 202, f"chunk {number} on {instance.host}: {response.text}"
        offset += len(part)
        assert response.headers["Range"] == f"0-{offset - 1}"
        path = response.headers["Location"]
        # The other instance sees the progress at once: the state is in the database, not a process.
        status = requests.get(urljoin((first, second)[number % 2].url, path))
        assert status.status_code == 204 and status.headers["Range"] == f"0-{offset - 1}"
    upload_id = path.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    assert _served_by(first, upload_id) >= 3 and _served_by(second, upload_id) >= 3

    done = requests.put(urljoin(second.url, path), params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    for instance in (first, second):
        got = requests.get(f"{instance.url}/v2/{name}/blobs/{digest_of(data)}", allow_redirects=True)
        assert got.status_code == 200 and got.content == data
    assert f"registry/blobs/sha256/{digest_of(data)[7:9]}/{digest_of(data)[7:]}" in cluster.moto.keys("registry/blobs/")


def test_a_manifest_pushed_through_one_instance_is_served_by_the_other(cluster):
    first, second = cluster.instances
    name = "scaleout/manifest"
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(4096)
    for blob in (config, layer):
        assert requests.post(f"{first.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(blob)}, data=blob).status_code == 201
    raw = to_bytes(image_manifest(config, [layer]))
    assert requests.put(f"{first.url}/v2/{name}/manifests/v1", data=raw, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    got = requests.get(f"{second.url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert got.status_code == 200 and got.content == raw
    assert requests.get(f"{second.url}/v2/{name}/tags/list").json()["tags"] == ["v1"]
    assert requests.delete(f"{second.url}/v2/{name}/manifests/{digest_of(raw)}").status_code == 202
    assert requests.get(f"{first.url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 404


@requires("skopeo", "umoci")
def test_skopeo_pushes_and_pulls_through_the_balancer_with_both_instances_serving(cluster, tmp_path):
    workdir = tmp_path / "umoci"
    workdir.mkdir()
    layout = workdir / "layout"
    image = umoci_image(layout, "v1", {"hello.txt": b"hello from two instances\n", "data.bin": os.urandom(3 * MIB)}, workdir=workdir)
    skopeo = ContainerTool(["skopeo"], containers_config(tmp_path / "containers", cluster.balancer.host))
    target = f"docker://{cluster.balancer.host}/scaleout/skopeo:v1"
    before = [_served_by(instance, "/v2/scaleout/skopeo/") for instance in cluster.instances]

    skopeo("copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:v1", target)
    pulled = tmp_path / "pulled"
    skopeo("copy", "--quiet", "--src-tls-verify=false", target, f"oci:{pulled}:v1")

    copy = layout_image(pulled, "v1")
    assert copy.digest == image.digest and copy.layer_digests == image.layer_digests
    for digest in image.layer_digests:
        assert layout_blob(pulled, digest) == layout_blob(layout, digest)
    after = [_served_by(instance, "/v2/scaleout/skopeo/") for instance in cluster.instances]
    assert all(a > b for a, b in zip(after, before)), f"requests per instance before {before}, after {after}: not round robin"


def test_oras_pushes_and_pulls_through_the_balancer(cluster, tmp_path, monkeypatch):
    oras_client = pytest.importorskip("oras.client", reason="oras is not installed (requirements-dev.txt has it)")
    monkeypatch.chdir(tmp_path)  # oras-py pushes files below the working directory only
    content = os.urandom(2 * MIB)
    (tmp_path / "artifact.bin").write_bytes(content)
    oras = oras_client.OrasClient(hostname=cluster.balancer.host, insecure=True)
    target = f"{cluster.balancer.host}/scaleout/oras:v1"

    pushed = oras.push(files=["artifact.bin:application/octet-stream"], target=target, do_chunked=True, chunk_size=512 * 1024)
    assert pushed.status_code == 201, pushed.text
    (path,) = oras.pull(target=target, outdir=str(tmp_path / "pulled"))

    assert Path(path).read_bytes() == content


def test_a_task_enqueued_by_one_instance_is_run_by_the_other_instances_worker(cluster):
    first, second = cluster.instances
    first.stop_workers()  # only the second instance's worker can take it
    try:
        marker = f"scaleout-{os.getpid()}-{time.monotonic_ns()}"
        # A process of the first instance (its settings and data folder) puts the task on the queue.
        enqueued = first.manage("shell", "-c", f"from tasks.gc import collect; print('{marker}', collect.delay().id)")
        task_id = re.search(rf"{marker} (\S+)", enqueued.stdout).group(1)
        log = second.data_dir / "celery-0.log"
        deadline = time.monotonic() + 120
        while not re.search(rf"Task registry\.gc\.collect\[{task_id}\] succeeded", log.read_text()):
            assert time.monotonic() < deadline, f"the second instance's worker did not run {task_id}:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
    finally:
        first.start_worker()


def test_the_live_helpers_start_workers_on_every_queue():
    from django.conf import settings

    assert tuple(CELERY_QUEUES) == tuple(settings.CELERY_TASK_QUEUES_NAMES)
