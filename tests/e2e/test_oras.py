"""oras-py (the library) against the live registry: artifacts, subject/referrers, tags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.helpers import OCI_INDEX, OCI_MANIFEST, get_manifest, sha256_digest

oras_client = pytest.importorskip("oras.client", reason="oras is not installed (pip install oras; requirements-dev.txt has it)")
oras_oci = pytest.importorskip("oras.oci")

pytestmark = [pytest.mark.e2e, pytest.mark.live]

SBOM_CONFIG_TYPE = "application/vnd.example.sbom.config.v1+json"


@pytest.fixture
def oras(live_registry):
    return oras_client.OrasClient(hostname=live_registry.host, insecure=True)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    # oras-py only pushes files below the working directory.
    monkeypatch.chdir(tmp_path)
    return tmp_path


def push_artifact(oras, workdir, target: str, name: str, content: bytes, media_type: str, **kwargs) -> str:
    (workdir / name).write_bytes(content)
    response = oras.push(files=[f"{name}:{media_type}"], target=target, **kwargs)
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"]


def test_pushed_file_artifact_pulls_back_byte_identical(live_registry, oras, workdir, repo):
    content = os.urandom(300_000)
    target = f"{live_registry.host}/{repo}:v1"
    digest = push_artifact(
        oras, workdir, target, "artifact.bin", content, "application/octet-stream", manifest_annotations={"org.example.note": "e2e"}
    )

    (pulled,) = oras.pull(target=target, outdir=str(workdir / "pulled"))

    assert Path(pulled).read_bytes() == content
    manifest = get_manifest(live_registry.url, repo, "v1", accept=OCI_MANIFEST)
    assert manifest.headers["Docker-Content-Digest"] == digest == sha256_digest(manifest.content)
    assert manifest.json()["annotations"] == {"org.example.note": "e2e"}
    assert manifest.json()["layers"][0]["digest"] == sha256_digest(content)


def test_chunked_push_stores_the_same_bytes(live_registry, oras, workdir, repo):
    content = os.urandom(200_000)
    target = f"{live_registry.host}/{repo}:v1"
    push_artifact(oras, workdir, target, "chunked.bin", content, "application/octet-stream", do_chunked=True, chunk_size=65_536)

    (pulled,) = oras.pull(target=target, outdir=str(workdir / "pulled"))

    assert Path(pulled).read_bytes() == content


def test_artifact_with_subject_is_listed_by_the_referrers_api(live_registry, oras, workdir, repo):
    subject_digest = push_artifact(oras, workdir, f"{live_registry.host}/{repo}:v1", "artifact.txt", b"the subject\n", "text/plain")
    # Subject.from_manifest re-serialises the manifest: build it from the stored bytes instead.
    raw = get_manifest(live_registry.url, repo, subject_digest, accept=OCI_MANIFEST).content
    subject = oras_oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest, size=len(raw))
    (workdir / "sbom-config.json").write_bytes(b"{}")
    sbom_digest = push_artifact(
        oras, workdir, f"{live_registry.host}/{repo}:sbom", "sbom.json", b'{"spdxVersion":"SPDX-2.3"}', "application/spdx+json",
        subject=subject, manifest_config=f"sbom-config.json:{SBOM_CONFIG_TYPE}",
    )  # fmt: skip

    assert oras.get_manifest(f"{live_registry.host}/{repo}:sbom")["subject"]["digest"] == subject_digest
    response = oras.do_request(f"{live_registry.url}/v2/{repo}/referrers/{subject_digest}", "GET")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    index = response.json()
    assert index["mediaType"] == OCI_INDEX
    (listed,) = index["manifests"]
    sbom_size = len(get_manifest(live_registry.url, repo, sbom_digest, accept=OCI_MANIFEST).content)
    assert listed == {"mediaType": OCI_MANIFEST, "digest": sbom_digest, "size": sbom_size, "artifactType": SBOM_CONFIG_TYPE}


def test_get_tags_lists_the_pushed_tags(live_registry, oras, workdir, repo):
    for tag in ("v1", "v2", "latest"):
        push_artifact(oras, workdir, f"{live_registry.host}/{repo}:{tag}", "a.txt", tag.encode(), "text/plain")

    assert sorted(oras.get_tags(f"{live_registry.host}/{repo}")) == ["latest", "v1", "v2"]


def test_delete_tag_removes_the_tag_and_its_manifest(live_registry, oras, workdir, repo):
    kept = push_artifact(oras, workdir, f"{live_registry.host}/{repo}:keep", "a.txt", b"keep", "text/plain")
    dropped = push_artifact(oras, workdir, f"{live_registry.host}/{repo}:drop", "a.txt", b"drop", "text/plain")

    assert oras.delete_tag(f"{live_registry.host}/{repo}", tag="drop") is True

    assert oras.get_tags(f"{live_registry.host}/{repo}") == ["keep"]
    assert get_manifest(live_registry.url, repo, dropped).status_code == 404
    assert get_manifest(live_registry.url, repo, kept).status_code == 200
