"""Quota enforcement through the real /v2 endpoints (Django test client, real storage on disk):
refusals at upload start, on a chunk in the middle of an upload and at manifest PUT, each a
DENIED 403 naming the namespace, the quota and the usage, with nothing of the refused push kept."""

from __future__ import annotations

import json
import os

import pytest
from django.test import Client

from repositories.media_types import OCI_MANIFEST
from repositories.models import Blob, BlobUpload, Manifest, Repository
from repositories.models.lifecycle import NamespaceUsage
from repositories.selectors_usage import namespace_usage
from repositories.services.quotas import quota_create, quota_limit_create
from repositories.services.repositories import repository_get_or_create
from storagebackends.paths import upload_path
from storagebackends.registry import preferred_location
from tests.factories import digest_of, image_manifest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("open_registry")]

QUOTA = 100_000
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


@pytest.fixture
def repository(acme) -> Repository:
    repo = repository_get_or_create(name="acme/app")
    quota = quota_create(namespace=acme.namespace, limit_bytes=QUOTA)
    quota_limit_create(quota=quota, limit_type="Reject", threshold_percent=80)  # refuse past 80 000 bytes
    quota_limit_create(quota=quota, limit_type="Warning", threshold_percent=50)
    return repo


def start_upload(client: Client, repository: Repository):
    return client.post(f"/v2/{repository.full_name}/blobs/uploads/", data=b"", content_type="application/octet-stream")


def upload(client: Client, repository: Repository, data: bytes) -> str:
    """A monolithic POST+PUT upload; returns the digest."""
    start = start_upload(client, repository)
    assert start.status_code == 202, start.content
    digest = digest_of(data)
    done = client.put(f"{start['Location']}?digest={digest}", data=data, content_type="application/octet-stream")
    assert done.status_code == 201, done.content
    return digest


def put_manifest(client: Client, repository: Repository, tag: str, layers: list[bytes]):
    raw = image_manifest(config=CONFIG, layers=layers)
    return client.put(f"/v2/{repository.full_name}/manifests/{tag}", data=raw, content_type=OCI_MANIFEST)


def push_image(client: Client, repository: Repository, tag: str, layers: list[bytes]):
    for data in (CONFIG, *layers):
        upload(client, repository, data)
    return put_manifest(client, repository, tag, layers)


def assert_denied(response, *words: str) -> str:
    assert response.status_code == 403, response.content
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    for word in words:
        assert word in error["message"]
    return error["message"]


def test_a_push_under_the_quota_succeeds_and_is_counted(repository):
    layer = os.urandom(30_000)
    response = push_image(Client(), repository, "v1", [layer])
    assert response.status_code == 201, response.content
    assert namespace_usage(namespace_id=repository.namespace_id).size_bytes == 30_000 + len(CONFIG)


def test_an_upload_start_is_refused_once_the_namespace_is_at_its_reject_threshold(repository):
    client = Client()
    assert push_image(client, repository, "v1", [os.urandom(80_000 - len(CONFIG))]).status_code == 201

    response = start_upload(client, repository)

    message = assert_denied(response, "acme", str(QUOTA))
    assert "80000" in message  # the reject limit in bytes
    assert not BlobUpload.objects.exists()


def test_a_chunk_that_would_cross_the_threshold_is_refused_and_the_upload_dropped(repository):
    client = Client()
    start = start_upload(client, repository)
    location = start["Location"]
    first = client.patch(location, data=os.urandom(50_000), content_type="application/octet-stream", headers={"Content-Range": "0-49999"})
    assert first.status_code == 202, first.content
    upload_id = location.rstrip("/").rsplit("/", 1)[-1]
    assert preferred_location().exists(upload_path(upload_id))  # the first chunk's bytes are stored

    second = client.patch(first["Location"], data=os.urandom(40_000), content_type="application/octet-stream", headers={"Content-Range": "50000-89999"})

    assert_denied(second, "acme")
    assert not BlobUpload.objects.exists()  # the partial upload and its 50 000 bytes are gone
    assert not preferred_location().exists(upload_path(upload_id))
    status = client.get(location)
    assert status.status_code == 404
    assert status.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_a_monolithic_upload_bigger_than_the_room_left_is_refused(repository):
    client = Client()
    start = start_upload(client, repository)
    data = os.urandom(90_000)

    response = client.put(f"{start['Location']}?digest={digest_of(data)}", data=data, content_type="application/octet-stream")

    assert_denied(response, "acme")
    assert not Blob.objects.filter(digest=digest_of(data)).exists()
    assert not BlobUpload.objects.exists()


def test_a_manifest_whose_new_blobs_cross_the_threshold_is_refused_and_not_stored(repository):
    client = Client()
    layers = [os.urandom(45_000), os.urandom(45_000)]  # each upload fits, together they do not
    for data in (CONFIG, *layers):
        upload(client, repository, data)

    response = put_manifest(client, repository, "big", layers)

    assert_denied(response, "acme", str(QUOTA))
    assert not Manifest.objects.filter(repository=repository).exists()
    assert namespace_usage(namespace_id=repository.namespace_id).size_bytes == 0


def test_blobs_already_counted_in_the_namespace_do_not_count_again(repository, acme):
    client = Client()
    layer = os.urandom(60_000)
    assert push_image(client, repository, "v1", [layer]).status_code == 201
    other = repository_get_or_create(name="acme/other")
    upload(client, other, CONFIG)
    mount = client.post(f"/v2/{other.full_name}/blobs/uploads/?mount={digest_of(layer)}&from={repository.full_name}", data=b"", content_type="application/octet-stream")
    assert mount.status_code == 201

    # 60 000 + 60 000 would cross 80 000, but the layer is already in the namespace
    response = put_manifest(client, other, "v1", [layer])

    assert response.status_code == 201, response.content
    assert namespace_usage(namespace_id=acme.namespace_id).size_bytes == 60_000 + len(CONFIG)


def test_enforcement_can_be_switched_off(repository, settings):
    settings.MOORAGE = {**settings.MOORAGE, "quotas": {**settings.MOORAGE["quotas"], "enforce": False}}
    response = push_image(Client(), repository, "v1", [os.urandom(90_000)])
    assert response.status_code == 201, response.content
    assert NamespaceUsage.objects.get(namespace=repository.namespace).size_bytes == 90_000 + len(CONFIG)


def test_a_refused_push_emits_one_quota_error_per_crossing(repository, events):
    client = Client()
    assert push_image(client, repository, "v1", [os.urandom(80_000 - len(CONFIG))]).status_code == 201
    for _ in range(3):
        assert start_upload(client, repository).status_code == 403

    kinds = [event for event, namespace_id, _ in events if namespace_id == repository.namespace_id]
    assert kinds.count("quota_error") == 1
    payload = next(p for e, _, p in events if e == "quota_error")
    assert payload["namespace"] == "acme" and payload["limit_bytes"] == QUOTA and payload["threshold_percent"] == 80


def test_crossing_the_warning_threshold_notifies_once(repository, events):
    client = Client()
    assert push_image(client, repository, "v1", [os.urandom(55_000)]).status_code == 201
    assert push_image(client, repository, "v2", [os.urandom(5_000)]).status_code == 201

    warnings = [payload for event, _, payload in events if event == "quota_warning"]
    assert len(warnings) == 1
    assert warnings[0]["usage_bytes"] == 55_000 + len(CONFIG)
    json.dumps(warnings[0])  # a JSON-able payload for the notification methods


def test_a_small_push_between_two_refusals_does_not_rearm_the_quota_error(repository, events):
    client = Client()
    assert push_image(client, repository, "v1", [os.urandom(70_000)]).status_code == 201
    too_big = os.urandom(20_000)
    start = start_upload(client, repository)
    assert client.put(f"{start['Location']}?digest={digest_of(too_big)}", data=too_big, content_type="application/octet-stream").status_code == 403
    assert push_image(client, repository, "v2", [os.urandom(1_000)]).status_code == 201
    start = start_upload(client, repository)
    assert client.put(f"{start['Location']}?digest={digest_of(too_big)}", data=too_big, content_type="application/octet-stream").status_code == 403

    assert [event for event, _, _ in events].count("quota_error") == 1


def test_a_warning_crossing_becomes_a_namespace_notification_delivery(repository):
    from repositories.models import NamespaceNotification, NotificationDelivery

    NamespaceNotification.objects.create(namespace=repository.namespace, event="quota_warning", method="email", config={"email": "ops@example.test"})

    assert push_image(Client(), repository, "v1", [os.urandom(55_000)]).status_code == 201

    delivery = NotificationDelivery.objects.get(event="quota_warning")
    assert delivery.payload["namespace"] == "acme"
    assert delivery.payload["threshold_percent"] == 50
