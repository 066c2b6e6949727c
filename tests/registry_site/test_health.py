"""/health/instance and /health/endtoend: 200 when every service works, 503 naming the one that does not."""

from __future__ import annotations

import pytest

from storagebackends.registry import reset_cache

pytestmark = pytest.mark.django_db


@pytest.fixture
def storage_at(settings):
    """Point the one storage location somewhere else for this test."""

    def point(location) -> None:
        settings.MOORAGE_STORAGE_LOCATIONS = {"default": {"driver": "filesystem", "options": {"location": str(location)}}}
        settings.MOORAGE_STORAGE_PREFERENCE = ["default"]
        reset_cache()

    yield point
    reset_cache()


@pytest.fixture
def path_under_a_file(tmp_path):
    """A folder path whose parent is a regular file: unusable even for root."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    return blocker / "blobs"


def _services(response):
    body = response.json()
    assert body["status_code"] == response.status_code
    return body["data"]["services"]


def test_instance_is_healthy_with_working_storage(client, storage_at, tmp_path):
    storage_at(tmp_path / "blobs")
    response = client.get("/health/instance")
    assert response.status_code == 200
    assert _services(response) == {"database": True, "storage": True}


def test_endtoend_is_healthy_with_working_storage_and_broker(client, storage_at, tmp_path):
    storage_at(tmp_path / "blobs")
    response = client.get("/health/endtoend")
    assert response.status_code == 200
    assert _services(response) == {"database": True, "storage": True, "broker": True}
    assert list((tmp_path / "blobs").rglob("*")) in ([], [tmp_path / "blobs" / "health"])  # the probe cleaned up


def test_instance_reports_503_when_storage_cannot_be_reached(client, storage_at, path_under_a_file):
    storage_at(path_under_a_file)
    response = client.get("/health/instance")
    assert response.status_code == 503
    assert _services(response) == {"database": True, "storage": False}


def test_endtoend_reports_503_when_storage_cannot_be_written(client, storage_at, path_under_a_file):
    storage_at(path_under_a_file)
    response = client.get("/health/endtoend")
    assert response.status_code == 503
    assert _services(response) == {"database": True, "storage": False, "broker": True}


def test_storage_that_reads_but_refuses_writes_fails_only_the_endtoend_check(client, storage_at):
    storage_at("/proc/moorage-health-test")  # stat answers "absent"; nothing can be created there
    assert client.get("/health/instance").status_code == 200
    response = client.get("/health/endtoend")
    assert response.status_code == 503
    assert _services(response)["storage"] is False
