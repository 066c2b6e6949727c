"""One authenticated live server with a Celery worker for the build tests, a user with an app
token, and a tiny runnable base image (busybox) seeded into the registry with umoci + skopeo."""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import run
from tests.e2e_identity.support import django_shell
from tests.live import LiveRegistry

BUSYBOX = Path("/bin/busybox")
BUILD_WAIT_S = 240


def requires_build_tools():
    missing = [tool for tool in ("buildah", "skopeo", "umoci", "git") if shutil.which(tool) is None]
    if not BUSYBOX.exists():
        missing.append("busybox-static")
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed (.ci/run installs them)")


@dataclass(frozen=True)
class BuildEnv:
    registry: LiveRegistry
    username: str
    password: str
    token: str  # app token for the REST API
    org: str
    base: str  # "<org>/base:v1", a busybox image in the registry

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.registry.url}/api/v1/{path.lstrip('/')}", headers=headers, timeout=60, **kwargs)

    def create_repo(self, name: str) -> str:
        """``<org>/<name>`` created through the API (builds need an existing repository)."""
        response = self.api("POST", "repository", json={"namespace": self.org, "repository": name, "visibility": "private"})
        assert response.status_code in (201, 400), response.text  # 400: exists already
        return f"{self.org}/{name}"

    def upload_context(self, archive: bytes) -> str:
        drop = self.api("POST", "filedrop/", json={"mimeType": "application/x-tar"})
        assert drop.status_code == 200, drop.text
        put = requests.put(drop.json()["url"], data=archive, timeout=60)
        assert put.status_code == 200, put.text
        return drop.json()["file_id"]

    def wait(self, repo: str, build_id: str, phases: tuple[str, ...] = ("complete", "error", "cancelled")) -> dict:
        deadline = time.monotonic() + BUILD_WAIT_S
        while time.monotonic() < deadline:
            body = self.api("GET", f"repository/{repo}/build/{build_id}/status").json()
            if body["phase"] in phases:
                return body
            time.sleep(0.5)
        logs = self.api("GET", f"repository/{repo}/build/{build_id}/logs").json()
        raise AssertionError(f"build {build_id} still {body['phase']} after {BUILD_WAIT_S} s; logs: {logs}")

    def logs(self, repo: str, build_id: str, start: int = 0) -> dict:
        response = self.api("GET", f"repository/{repo}/build/{build_id}/logs", params={"start": start})
        assert response.status_code == 200, response.text
        return response.json()

    def skopeo_creds(self) -> str:
        return f"{self.username}:{self.password}"


def make_tar(files: dict[str, bytes | str], *, gz: bool = True) -> bytes:
    """A context archive; a value starting with ``symlink:`` makes a symbolic link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str) and content.startswith("symlink:"):
                info.type, info.linkname = tarfile.SYMTYPE, content[len("symlink:"):]
                archive.addfile(info)
                continue
            data = content.encode() if isinstance(content, str) else content
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_SETUP = """
import json
from accounts.services import app_token_create, user_create
from organizations.services import organization_create
user = user_create(username="builder", password="builder-password-1")
org = organization_create(name="buildorg", creator=user)
app = app_token_create(user=user, title="build tests")
print(EMIT + json.dumps({"user": user.username, "token": app.token, "org": org.namespace.name}))
"""


@pytest.fixture(scope="session")
def build_env(tmp_path_factory: pytest.TempPathFactory) -> BuildEnv:
    registry = LiveRegistry.create(
        extra_env={
            "MOORAGE_REGISTRY_OPEN": "false",
            # the git server of the trigger test listens on loopback
            "MOORAGE_OUTBOUND_ALLOWED_HOSTS": '["127.0.0.1"]',
            "MOORAGE_BUILDS_TIMEOUT_S": "180",
            "MOORAGE_BUILDS_MAX_CONTEXT_BYTES": "1048576",
        }
    )
    try:
        registry.env["MOORAGE_BUILDS_REGISTRY_URL"] = registry.url
        registry.start()
        registry.start_worker(concurrency=2)
        made = django_shell(registry, _SETUP)
        env = BuildEnv(registry, made["user"], "builder-password-1", made["token"], made["org"], f"{made['org']}/base:v1")
        _seed_base(env, tmp_path_factory.mktemp("base-image"))
        yield env
    finally:
        registry.stop_workers()
        registry.destroy()


def _seed_base(env: BuildEnv, workdir: Path) -> None:
    """busybox (static) as /bin/busybox with sh and sleep links, made by umoci, pushed by skopeo."""
    layout = workdir / "layout"
    image = f"{layout}:v1"
    run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", image])
    bundle = workdir / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", image, bundle])
    bin_dir = bundle / "rootfs" / "bin"
    bin_dir.mkdir(parents=True)
    shutil.copy2(BUSYBOX, bin_dir / "busybox")
    for applet in ("sh", "sleep", "echo", "cat", "false", "true"):
        (bin_dir / applet).symlink_to("busybox")
    (bundle / "rootfs" / "base.txt").write_text("from the base image\n")
    run(["umoci", "repack", "--image", image, bundle])
    run(["umoci", "config", "--image", image, "--architecture", "amd64", "--os", "linux", "--config.env", "PATH=/bin",
         "--config.label", "org.example.base=yes"])  # fmt: skip
    temp = Path(tempfile.mkdtemp(prefix="skopeo-"))
    try:
        run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", env.skopeo_creds(), f"oci:{image}",
             f"docker://{env.registry.host}/{env.base}"], env={"TMPDIR": str(temp)})  # fmt: skip
    finally:
        shutil.rmtree(temp, ignore_errors=True)
