"""Helpers for the identity end-to-end tests: the identities, database changes through the
services (``manage.py shell`` on the server's own database), auth files, and token-authenticated
HTTP for checking what the server really stored."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import ALL_MANIFEST_TYPES, LayoutImage, umoci_image
from tests.live import LiveRegistry

ORG = "acme"
CLIENT_TIMEOUT = 120
_MARKER = "@@E2E-IDENTITY@@"

#: where clients keep credentials when nobody tells them otherwise (root, no XDG_RUNTIME_DIR)
MACHINE_AUTH_FILES = (
    Path("/run/containers/0/auth.json"),
    Path.home() / ".config/containers/auth.json",
    Path.home() / ".docker/config.json",
)


def _setup_code(suffix: str) -> str:
    """The accounts of the folder. Names carry a per-session suffix: failed-login counters are
    kept per user name in the cache, which other servers share when it is Redis."""
    return f"""
import json
from accounts.services import app_token_create, robot_create, user_create
from organizations.services import organization_create, team_member_add, team_upsert

alice = user_create(username="alice{suffix}", password="alice-password-1")
org = organization_create(name="{ORG}", creator=alice)
robot = robot_create(namespace=org.namespace, shortname="ci_{suffix}", description="e2e pushes")
builders = team_upsert(organization=org, name="builders", role="creator")
team_member_add(team=builders, robot=robot.robot)
bob = user_create(username="bob{suffix}", password="bob-password-1")
readers = team_upsert(organization=org, name="readers", role="member")
team_member_add(team=readers, user=bob)
carol = user_create(username="carol{suffix}", password="carol-password-1")
app = app_token_create(user=alice, title="e2e cli")
print(EMIT + json.dumps({{
    "alice": alice.username, "bob": bob.username, "carol": carol.username,
    "robot": robot.robot.username, "robot_token": robot.token, "app_token": app.token,
}}))
"""


@dataclass(frozen=True)
class Credentials:
    label: str
    username: str
    secret: str

    @property
    def pair(self) -> str:
        return f"{self.username}:{self.secret}"

    @property
    def basic(self) -> tuple[str, str]:
        return self.username, self.secret


@dataclass(frozen=True)
class Identities:
    """alice owns ``acme`` (its owners team); the robot ``acme+ci_…`` is in the ``creator`` team, so it
    may create repositories there (and administers what it creates); bob is in the ``readers``
    team (member role: nothing until a repository grants the team a permission); carol belongs to
    nothing in ``acme``."""

    password: Credentials
    app_token: Credentials  # alice's app token, with her user name
    app_token_dollar: Credentials  # the same token with the user name ``$app``
    robot: Credentials
    reader: Credentials
    outsider: Credentials

    def by_label(self, label: str) -> Credentials:
        return {c.label: c for c in (self.password, self.app_token, self.app_token_dollar, self.robot)}[label]


#: the four ways to log in that every client is tried with
LOGIN_KINDS = ("password", "app-token", "app-token-dollar", "robot")


def identities_create(registry: LiveRegistry) -> Identities:
    made = django_shell(registry, _setup_code(secrets.token_hex(3)))
    return Identities(
        password=Credentials("password", made["alice"], "alice-password-1"),
        app_token=Credentials("app-token", made["alice"], made["app_token"]),
        app_token_dollar=Credentials("app-token-dollar", "$app", made["app_token"]),
        robot=Credentials("robot", made["robot"], made["robot_token"]),
        reader=Credentials("reader", made["bob"], "bob-password-1"),
        outsider=Credentials("outsider", made["carol"], "carol-password-1"),
    )


def django_shell(registry: LiveRegistry, code: str) -> dict:
    """Run ``code`` with ``manage.py shell`` on the server's database. The code prints one line
    ``EMIT + json``; that JSON is returned."""
    result = registry.manage("shell", "-c", f"EMIT = {_MARKER!r}\n{code}", check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith(_MARKER)]
    assert result.returncode == 0 and lines, f"manage.py shell failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return json.loads(lines[-1][len(_MARKER):])


def repository_update(
    registry: LiveRegistry, name: str, *, visibility: str | None = None, state: str | None = None, team_read: str | None = None
) -> dict:
    """Change an existing repository with the services: visibility, state, or give an ``acme``
    team the read role."""
    code = f"""
import json
from organizations.models import Team
from repositories.models import Repository
from repositories.services.repositories import permission_set, repository_set_state, repository_set_visibility
repo = Repository.objects.get(full_name={name!r})
if {visibility!r}:
    repository_set_visibility(repository=repo, visibility={visibility!r})
if {state!r}:
    repository_set_state(repository=repo, state={state!r})
if {team_read!r}:
    team = Team.objects.get(organization__namespace=repo.namespace, name={team_read!r})
    permission_set(repository=repo, role="read", team=team)
repo.refresh_from_db()
print(EMIT + json.dumps({{"visibility": repo.visibility, "state": repo.state}}))
"""
    return django_shell(registry, code)


# -- auth files ------------------------------------------------------------------------------------


def stored_auth(auth_file: Path, host: str) -> dict:
    """The entry a containers/image or docker login wrote for ``host``."""
    return json.loads(auth_file.read_text())["auths"][host]


def decode_auth(entry: dict) -> str:
    return base64.b64decode(entry["auth"]).decode()


# -- token-authenticated HTTP ----------------------------------------------------------------------


def fetch_token(registry: LiveRegistry, *scopes: str, creds: Credentials | None = None) -> str:
    """A bearer token from GET /v2/auth (the Docker token service) for ``scopes``."""
    response = requests.get(
        f"{registry.url}/v2/auth", params=[("service", registry.host), *(("scope", s) for s in scopes)],
        auth=creds.basic if creds else None, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, f"/v2/auth {scopes}: {response.status_code} {response.text}"
    body = response.json()
    assert body["token"] == body["access_token"]
    return body["token"]


def token_access(token: str) -> list[dict]:
    """The ``access`` claim of a token this test just received (read, not verified)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["access"]


def bearer(registry: LiveRegistry, path: str, token: str | None, *, method: str = "GET", headers: dict | None = None) -> requests.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{registry.url}{path}", headers={**auth, **(headers or {})}, timeout=30)


def manifest_digest(registry: LiveRegistry, name: str, reference: str, creds: Credentials) -> str:
    """The digest the server reports for ``name:reference`` (checked against the bytes)."""
    token = fetch_token(registry, f"repository:{name}:pull", creds=creds)
    response = bearer(registry, f"/v2/{name}/manifests/{reference}", token, headers={"Accept": ALL_MANIFEST_TYPES})
    assert response.status_code == 200, f"{name}:{reference}: {response.status_code} {response.text}"
    digest = response.headers["Docker-Content-Digest"]
    assert digest == "sha256:" + hashlib.sha256(response.content).hexdigest()
    return digest


def tags(registry: LiveRegistry, name: str, creds: Credentials) -> list[str]:
    token = fetch_token(registry, f"repository:{name}:pull", creds=creds)
    response = bearer(registry, f"/v2/{name}/tags/list", token)
    assert response.status_code == 200, f"{name} tags: {response.status_code} {response.text}"
    return response.json()["tags"]


# -- running clients -------------------------------------------------------------------------------
# (own runner: the failure message shows the command with its output; the identity tests need an
# auth file per test, so the tool wrappers carry it in their environment)


def _report(argv: list[str], problem: str, stdout: str, stderr: str) -> str:
    return f"{problem}\n$ {shlex.join(argv)}\n--- stdout ---\n{stdout.strip()[-3000:]}\n--- stderr ---\n{stderr.strip()[-3000:]}"


def run(
    args: Sequence[str | os.PathLike], *, env: dict[str, str] | None = None, check: bool = True, timeout: float = CLIENT_TIMEOUT
) -> subprocess.CompletedProcess:
    """Run a client (``env`` added to ours); with ``check`` a non-zero exit fails the test."""
    argv = [str(a) for a in args]
    try:
        result = subprocess.run(
            argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as exc:
        out, err = (x.decode(errors="replace") if isinstance(x, bytes) else x or "" for x in (exc.stdout, exc.stderr))
        pytest.fail(_report(argv, f"timed out after {timeout} s", out, err), pytrace=False)
    if check and result.returncode != 0:
        pytest.fail(_report(argv, f"exited with status {result.returncode}", result.stdout, result.stderr), pytrace=False)
    return result


def run_failing(args: Sequence[str | os.PathLike], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command that must fail; returned for its message."""
    result = run(args, env=env, check=False)
    if result.returncode == 0:
        pytest.fail(_report([str(a) for a in args], "succeeded but was expected to fail", result.stdout, result.stderr), pytrace=False)
    return result


@dataclass
class Tool:
    """podman or buildah with fixed leading arguments (private vfs storage) and environment
    (registries.conf, this test's REGISTRY_AUTH_FILE)."""

    base: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str | os.PathLike, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.base, *args], env=self.env, check=check)

    def fails(self, *args: str | os.PathLike) -> subprocess.CompletedProcess:
        return run_failing([*self.base, *args], env=self.env)


def write_registries_conf(directory: Path, host: str) -> Path:
    """registries.conf marking ``host`` insecure (plain HTTP) and searching nowhere else."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "registries.conf"
    path.write_text(f'unqualified-search-registries = []\n\n[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    return path


def podman_tool(state: Path, registries_conf: Path, auth_file: Path) -> Tool:
    """podman with its own root/runroot/tmpdir (runroot paths must stay under 50 characters) and
    the sandbox-friendly flags from clients.md."""
    base = [
        "podman", "--root", str(state / "root"), "--runroot", str(state / "run"), "--tmpdir", str(state / "tmp"),
        "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
    ]  # fmt: skip
    return Tool(base, {"CONTAINERS_REGISTRIES_CONF": str(registries_conf), "REGISTRY_AUTH_FILE": str(auth_file), "TMPDIR": str(state.parent)})


def buildah_tool(state: Path, registries_conf: Path, auth_file: Path) -> Tool:
    base = [
        "buildah", "--root", str(state / "root"), "--runroot", str(state / "run"), "--storage-driver", "vfs",
        "--registries-conf", str(registries_conf),
    ]  # fmt: skip
    return Tool(base, {"CONTAINERS_REGISTRIES_CONF": str(registries_conf), "REGISTRY_AUTH_FILE": str(auth_file), "TMPDIR": str(state.parent)})


# -- images ----------------------------------------------------------------------------------------


def layout_with_image(workdir: Path, tag: str, label: str) -> tuple[Path, LayoutImage]:
    """An OCI layout (umoci) holding one small image whose content names ``label`` (so every test
    uploads blobs of its own)."""
    layout = workdir / "layout"
    image = umoci_image(layout, tag, {"hello.txt": f"hello from {label}\n".encode()}, workdir=workdir, env=f"E2E_LABEL={label}")
    return layout, image


def skopeo(*args: str | Path, check: bool = True):
    return run(["skopeo", *args], check=check)
