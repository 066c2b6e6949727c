"""podman against the live registry: build, push, pull, and pick a platform from an index."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import OCI_MANIFEST, build_image, get_blob, get_manifest, push_index, requires, tar_files

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires("podman")]

CONTAINERFILE = """\
FROM scratch
ADD hello.txt /hello.txt
LABEL org.example.e2e=podman
CMD ["/hello.txt"]
"""


def test_built_image_pushes_and_pulls_back_with_the_same_digest(live_registry, podman, repo, tmp_path):
    (tmp_path / "Containerfile").write_text(CONTAINERFILE)
    (tmp_path / "hello.txt").write_bytes(b"hello from podman\n")
    image = f"{live_registry.host}/{repo}:v1"
    podman("build", "--quiet", "--format", "oci", "--tag", image, tmp_path)
    podman("push", "--quiet", "--tls-verify=false", "--digestfile", tmp_path / "digest", image)
    digest = (tmp_path / "digest").read_text().strip()

    response = get_manifest(live_registry.url, repo, "v1")
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Content-Type"] == OCI_MANIFEST
    (layer,) = response.json()["layers"]
    assert tar_files(get_blob(live_registry.url, repo, layer["digest"]))["hello.txt"] == b"hello from podman\n"

    podman("rmi", image)
    # No --tls-verify here: the registries.conf entry marks the registry insecure.
    podman("pull", "--quiet", image)
    (info,) = json.loads(podman("image", "inspect", image).stdout)
    assert info["Digest"] == digest
    assert info["Labels"]["org.example.e2e"] == "podman"
    assert f"{live_registry.host}/{repo}@{digest}" in info["RepoDigests"]


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-manifest-list"])
def test_pull_arch_arm64_takes_the_arm64_image_of_an_index(live_registry, podman, repo, docker):
    # Distinct content per test: podman keys local images by config digest, and a shared one
    # would keep the first pull's digest.
    amd64 = build_image({"arch.txt": f"amd64 {repo}".encode()}, architecture="amd64", docker=docker)
    arm64 = build_image({"arch.txt": f"arm64 {repo}".encode()}, architecture="arm64", docker=docker)
    index_digest, _raw = push_index(live_registry.url, repo, "multi", [amd64, arm64], docker=docker)
    image = f"{live_registry.host}/{repo}:multi"

    podman("pull", "--quiet", "--tls-verify=false", "--arch", "arm64", image)

    (info,) = json.loads(podman("image", "inspect", image).stdout)
    assert info["Architecture"] == "arm64"
    assert info["Labels"]["org.example.e2e"] == "arm64"
    assert info["Digest"] == index_digest
    assert f"{live_registry.host}/{repo}@{arm64.digest}" in info["RepoDigests"]
    assert f"{live_registry.host}/{repo}@{amd64.digest}" not in info["RepoDigests"]


def test_remote_manifest_inspect_lists_both_platforms(live_registry, podman, repo):
    images = [build_image({"arch.txt": arch.encode()}, architecture=arch) for arch in ("amd64", "arm64")]
    push_index(live_registry.url, repo, "multi", images)

    # podman 4.3 has no --tls-verify for this command: registries.conf route only. It prints the
    # list in its own normalised form, so compare the entries, not the bytes.
    listed = json.loads(podman("manifest", "inspect", f"{live_registry.host}/{repo}:multi").stdout)

    assert {m["platform"]["architecture"]: m["digest"] for m in listed["manifests"]} == {i.architecture: i.digest for i in images}
