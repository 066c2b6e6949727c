"""A live registry whose only storage location is an S3 bucket (moto server on loopback).

skopeo pushes a umoci image (a layer large enough for several multipart parts) and pulls it
back; with ``direct_download`` a blob GET is a 307 to a presigned URL of the bucket.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

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

LOCATION = "registry-e2e"
BIG_FILE = os.urandom(13 * 1024 * 1024)  # incompressible: a gzip layer of ~13 MiB, two S3 parts


@pytest.fixture(scope="module")
def s3_registry(moto_s3):
    locations = {
        "bucket": {
            "driver": "s3",
            "direct_download": True,
            "options": moto_s3.options(location=LOCATION),
        }
    }
    registry = LiveRegistry.create(extra_env={"MOORAGE_STORAGE_LOCATIONS": json.dumps(locations)}).start()
    yield registry
    registry.destroy()


@pytest.fixture(scope="module")
def skopeo(tmp_path_factory: pytest.TempPathFactory, s3_registry) -> ContainerTool:
    directory = tmp_path_factory.mktemp("containers-config")
    yield ContainerTool(["skopeo"], containers_config(directory, s3_registry.host))
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("umoci")
    layout = workdir / "layout"
    umoci_image(layout, "v1", {"hello.txt": b"hello from s3\n", "data/big.bin": BIG_FILE}, workdir=workdir)
    return layout


@pytest.fixture(scope="module")
def pushed(s3_registry, skopeo, layout: Path) -> str:
    name = repository_name("s3-registry-umoci")
    skopeo("copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{s3_registry.host}/{name}:v1")
    return name


def bucket_keys(moto_s3) -> set[str]:
    pages = moto_s3.client().get_paginator("list_objects_v2").paginate(Bucket=moto_s3.bucket, Prefix=f"{LOCATION}/")
    return {entry["Key"][len(LOCATION) + 1 :] for page in pages for entry in page.get("Contents", ())}


def test_a_pushed_image_lands_in_the_bucket_and_nothing_is_left_of_its_uploads(moto_s3, s3_registry, layout, pushed):
    image = layout_image(layout, "v1")

    keys = bucket_keys(moto_s3)

    assert {blob_path(digest) for digest in [image.config_digest, *image.layer_digests]} <= keys
    assert not [key for key in keys if key.startswith("uploads/")]
    assert not (s3_registry.data_dir / "blobs").exists() or not any((s3_registry.data_dir / "blobs").rglob("*"))


def test_skopeo_pulls_back_the_image_with_equal_digests(s3_registry, skopeo, layout, pushed, tmp_path):
    image = layout_image(layout, "v1")
    pulled = tmp_path / "pulled"

    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{s3_registry.host}/{pushed}:v1", f"oci:{pulled}:v1")

    copy = layout_image(pulled, "v1")
    assert copy.digest == image.digest
    assert copy.layer_digests == image.layer_digests
    for digest in [image.config_digest, *image.layer_digests]:
        assert hashlib.sha256(layout_blob(pulled, digest)).hexdigest() == digest.partition(":")[2]


def test_a_blob_get_redirects_to_a_presigned_url_of_the_bucket(moto_s3, s3_registry, layout, pushed):
    image = layout_image(layout, "v1")
    digest = max(image.layer_digests, key=lambda d: len(layout_blob(layout, d)))

    response = requests.get(f"{s3_registry.url}/v2/{pushed}/blobs/{digest}", allow_redirects=False, timeout=30)

    assert response.status_code == 307
    location = response.headers["Location"]
    assert location.startswith(f"{moto_s3.endpoint_url}/{moto_s3.bucket}/{LOCATION}/{blob_path(digest)}?")
    assert response.headers["Docker-Content-Digest"] == digest
    followed = requests.get(location, timeout=60)
    assert followed.status_code == 200
    assert followed.content == layout_blob(layout, digest)


def test_a_ranged_blob_get_streams_from_the_bucket_instead_of_redirecting(s3_registry, layout, pushed):
    image = layout_image(layout, "v1")
    digest = max(image.layer_digests, key=lambda d: len(layout_blob(layout, d)))
    data = layout_blob(layout, digest)
    start = 6 * 1024 * 1024 + 3

    response = requests.get(
        f"{s3_registry.url}/v2/{pushed}/blobs/{digest}", headers={"Range": f"bytes={start}-"}, allow_redirects=False, timeout=60
    )

    assert response.status_code == 206
    assert response.content == data[start:]
