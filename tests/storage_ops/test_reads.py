"""Blob GETs over two locations: failover when the preferred one is down (counted in metrics), and
307 redirects only from a location that holds the blob."""

from __future__ import annotations

import hashlib

import pytest
import requests
from django.test import Client

from oci import metrics
from repositories.services.storage import blobs_replicate_missing
from storagebackends.paths import blob_path
from tests.storage_ops.helpers import placements_of, push_image

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def open_registry(settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": True}


def failovers(location: str) -> float:
    return metrics.STORAGE_READ_FAILOVER.labels(location=location)._value.get()


def get_blob(repository, digest: str, **headers: str):
    return Client().get(f"/v2/{repository.full_name}/blobs/{digest}", headers=headers)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_pulls_fall_over_to_the_filesystem_when_the_preferred_s3_location_is_down(locations, repository):
    locations.configure(("s3", "local"))
    _, blobs = push_image(repository, "v1")
    blobs_replicate_missing()
    assert all(placements_of(digest) == {"local", "s3"} for digest in blobs)
    locations.configure(("s3", "local"), s3_down=True)
    before, before_local = failovers("s3"), failovers("local")

    for digest, data in blobs.items():
        response = get_blob(repository, digest)
        assert response.status_code == 200
        assert body_of(response) == data

    assert failovers("s3") == before + len(blobs)
    assert failovers("local") == before_local  # the healthy location never failed


def test_ranged_pulls_fall_over_too(locations, repository):
    locations.configure(("s3", "local"))
    _, blobs = push_image(repository, "v1")
    blobs_replicate_missing()
    locations.configure(("s3", "local"), s3_down=True)
    digest, data = max(blobs.items(), key=lambda item: len(item[1]))

    response = get_blob(repository, digest, Range="bytes=100-199")

    assert response.status_code == 206
    assert body_of(response) == data[100:200]


def test_a_blob_in_no_answering_location_is_an_oci_503(locations, repository):
    locations.configure(("s3", "local"))
    _, blobs = push_image(repository, "v1")
    locations.configure(("s3", "local"), s3_down=True)
    digest = next(iter(blobs))

    response = get_blob(repository, digest)

    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "UNAVAILABLE"


def test_a_signing_location_that_does_not_hold_the_blob_does_not_redirect(locations, repository):
    _, blobs = push_image(repository, "v1")  # stored on the filesystem only
    locations.configure(("s3", "local"), s3_direct=True)

    for digest, data in blobs.items():
        response = get_blob(repository, digest)
        assert response.status_code == 200
        assert body_of(response) == data


def test_once_replicated_the_preferred_signing_location_redirects_and_the_url_serves_the_bytes(locations, repository):
    _, blobs = push_image(repository, "v1")
    locations.configure(("s3", "local"), s3_direct=True)
    blobs_replicate_missing()

    for digest, data in blobs.items():
        response = get_blob(repository, digest)
        assert response.status_code == 307
        assert response["Location"].startswith(f"{locations.moto.endpoint_url}/{locations.moto.bucket}/{locations.prefix}/")
        assert response["Docker-Content-Digest"] == digest
        followed = requests.get(response["Location"], timeout=30)
        assert followed.status_code == 200
        assert hashlib.sha256(followed.content).hexdigest() == digest.split(":")[1]
        assert followed.content == data


def test_a_holding_location_preferred_over_the_signing_one_streams(locations, repository):
    _, blobs = push_image(repository, "v1")
    locations.configure(("local", "s3"), s3_direct=True)
    blobs_replicate_missing()

    digest, data = next(iter(blobs.items()))
    response = get_blob(repository, digest)

    assert response.status_code == 200
    assert body_of(response) == data


def test_a_copy_missing_from_the_preferred_location_is_served_from_the_other(locations, repository):
    _, blobs = push_image(repository, "v1")
    blobs_replicate_missing()
    digest, data = next(iter(blobs.items()))
    (locations.root / blob_path(digest)).unlink()
    before = failovers("local")

    response = get_blob(repository, digest)

    assert response.status_code == 200 and body_of(response) == data
    assert failovers("local") == before + 1


def test_a_blob_missing_from_every_location_is_blob_unknown(locations, repository):
    _, blobs = push_image(repository, "v1")
    digest = next(iter(blobs))
    (locations.root / blob_path(digest)).unlink()

    response = get_blob(repository, digest)

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
