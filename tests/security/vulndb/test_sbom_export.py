"""SBOM export of a pushed, scanned manifest: the API endpoint, ``manage.py sbom`` and
``--attach`` (an OCI referrer the /v2 referrers API lists)."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Role
from repositories.models import Manifest, ManifestScan
from repositories.scanning.sbom import package_purl
from repositories.services.repositories import permission_set
from storagebackends.registry import reset_cache
from tests.api.tags.helpers import push_image, push_index
from tests.factories import NamespaceFactory, RepositoryFactory, UserFactory
from tests.security.vulndb.test_sbom import cyclonedx_validator, spdx_validator

PASSWORD = "correct-horse-battery"  # UserFactory's

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(settings, tmp_path: Path):
    settings.MOORAGE_STORAGE_LOCATIONS = {"local": {"driver": "filesystem", "options": {"location": str(tmp_path / "storage")}}}
    settings.MOORAGE_STORAGE_PREFERENCE = ["local"]
    reset_cache()
    yield
    reset_cache()


@pytest.fixture
def packages(dpkg_packages, python_packages):
    return [*dpkg_packages.values(), *python_packages.values()]


@pytest.fixture
def image(packages):
    """A pushed image whose scan found this machine's packages."""
    repository = RepositoryFactory(namespace=NamespaceFactory(name=f"acme{uuid.uuid4().hex[:6]}"), name="app", visibility="public")
    manifest = push_image(repository, "v1")
    now = timezone.now()
    ManifestScan.objects.create(manifest=manifest, status=ManifestScan.Status.SCANNED, packages=[asdict(p) for p in packages],
                                package_count=len(packages), pushed_at=now, queued_at=now, scanned_at=now)
    return repository, manifest


def sbom_url(repository, digest, fmt=None):
    return f"/api/v1/repository/{repository.full_name}/manifest/{digest}/sbom" + (f"?format={fmt}" if fmt else "")


def test_api_returns_a_valid_spdx_document_with_every_package(image, packages):
    repository, manifest = image
    response = APIClient().get(sbom_url(repository, manifest.digest))
    assert response.status_code == 200, response.content
    doc = response.json()
    assert not list(spdx_validator().iter_errors(doc))
    assert doc["name"] == f"{repository.full_name}@{manifest.digest}"
    purls = {ref["referenceLocator"] for p in doc["packages"][1:] for ref in p["externalRefs"]}
    assert purls == {package_purl(p) for p in packages}
    assert doc["packages"][0]["builtDate"] == "2026-11-07T20:26:40Z"  # the image config's created


def test_api_returns_a_valid_cyclonedx_document(image, packages):
    repository, manifest = image
    doc = APIClient().get(sbom_url(repository, manifest.digest, "cyclonedx")).json()
    assert not list(cyclonedx_validator().iter_errors(doc))
    assert sorted(c["purl"] for c in doc["components"]) == sorted(package_purl(p) for p in packages)


def test_api_refuses_what_it_cannot_answer(image):
    repository, manifest = image
    client = APIClient()
    assert client.get(sbom_url(repository, manifest.digest, "swid")).status_code == 400
    unscanned = push_image(repository, "v2")
    response = client.get(sbom_url(repository, unscanned.digest))
    assert response.status_code == 404 and "not been scanned" in response.json()["detail"]
    index = push_index(repository, "multi", [manifest])
    assert "platform manifests" in client.get(sbom_url(repository, index.digest)).json()["detail"]
    assert client.get(sbom_url(repository, "sha256:" + "0" * 64)).status_code == 404


def test_api_hides_private_repositories(image):
    repository, manifest = image
    repository.visibility = "private"
    repository.save(update_fields=["visibility"])
    assert APIClient().get(sbom_url(repository, manifest.digest)).status_code in (401, 404)
    reader, outsider = UserFactory(username=f"r{uuid.uuid4().hex[:8]}"), UserFactory(username=f"o{uuid.uuid4().hex[:8]}")
    permission_set(repository=repository, role=Role.READ, user=reader)
    client = APIClient()
    assert client.login(username=outsider.username, password=PASSWORD)
    assert client.get(sbom_url(repository, manifest.digest)).status_code == 404
    client = APIClient()
    assert client.login(username=reader.username, password=PASSWORD)
    assert client.get(sbom_url(repository, manifest.digest)).status_code == 200


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("sbom", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_prints_and_writes_documents(image, packages, tmp_path):
    repository, manifest = image
    out, _ = run(f"{repository.full_name}@{manifest.digest}")
    assert not list(spdx_validator().iter_errors(json.loads(out)))
    target = tmp_path / "bom.json"
    out, err = run(f"{repository.full_name}@{manifest.digest}", "--format", "cyclonedx", "--output", str(target))
    assert out == "" and f"({len(packages)} packages) to {target}" in err
    assert not list(cyclonedx_validator().iter_errors(json.loads(target.read_text())))


@pytest.mark.parametrize("ref,message", [
    ("nope/nothing@sha256:" + "0" * 64, "repository nope/nothing not found"),
    ("{repo}@sha256:" + "0" * 64, "not found in"),
    ("{repo}:latest", "expected NAMESPACE/REPO@DIGEST"),
    ("{repo}@{unscanned}", "not been scanned"),
])
def test_command_fails_with_exit_status_1(image, ref, message):
    repository, _ = image
    unscanned = push_image(repository, "v2")
    with pytest.raises(CommandError, match=message) as info:
        run(ref.format(repo=repository.full_name, unscanned=unscanned.digest))
    assert info.value.returncode == 1


def test_attach_pushes_the_spdx_document_as_a_referrer(image):
    repository, manifest = image
    out, err = run(f"{repository.full_name}@{manifest.digest}", "--attach")
    referrer = Manifest.objects.get(repository=repository, subject_digest=manifest.digest)
    assert referrer.artifact_type == "application/spdx+json"
    assert f"Attached as referrer {referrer.digest}" in err
    body = json.loads(bytes(referrer.content))
    assert body["subject"]["digest"] == manifest.digest and body["layers"][0]["mediaType"] == "application/spdx+json"
    # the /v2 referrers API lists it, filtered by the SPDX artifact type
    response = Client().get(f"/v2/{repository.full_name}/referrers/{manifest.digest}?artifactType=application/spdx%2Bjson")
    if response.status_code == 401:  # anonymous pulls need an anonymous token
        token = Client().get("/v2/auth", {"service": "moorage", "scope": f"repository:{repository.full_name}:pull"}).json()["token"]
        response = Client().get(f"/v2/{repository.full_name}/referrers/{manifest.digest}?artifactType=application/spdx%2Bjson",
                                HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert [m["digest"] for m in response.json()["manifests"]] == [referrer.digest]
    assert json.loads(out)["spdxVersion"] == "SPDX-2.3"


def test_attach_needs_the_spdx_format(image):
    repository, manifest = image
    with pytest.raises(CommandError, match="--format spdx"):
        run(f"{repository.full_name}@{manifest.digest}", "--attach", "--format", "cyclonedx")
