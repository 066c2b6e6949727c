"""The docker CLI without a daemon: ``docker manifest inspect/create/push --insecure``."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.e2e.helpers import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    build_image,
    get_manifest,
    push_image,
    push_index,
    requires,
    run,
)

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires("docker")]


@pytest.fixture
def docker(tmp_path):
    """The docker CLI with its own (empty) config folder; it keeps manifest lists there."""
    config = tmp_path / "docker-config"
    config.mkdir()

    def docker(*args: str) -> str:
        return run(["docker", *args], env={"DOCKER_CONFIG": str(config)}).stdout

    return docker


def test_manifest_inspect_shows_the_stored_index(live_registry, docker, repo):
    images = [build_image({"arch.txt": arch.encode()}, architecture=arch) for arch in ("amd64", "arm64")]
    _digest, raw = push_index(live_registry.url, repo, "multi", images)

    shown = json.loads(docker("manifest", "inspect", "--insecure", f"{live_registry.host}/{repo}:multi"))

    assert shown == json.loads(raw)
    assert shown["mediaType"] == OCI_INDEX


def test_verbose_manifest_inspect_of_an_image_shows_its_descriptor_and_raw_bytes(live_registry, docker, repo):
    image = build_image({"hello.txt": b"hello\n"})
    push_image(live_registry.url, repo, "v1", image)

    shown = json.loads(docker("manifest", "inspect", "--verbose", "--insecure", f"{live_registry.host}/{repo}:v1"))

    assert shown["Descriptor"]["digest"] == image.digest
    assert shown["Descriptor"]["mediaType"] == OCI_MANIFEST
    assert shown["Descriptor"]["size"] == len(image.manifest)
    assert base64.b64decode(shown["Raw"]) == image.manifest


@pytest.mark.parametrize(
    ("docker_children", "list_type", "child_type"),
    [(True, DOCKER_LIST, DOCKER_MANIFEST), (False, OCI_INDEX, OCI_MANIFEST)],
    ids=["docker-schema2", "oci"],
)
def test_manifest_create_and_push_stores_a_two_image_list(live_registry, docker, repo, docker_children, list_type, child_type):
    images = [build_image({"arch.txt": a.encode()}, architecture=a, docker=docker_children) for a in ("amd64", "arm64")]
    source = f"{repo}-src"
    for image in images:
        push_image(live_registry.url, source, image.architecture, image)
    target = f"{live_registry.host}/{repo}:list"

    docker("manifest", "create", "--insecure", target, *(f"{live_registry.host}/{source}:{i.architecture}" for i in images))
    output = docker("manifest", "push", "--insecure", target)

    pushed = re.findall(r"sha256:[0-9a-f]{64}", output)[-1]  # the last line names the list's digest
    response = get_manifest(live_registry.url, repo, "list")
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == pushed
    assert response.headers["Content-Type"] == list_type
    body = response.json()
    assert {m["platform"]["architecture"]: m["digest"] for m in body["manifests"]} == {i.architecture: i.digest for i in images}
    assert {m["mediaType"] for m in body["manifests"]} == {child_type}
    for image in images:  # the children were copied into the target repository too
        child = get_manifest(live_registry.url, repo, image.digest)
        assert child.content == image.manifest
