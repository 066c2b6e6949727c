"""Fixtures for the client tests: private client state in temp folders removed after the session."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.e2e.helpers import ContainerTool, buildah_tool, containers_config, podman_tool, repository_name


def _require(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} not installed (apt-get install {binary}; .ci/run installs it)")


@pytest.fixture(scope="session")
def containers_env(tmp_path_factory: pytest.TempPathFactory, live_registry) -> dict[str, str]:
    """registries.conf (the live registry is insecure) and an empty credentials file."""
    directory = tmp_path_factory.mktemp("containers-config")
    yield containers_config(directory, live_registry.host)
    shutil.rmtree(directory, ignore_errors=True)


def _short_temp_dir(tool: str) -> Path:
    # Not under pytest's basetemp: podman refuses a runroot path longer than 50 characters.
    return Path(tempfile.mkdtemp(prefix=f"moorage-{tool}-"))


@pytest.fixture(scope="session")
def skopeo(containers_env: dict[str, str]) -> ContainerTool:
    _require("skopeo")
    return ContainerTool(["skopeo"], containers_env)


@pytest.fixture(scope="session")
def podman(containers_env: dict[str, str]):
    _require("podman")
    root = _short_temp_dir("podman")
    yield podman_tool(root, containers_env)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def buildah(containers_env: dict[str, str]):
    _require("buildah")
    root = _short_temp_dir("buildah")
    yield buildah_tool(root, containers_env)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name of this test's own (the live server is shared by the whole session)."""
    return repository_name(f"{request.module.__name__.rpartition('.')[2]}-{request.node.name}")
