"""One AUTHENTICATED live server for the folder (``registry.open`` false), the identities the tests
log in as, and private client state: every test has its own auth file, so nothing is read from or
written to the machine's credential stores."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.e2e_identity.support import MACHINE_AUTH_FILES, Identities, Tool, buildah_tool, identities_create, podman_tool, write_registries_conf
from tests.live import LiveRegistry


@pytest.fixture(scope="session")
def auth_registry():
    """The folder's server: authenticated, unlike the open ``live_registry`` of the other suites."""
    registry = LiveRegistry.create(extra_env={"MOORAGE_REGISTRY_OPEN": "false"}).start()
    yield registry
    registry.destroy()


@pytest.fixture(scope="session")
def identities(auth_registry: LiveRegistry) -> Identities:
    return identities_create(auth_registry)


@pytest.fixture(scope="session")
def client_dir():
    """Storage roots of podman and buildah and the registries.conf; removed after the session.
    Short on purpose: podman refuses a runroot path longer than 50 characters."""
    directory = Path(tempfile.mkdtemp(prefix="e2eid-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def registries_conf(client_dir: Path, auth_registry: LiveRegistry) -> Path:
    return write_registries_conf(client_dir / "containers", auth_registry.host)


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    """This test's credential store: skopeo ``--authfile``, REGISTRY_AUTH_FILE for podman/buildah."""
    return tmp_path / "auth.json"


@pytest.fixture
def podman(client_dir: Path, registries_conf: Path, auth_file: Path) -> Tool:
    if shutil.which("podman") is None:
        pytest.skip("podman not installed (apt-get install podman; .ci/run installs it)")
    return podman_tool(client_dir / "podman", registries_conf, auth_file)


@pytest.fixture
def buildah(client_dir: Path, registries_conf: Path, auth_file: Path) -> Tool:
    if shutil.which("buildah") is None:
        pytest.skip("buildah not installed (apt-get install buildah; .ci/run installs it)")
    return buildah_tool(client_dir / "buildah", registries_conf, auth_file)


@pytest.fixture(autouse=True)
def machine_credentials_untouched(request: pytest.FixtureRequest):
    """After each test, the machine's own credential stores must not mention this server."""
    yield
    if "auth_registry" not in request.fixturenames:
        return
    host = request.getfixturevalue("auth_registry").host
    for path in MACHINE_AUTH_FILES:
        if path.exists():
            assert host not in path.read_text(errors="replace"), f"credentials for {host} leaked into {path}"
