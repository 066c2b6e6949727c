"""A live registry whose only storage location is Azure (Azurite) or GCS (gcp-storage-emulator).

skopeo pushes a umoci image (a layer larger than one Azure block / GCS part) and pulls it back;
nothing is left of the uploads; on Azure with ``direct_download`` a blob GET is a 307 to a SAS URL.
(GCS signing needs a service-account key whose tokens the emulator cannot issue: the signed URL
itself is covered by test_gcs.py.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import requests

from storagebackends.paths import blob_path
from tests.e2e.helpers import (
    ContainerTool,
    containers_config,
    layout_blob,
    layout_image,
    repository_name,
    requires,
    umoci_image,
)
from tests.live import LiveRegistry

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires("skopeo", "umoci")]

BIG_FILE = os.urandom(13 * 1024 * 1024)  # incompressible: a gzip layer of ~13 MiB, two blocks / parts


@dataclass
class StoreRegistry:
    kind: str
    registry: LiveRegistry
    location: str
    keys: Callable[[], set[str]]
    endpoint: str


@pytest.fixture(scope="module", params=["azure", "gcs"])
def store_registry(request: pytest.FixtureRequest):
    location = f"registry-e2e-{uuid.uuid4().hex[:8]}"
    if request.param == "azure":
        server = request.getfixturevalue("azurite")
        config = {"driver": "azure", "direct_download": True, "options": server.options(location=location)}

        def keys() -> set[str]:
            blobs = server.container_client().list_blobs(name_starts_with=f"{location}/", include=["uncommittedblobs"])
            return {blob.name[len(location) + 1 :] for blob in blobs}

        endpoint = f"{server.blob_endpoint}/{server.container}"
    else:
        server = request.getfixturevalue("gcs_emulator")
        config = {"driver": "gcs", "options": server.options(location=location)}

        def keys() -> set[str]:
            return {blob.name[len(location) + 1 :] for blob in server.client().list_blobs(server.bucket, prefix=f"{location}/")}

        endpoint = f"{server.endpoint}/{server.bucket}"
    registry = LiveRegistry.create(extra_env={"MOORAGE_STORAGE_LOCATIONS": json.dumps({"store": config})}).start()
    yield StoreRegistry(request.param, registry, location, keys, endpoint)
    registry.destroy()


@pytest.fixture(scope="module")
def skopeo(tmp_path_factory: pytest.TempPathFactory, store_registry) -> ContainerTool:
    directory = tmp_path_factory.mktemp("containers-config")
    yield ContainerTool(["skopeo"], containers_config(directory, store_registry.registry.host))
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("umoci")
    layout = workdir / "layout"
    umoci_image(layout, "v1", {"hello.txt": b"hello from an object store\n", "data/big.bin": BIG_FILE}, workdir=workdir)
    return layout


@pytest.fixture(scope="module")
def pushed(store_registry, skopeo, layout: Path) -> str:
    name = repository_name(f"{store_registry.kind}-registry-umoci")
    host = store_registry.registry.host
    skopeo("copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{host}/{name}:v1")
    return name


def test_a_pushed_image_lands_in_the_store_and_nothing_is_left_of_its_uploads(store_registry, layout, pushed):
    image = layout_image(layout, "v1")

    keys = store_registry.keys()

    assert {blob_path(digest) for digest in [image.config_digest, *image.layer_digests]} <= keys
    assert not [key for key in keys if key.startswith("uploads/")]
    blobs = store_registry.registry.data_dir / "blobs"
    assert not blobs.exists() or not any(blobs.rglob("*"))


def test_skopeo_pulls_back_the_image_with_equal_digests(store_registry, skopeo, layout, pushed, tmp_path):
    image = layout_image(layout, "v1")
    pulled = tmp_path / "pulled"

    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{store_registry.registry.host}/{pushed}:v1", f"oci:{pulled}:v1")

    copy = layout_image(pulled, "v1")
    assert copy.digest == image.digest
    assert copy.layer_digests == image.layer_digests
    for digest in [image.config_digest, *image.layer_digests]:
        assert hashlib.sha256(layout_blob(pulled, digest)).hexdigest() == digest.partition(":")[2]


def test_a_blob_get_redirects_to_a_signed_url_only_where_enabled(store_registry, layout, pushed):
    image = layout_image(layout, "v1")
    digest = max(image.layer_digests, key=lambda d: len(layout_blob(layout, d)))

    response = requests.get(f"{store_registry.registry.url}/v2/{pushed}/blobs/{digest}", allow_redirects=False, timeout=60)

    if store_registry.kind == "gcs":  # direct_download off: streamed by the registry
        assert response.status_code == 200
        assert response.content == layout_blob(layout, digest)
        return
    assert response.status_code == 307
    location = response.headers["Location"]
    assert location.startswith(f"{store_registry.endpoint}/{store_registry.location}/{blob_path(digest)}?")
    followed = requests.get(location, timeout=60)
    assert followed.status_code == 200
    assert followed.content == layout_blob(layout, digest)


def test_a_ranged_blob_get_streams_from_the_store(store_registry, layout, pushed):
    image = layout_image(layout, "v1")
    digest = max(image.layer_digests, key=lambda d: len(layout_blob(layout, d)))
    data = layout_blob(layout, digest)
    start = 6 * 1024 * 1024 + 3

    response = requests.get(
        f"{store_registry.registry.url}/v2/{pushed}/blobs/{digest}",
        headers={"Range": f"bytes={start}-"},
        allow_redirects=False,
        timeout=60,
    )

    assert response.status_code == 206
    assert response.content == data[start:]
