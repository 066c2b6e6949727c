"""The security API: Quay's report shape, the per-tag summary, and read access through the
repository authority (a private repository's report is hidden from outsiders)."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from organizations.models import Role
from repositories.models import ManifestFinding
from repositories.services.repositories import permission_set
from repositories.services.scans import manifest_scan_queue, manifest_scan_run
from tests.factories import NamespaceFactory, RepositoryFactory, UserFactory
from tests.security.indexer.conftest import DEBIAN_LAYER, push, push_index
from tests.security.indexer.helpers import layer

PYTHON_LAYER = layer({"usr/lib/python3/site-packages/urllib3-1.26.5.dist-info/METADATA": b"Name: urllib3\nVersion: 1.26.5\n"})


@pytest.fixture
def world(db):
    repository = RepositoryFactory(namespace=NamespaceFactory(name=f"sec{uuid.uuid4().hex[:6]}"), name="app")
    reader, outsider = UserFactory(username=f"reader-{uuid.uuid4().hex[:6]}"), UserFactory(username=f"out-{uuid.uuid4().hex[:6]}")
    permission_set(repository=repository, role=Role.READ, user=reader)
    return repository, reader, outsider


def client_for(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    return client


def url(repository, digest: str) -> str:  # noqa: ANN001
    return f"/api/v1/repository/{repository.full_name}/manifest/{digest}/security"


def test_a_queued_manifest_reports_queued_with_no_data(world):
    repository, reader, _ = world
    pushed = push(repository, "v1", [PYTHON_LAYER])
    manifest_scan_queue(manifest_id=pushed.manifest.id)
    response = client_for(reader).get(url(repository, pushed.manifest.digest), {"vulnerabilities": "true"})
    assert response.status_code == 200
    assert response.json() == {"status": "queued", "data": None, "reason": None}


def test_the_report_has_quays_shape_with_and_without_vulnerabilities(world):
    repository, reader, _ = world
    pushed = push(repository, "v1", [DEBIAN_LAYER, PYTHON_LAYER])
    manifest_scan_queue(manifest_id=pushed.manifest.id)
    manifest_scan_run(manifest_id=pushed.manifest.id)
    from django.utils import timezone

    ManifestFinding.objects.create(
        manifest=pushed.manifest, vulnerability_id="GHSA-q2q7-5pp4-w6pg", package={"name": "urllib3", "version": "1.26.5", "ecosystem": "PyPI", "path": "/usr/lib/python3/site-packages/urllib3-1.26.5.dist-info/METADATA"},
        package_name="urllib3", package_version="1.26.5", ecosystem="PyPI", severity="Medium", severity_index=3,
        summary="urllib3 leaks headers", fixed_version="1.26.17", aliases=["CVE-2023-43804"], links=["https://github.com/advisories/GHSA-q2q7-5pp4-w6pg"],
        first_seen=timezone.now(),
    )
    client = client_for(reader)
    body = client.get(url(repository, pushed.manifest.digest), {"vulnerabilities": "true"}).json()
    assert body["status"] == "scanned"
    layer_info = body["data"]["Layer"]
    assert layer_info["Name"] == pushed.manifest.digest and layer_info["NamespaceName"] == "Debian:12"
    feature = next(f for f in layer_info["Features"] if f["Name"] == "urllib3")
    assert feature["Version"] == "1.26.5" and feature["VersionFormat"] == "pypi" and feature["BaseScores"] == []
    assert feature["CVEIds"] == ["CVE-2023-43804"]
    [vulnerability] = feature["Vulnerabilities"]
    assert vulnerability["Name"] == "GHSA-q2q7-5pp4-w6pg" and vulnerability["Severity"] == "Medium" and vulnerability["FixedBy"] == "1.26.17"
    assert vulnerability["Link"] == "https://github.com/advisories/GHSA-q2q7-5pp4-w6pg"
    bash = next(f for f in layer_info["Features"] if f["Name"] == "bash")
    assert bash["VersionFormat"] == "dpkg" and bash["Vulnerabilities"] == []

    plain = client.get(url(repository, pushed.manifest.digest)).json()
    assert all("Vulnerabilities" not in f for f in plain["data"]["Layer"]["Features"])

    summary = client.get(f"/api/v1/repository/{repository.full_name}/securitysummary").json()
    assert summary["tags"] == [{
        "name": "v1", "manifest_digest": pushed.manifest.digest, "status": "scanned",
        "counts": {"Critical": 0, "High": 0, "Medium": 1, "Low": 0, "Negligible": 0, "Unknown": 0}, "total": 1, "fixable": 1,
    }]


def test_an_index_summary_adds_up_its_platforms(world):
    repository, reader, _ = world
    children = [push(repository, None, [PYTHON_LAYER]), push(repository, None, [DEBIAN_LAYER])]
    index = push_index(repository, "multi", children)
    manifest_scan_queue(manifest_id=index.id)
    manifest_scan_run(manifest_id=index.id)
    summary = client_for(reader).get(f"/api/v1/repository/{repository.full_name}/securitysummary").json()
    assert [(t["name"], t["status"]) for t in summary["tags"]] == [("multi", "scanned")]
    body = client_for(reader).get(url(repository, index.digest)).json()
    assert body["status"] == "scanned" and len(body["platforms"]) == 2


def test_outsiders_and_anonymous_callers_cannot_read_a_private_report(world):
    repository, _, outsider = world
    pushed = push(repository, "v1", [PYTHON_LAYER])
    assert client_for(outsider).get(url(repository, pushed.manifest.digest)).status_code == 404
    assert APIClient().get(url(repository, pushed.manifest.digest)).status_code in (401, 404)
    assert APIClient().get(f"/api/v1/repository/{repository.full_name}/securitysummary").status_code in (401, 404)


def test_an_unknown_manifest_is_404(world):
    repository, reader, _ = world
    assert client_for(reader).get(url(repository, "sha256:" + "0" * 64)).status_code == 404
