"""skopeo against the live registry, with images made offline by umoci."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    ContainerTool,
    LayoutImage,
    build_image,
    get_blob,
    get_manifest,
    layout_add_index,
    layout_blob,
    layout_image,
    push_blob,
    push_image,
    put_manifest,
    repository_name,
    requires,
    sha256_digest,
    tar_files,
    umoci_image,
)

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires("skopeo", "umoci")]

RANDOM_BYTES = os.urandom(2 * 1024 * 1024)
AMD64_FILES = {
    "hello.txt": b"hello from umoci\n",
    "data/random.bin": RANDOM_BYTES,
    "etc/e2e.conf": b"key = value\n",
}
ARM64_FILES = {"hello.txt": b"hello from arm64\n"}


def push(skopeo: ContainerTool, source: str, destination: str, *flags: str) -> None:
    skopeo("copy", "--quiet", *flags, "--dest-tls-verify=false", source, destination)


def inspect(skopeo: ContainerTool, reference: str, *flags: str) -> dict:
    return json.loads(skopeo("inspect", "--tls-verify=false", *flags, reference).stdout)


def list_tags(skopeo: ContainerTool, reference: str) -> list[str]:
    return json.loads(skopeo("list-tags", "--tls-verify=false", reference).stdout)["Tags"]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout: ``v1`` (amd64, ~2 MB random data), ``arm64``, and the index ``multi`` over both."""
    workdir = tmp_path_factory.mktemp("umoci")
    layout = workdir / "layout"
    umoci_image(layout, "v1", AMD64_FILES, workdir=workdir, env="FOO=bar")
    umoci_image(layout, "arm64", ARM64_FILES, workdir=workdir, architecture="arm64")
    layout_add_index(layout, "multi", [("v1", "amd64"), ("arm64", "arm64")])
    return layout


@pytest.fixture(scope="module")
def pushed(live_registry, skopeo, layout: Path) -> tuple[str, LayoutImage]:
    """``v1`` pushed once; the tests below read it back in different ways."""
    name = repository_name("skopeo-umoci")
    push(skopeo, f"oci:{layout}:v1", f"docker://{live_registry.host}/{name}:v1")
    return name, layout_image(layout, "v1")


@pytest.fixture(scope="module")
def pushed_index(live_registry, skopeo, layout: Path) -> tuple[str, LayoutImage]:
    name = repository_name("skopeo-multi")
    push(skopeo, f"oci:{layout}:multi", f"docker://{live_registry.host}/{name}:v1", "--all")
    return name, layout_image(layout, "multi")


def test_pushed_manifest_and_blobs_are_byte_identical_to_the_layout(live_registry, layout, pushed):
    name, image = pushed
    response = get_manifest(live_registry.url, name, "v1")
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == image.digest
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert response.content == image.raw
    for digest in [image.config_digest, *image.layer_digests]:
        assert get_blob(live_registry.url, name, digest) == layout_blob(layout, digest)


def test_inspect_reports_the_pushed_digest_layers_and_config(live_registry, skopeo, pushed):
    name, image = pushed
    info = inspect(skopeo, f"docker://{live_registry.host}/{name}:v1")
    assert info["Digest"] == image.digest
    assert info["Layers"] == image.layer_digests
    assert info["RepoTags"] == ["v1"]
    assert (info["Architecture"], info["Os"]) == ("amd64", "linux")
    assert info["Env"] == ["FOO=bar"]


def test_inspect_raw_prints_the_stored_manifest_bytes(live_registry, skopeo, pushed):
    name, image = pushed
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{live_registry.host}/{name}:v1").stdout
    assert sha256_digest(raw.encode()) == image.digest


def test_inspect_config_prints_the_image_config(live_registry, skopeo, layout, pushed):
    name, image = pushed
    config = inspect(skopeo, f"docker://{live_registry.host}/{name}:v1", "--config")
    assert config == json.loads(layout_blob(layout, image.config_digest))
    assert config["author"] == "moorage-e2e"
    assert config["config"]["Cmd"] == ["/hello.txt"]


def test_list_tags_lists_every_pushed_tag(live_registry, skopeo, layout, repo):
    for tag in ("v2", "v1", "latest"):
        push(skopeo, f"oci:{layout}:v1", f"docker://{live_registry.host}/{repo}:{tag}")
    assert sorted(list_tags(skopeo, f"docker://{live_registry.host}/{repo}")) == ["latest", "v1", "v2"]


def test_pull_to_an_oci_layout_gives_the_same_layers_and_files(live_registry, skopeo, pushed, tmp_path):
    name, image = pushed
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{live_registry.host}/{name}:v1", f"oci:{tmp_path / 'pulled'}:v1")
    pulled = layout_image(tmp_path / "pulled", "v1")
    assert pulled.digest == image.digest
    assert pulled.layer_digests == image.layer_digests
    for digest in pulled.layer_digests:
        assert sha256_digest(layout_blob(tmp_path / "pulled", digest)) == digest
    files = tar_files(layout_blob(tmp_path / "pulled", pulled.layer_digests[0]))
    assert files["data/random.bin"] == RANDOM_BYTES
    assert files["hello.txt"] == AMD64_FILES["hello.txt"]


def test_copy_all_pushes_the_index_unchanged_with_both_platforms(live_registry, layout, pushed_index):
    name, index = pushed_index
    response = get_manifest(live_registry.url, name, "v1", accept=OCI_INDEX)
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == index.digest
    assert response.headers["Content-Type"] == OCI_INDEX
    assert response.content == index.raw
    for child in index.body["manifests"]:
        child_response = get_manifest(live_registry.url, name, child["digest"])
        assert child_response.status_code == 200
        assert child_response.content == layout_blob(layout, child["digest"])


def test_registry_to_registry_copy_all_preserves_the_index_digest(live_registry, skopeo, pushed_index, repo):
    name, index = pushed_index
    skopeo(
        "copy", "--quiet", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
        f"docker://{live_registry.host}/{name}:v1", f"docker://{live_registry.host}/{repo}:copy",
    )  # fmt: skip
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{live_registry.host}/{repo}:copy").stdout
    assert sha256_digest(raw.encode()) == index.digest
    for child in index.body["manifests"]:
        manifest = get_manifest(live_registry.url, repo, child["digest"])
        assert manifest.status_code == 200
        for layer in manifest.json()["layers"]:
            get_blob(live_registry.url, repo, layer["digest"])


def test_override_arch_inspects_the_arm64_image_of_the_index(live_registry, skopeo, layout, pushed_index):
    name, _index = pushed_index
    reference = f"docker://{live_registry.host}/{name}:v1"
    arm64 = inspect(skopeo, reference, "--override-arch", "arm64")
    default = inspect(skopeo, reference)
    assert arm64["Architecture"] == "arm64"
    assert arm64["Layers"] == layout_image(layout, "arm64").layer_digests
    assert default["Architecture"] == "amd64"
    assert default["Layers"] == layout_image(layout, "v1").layer_digests


def test_delete_removes_the_manifest_and_every_tag_on_it(live_registry, skopeo, layout, repo):
    image = layout_image(layout, "v1")
    for tag in ("v1", "v2"):
        push(skopeo, f"oci:{layout}:v1", f"docker://{live_registry.host}/{repo}:{tag}")

    skopeo("delete", "--tls-verify=false", f"docker://{live_registry.host}/{repo}:v2")

    failed = skopeo("inspect", "--tls-verify=false", f"docker://{live_registry.host}/{repo}:v1", check=False)
    assert failed.returncode != 0
    assert "manifest unknown" in failed.stderr
    by_digest = requests.head(f"{live_registry.url}/v2/{repo}/manifests/{image.digest}", headers={"Accept": OCI_MANIFEST}, timeout=10)
    assert by_digest.status_code == 404
    assert list_tags(skopeo, f"docker://{live_registry.host}/{repo}") == []


def test_copied_artifact_is_byte_identical_and_still_refers_to_its_subject(live_registry, skopeo, repo):
    source = f"{repo}-src"
    subject = build_image({"hello.txt": b"subject\n"})
    subject_digest = push_image(live_registry.url, source, "v1", subject)
    note = b"signed off\n"
    push_blob(live_registry.url, source, note)
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.note.v1",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": sha256_digest(b"{}"),
            "size": 2,
            "data": base64.b64encode(b"{}").decode(),
        },
        "layers": [{"mediaType": "text/plain", "digest": sha256_digest(note), "size": len(note)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject.manifest)},
    }
    raw = json.dumps(artifact).encode()
    put_manifest(live_registry.url, source, "note", raw, OCI_MANIFEST)

    for tag in ("v1", "note"):
        skopeo(
            "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
            f"docker://{live_registry.host}/{source}:{tag}", f"docker://{live_registry.host}/{repo}:{tag}",
        )  # fmt: skip

    assert get_manifest(live_registry.url, repo, "note").content == raw
    assert get_blob(live_registry.url, repo, sha256_digest(note)) == note
    referrers = requests.get(f"{live_registry.url}/v2/{repo}/referrers/{subject_digest}", timeout=10).json()
    assert referrers["manifests"] == [
        {"mediaType": OCI_MANIFEST, "digest": sha256_digest(raw), "size": len(raw), "artifactType": "application/vnd.example.note.v1"}
    ]
