"""buildah against the live registry: build from scratch, push, pull, inspect, manifest lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ContainerTool,
    get_blob,
    get_manifest,
    repository_name,
    requires,
    tar_files,
)

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires("buildah")]

PAYLOAD = b"payload built by buildah\n"


def build(buildah: ContainerTool, workdir: Path, image: str, *, arch: str = "amd64", fmt: str = "oci") -> None:
    """``from scratch`` + ``add`` + ``config --label`` + ``commit`` into local storage as ``image``."""
    workdir.mkdir(parents=True, exist_ok=True)
    payload = workdir / "payload.txt"
    payload.write_bytes(PAYLOAD + arch.encode())
    container = buildah("from", "scratch").stdout.strip()
    try:
        buildah("add", container, payload, "/payload.txt")
        buildah("config", "--arch", arch, "--os", "linux", "--cmd", '["/payload.txt"]', "--label", f"org.example.e2e={arch}", container)
        buildah("commit", "--quiet", "--format", fmt, container, image)
    finally:
        buildah("rm", container)


def push(buildah: ContainerTool, workdir: Path, command: tuple[str, ...], *args: str) -> str:
    """Run a buildah push command with ``--digestfile``; the digest it reports."""
    digestfile = workdir / "digest"
    buildah(*command, "--tls-verify=false", "--digestfile", digestfile, *args)
    return digestfile.read_text().strip()


@pytest.fixture(scope="module")
def platform_images(live_registry, buildah: ContainerTool, tmp_path_factory) -> tuple[str, dict[str, str]]:
    """An amd64 and an arm64 image in the registry: (repository, {arch: manifest digest})."""
    workdir = tmp_path_factory.mktemp("buildah-platforms")
    name = repository_name("buildah-platforms")
    digests = {}
    for arch in ("amd64", "arm64"):
        build(buildah, workdir / arch, f"localhost/e2e/buildah-platform:{arch}", arch=arch)
        digests[arch] = push(
            buildah, workdir, ("push",), "--quiet", f"localhost/e2e/buildah-platform:{arch}", f"docker://{live_registry.host}/{name}:{arch}"
        )
    return name, digests


def make_list(buildah: ContainerTool, live_registry, list_name: str, name: str) -> None:
    buildah("manifest", "create", list_name)
    for arch in ("amd64", "arm64"):
        buildah("manifest", "add", "--tls-verify=false", "--arch", arch, list_name, f"docker://{live_registry.host}/{name}:{arch}")


def test_pushed_image_pulls_back_with_its_label_and_layer(live_registry, buildah, repo, tmp_path):
    build(buildah, tmp_path, "localhost/e2e/buildah-image:v1")
    digest = push(buildah, tmp_path, ("push",), "--quiet", "localhost/e2e/buildah-image:v1", f"docker://{live_registry.host}/{repo}:v1")

    response = get_manifest(live_registry.url, repo, "v1")
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Content-Type"] == OCI_MANIFEST
    (layer,) = response.json()["layers"]
    assert tar_files(get_blob(live_registry.url, repo, layer["digest"]))["payload.txt"] == PAYLOAD + b"amd64"

    buildah("rmi", "localhost/e2e/buildah-image:v1")
    buildah("pull", "--quiet", "--tls-verify=false", f"docker://{live_registry.host}/{repo}:v1")
    info = json.loads(buildah("inspect", "--type", "image", f"{live_registry.host}/{repo}:v1").stdout)
    assert info["FromImageDigest"] == digest
    assert info["OCIv1"]["config"]["Labels"]["org.example.e2e"] == "amd64"
    assert info["OCIv1"]["config"]["Cmd"] == ["/payload.txt"]


def test_manifest_list_pushed_with_format_oci_is_stored_as_an_oci_index(live_registry, buildah, platform_images, tmp_path):
    name, digests = platform_images
    make_list(buildah, live_registry, "localhost/e2e/buildah-list-oci", name)
    digest = push(
        buildah,
        tmp_path,
        ("manifest", "push"),
        "--all",
        "--format",
        "oci",
        "localhost/e2e/buildah-list-oci",
        f"docker://{live_registry.host}/{name}:list-oci",
    )

    response = get_manifest(live_registry.url, name, "list-oci", accept=f"{OCI_INDEX}, {DOCKER_LIST}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    assert response.headers["Docker-Content-Digest"] == digest
    body = response.json()
    assert body["mediaType"] == OCI_INDEX
    assert {m["platform"]["architecture"]: m["digest"] for m in body["manifests"]} == digests
    assert {m["mediaType"] for m in body["manifests"]} == {OCI_MANIFEST}


def test_manifest_list_pushed_as_v2s2_is_stored_as_a_docker_manifest_list(live_registry, buildah, platform_images, tmp_path):
    # buildah 1.28 pushes an OCI index when no --format is given (its local list prefers OCI);
    # --format v2s2 gives a Docker manifest list v2 and converts the children to Docker schema 2.
    name, _digests = platform_images
    make_list(buildah, live_registry, "localhost/e2e/buildah-list-v2s2", name)
    digest = push(
        buildah,
        tmp_path,
        ("manifest", "push"),
        "--all",
        "--format",
        "v2s2",
        "localhost/e2e/buildah-list-v2s2",
        f"docker://{live_registry.host}/{name}:list-v2s2",
    )

    response = get_manifest(live_registry.url, name, "list-v2s2", accept=f"{OCI_INDEX}, {DOCKER_LIST}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == DOCKER_LIST
    assert response.headers["Docker-Content-Digest"] == digest
    body = response.json()
    assert body["mediaType"] == DOCKER_LIST
    assert sorted(m["platform"]["architecture"] for m in body["manifests"]) == ["amd64", "arm64"]
    for child in body["manifests"]:
        assert child["mediaType"] == DOCKER_MANIFEST
        stored = get_manifest(live_registry.url, name, child["digest"], accept=DOCKER_MANIFEST)
        assert stored.headers["Content-Type"] == DOCKER_MANIFEST


def test_manifest_list_pushed_without_format_matches_what_the_registry_serves(live_registry, buildah, platform_images, tmp_path):
    name, _digests = platform_images
    make_list(buildah, live_registry, "localhost/e2e/buildah-list-default", name)
    digest = push(
        buildah,
        tmp_path,
        ("manifest", "push"),
        "--all",
        "localhost/e2e/buildah-list-default",
        f"docker://{live_registry.host}/{name}:list-default",
    )

    response = get_manifest(live_registry.url, name, "list-default", accept=f"{OCI_INDEX}, {DOCKER_LIST}")
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Content-Type"] == response.json()["mediaType"]
    assert response.headers["Content-Type"] in (OCI_INDEX, DOCKER_LIST)
    # Remote inspect without --tls-verify goes through the registries.conf insecure entry.
    remote = json.loads(buildah("manifest", "inspect", f"{live_registry.host}/{name}:list-default").stdout)
    assert remote == response.json()
