"""``login`` with skopeo, podman, buildah and the docker CLI against the authenticated registry, with a
password, an app token (user name and ``$app``) and a robot token (``acme+ci_<suffix>``); then push and pull
with the same client and the stored credentials only."""

from __future__ import annotations

import base64
import json
import random
import secrets
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from accounts.throttle import USER_THRESHOLD

from tests.e2e.helpers import layout_blob, layout_image, requires, tar_files
from tests.e2e_identity.support import (
    LOGIN_KINDS,
    ORG,
    Credentials,
    Tool,
    decode_auth,
    layout_with_image,
    manifest_digest,
    run,
    run_failing,
    skopeo,
    stored_auth,
    tags,
)

pytestmark = [pytest.mark.e2e, pytest.mark.live]

CONTAINERFILE = """\
FROM scratch
ADD hello.txt /hello.txt
LABEL org.example.e2e={label}
CMD ["/hello.txt"]
"""


def _login_output_ok(result) -> None:
    assert "Login Succeeded" in result.stdout, result.stdout + result.stderr


@requires("skopeo", "umoci")
@pytest.mark.parametrize("kind", LOGIN_KINDS)
def test_skopeo_login_push_and_pull(auth_registry, identities, auth_file: Path, tmp_path: Path, kind: str):
    creds: Credentials = identities.by_label(kind)
    host, name = auth_registry.host, f"{ORG}/skopeo-{kind}"
    layout, image = layout_with_image(tmp_path, "v1", f"skopeo {kind}")

    _login_output_ok(skopeo("login", "--authfile", auth_file, "--tls-verify=false", "-u", creds.username, "-p", creds.secret, host))
    assert decode_auth(stored_auth(auth_file, host)) == creds.pair

    skopeo("copy", "--quiet", "--authfile", auth_file, "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{host}/{name}:v1")
    assert manifest_digest(auth_registry, name, "v1", creds) == image.digest

    pulled_layout = tmp_path / "pulled"
    skopeo("copy", "--quiet", "--authfile", auth_file, "--src-tls-verify=false", f"docker://{host}/{name}:v1", f"oci:{pulled_layout}:v1")
    pulled = layout_image(pulled_layout, "v1")
    assert pulled.digest == image.digest and pulled.raw == image.raw
    (layer,) = pulled.layer_digests
    assert tar_files(layout_blob(pulled_layout, layer))["hello.txt"] == f"hello from skopeo {kind}\n".encode()

    # The pull needed the login: without credentials the same repository is closed.
    refused = run_failing(["skopeo", "inspect", "--tls-verify=false", "--no-creds", f"docker://{host}/{name}:v1"])
    assert "unauthorized" in refused.stderr


def _podman_build(podman: Tool, workdir: Path, image: str, label: str) -> None:
    workdir.mkdir()
    (workdir / "Containerfile").write_text(CONTAINERFILE.format(label=label))
    (workdir / "hello.txt").write_text(f"hello from {label}\n")
    podman("build", "--quiet", "--format", "oci", "--tag", image, workdir)


@pytest.mark.parametrize("kind", LOGIN_KINDS)
def test_podman_login_push_and_pull(auth_registry, identities, podman: Tool, auth_file: Path, tmp_path: Path, kind: str):
    creds: Credentials = identities.by_label(kind)
    host, name = auth_registry.host, f"{ORG}/podman-{kind}"
    image = f"{host}/{name}:v1"

    # No --tls-verify: the registries.conf of the fixture marks the loopback server insecure.
    _login_output_ok(podman("login", "-u", creds.username, "-p", creds.secret, host))
    assert decode_auth(stored_auth(auth_file, host)) == creds.pair

    _podman_build(podman, tmp_path / "context", image, f"podman-{kind}")
    podman("push", "--quiet", "--digestfile", tmp_path / "digest", image)
    digest = (tmp_path / "digest").read_text().strip()
    assert manifest_digest(auth_registry, name, "v1", creds) == digest

    podman("rmi", image)
    podman("pull", "--quiet", image)
    (info,) = json.loads(podman("image", "inspect", image).stdout)
    assert info["Digest"] == digest
    assert info["Labels"]["org.example.e2e"] == f"podman-{kind}"

    podman("logout", host)
    assert host not in json.loads(auth_file.read_text()).get("auths", {})
    podman("rmi", image)
    refused = podman.fails("pull", "--quiet", image)
    assert "unauthorized" in refused.stderr


@pytest.mark.parametrize("kind", LOGIN_KINDS)
def test_buildah_login_push_and_pull(auth_registry, identities, buildah: Tool, auth_file: Path, tmp_path: Path, kind: str):
    creds: Credentials = identities.by_label(kind)
    host, name = auth_registry.host, f"{ORG}/buildah-{kind}"
    image = f"{host}/{name}:v1"

    _login_output_ok(buildah("login", "--tls-verify=false", "-u", creds.username, "-p", creds.secret, host))
    assert decode_auth(stored_auth(auth_file, host)) == creds.pair

    payload = tmp_path / "payload.txt"
    payload.write_text(f"payload from buildah {kind}\n")
    container = buildah("from", "scratch").stdout.strip()
    try:
        buildah("add", container, payload, "/payload.txt")
        buildah("config", "--label", f"org.example.e2e=buildah-{kind}", container)
        buildah("commit", "--quiet", "--format", "oci", container, image)
    finally:
        buildah("rm", container)
    buildah("push", "--quiet", "--tls-verify=false", "--digestfile", tmp_path / "digest", image)
    digest = (tmp_path / "digest").read_text().strip()
    assert manifest_digest(auth_registry, name, "v1", creds) == digest

    buildah("rmi", image)
    buildah("pull", "--quiet", "--tls-verify=false", image)
    info = json.loads(buildah("inspect", "--type", "image", image).stdout)
    assert info["FromImageDigest"] == digest
    assert info["OCIv1"]["config"]["Labels"]["org.example.e2e"] == f"buildah-{kind}"


@requires("docker", "skopeo", "umoci")
@pytest.mark.parametrize("kind", LOGIN_KINDS)
def test_docker_login_then_manifest_inspect_create_and_push(auth_registry, identities, tmp_path: Path, kind: str):
    """The docker CLI has no daemon here: login, ``manifest inspect`` and ``manifest create/push``
    all run client-side and prove the stored credentials work for reads and writes."""
    creds: Credentials = identities.by_label(kind)
    host, name = auth_registry.host, f"{ORG}/docker-{kind}"
    layout, image = layout_with_image(tmp_path, "v1", f"docker {kind}")
    # Seed with skopeo under the same identity (the robot creates the repository it then owns).
    skopeo("copy", "--quiet", "--dest-creds", creds.pair, "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{host}/{name}:v1")

    config_dir = tmp_path / "docker-config"
    env = {"DOCKER_CONFIG": str(config_dir)}

    def docker(*args: str, check: bool = True):
        return run(["docker", *args], env=env, check=check)

    refused = docker("manifest", "inspect", "--insecure", f"{host}/{name}:v1", check=False)
    assert refused.returncode != 0 and "unauthorized" in (refused.stdout + refused.stderr)

    _login_output_ok(docker("login", "-u", creds.username, "-p", creds.secret, host))
    entry = stored_auth(config_dir / "config.json", host)
    # docker logs in with the OAuth2 password grant: it keeps the refresh token, not the secret.
    assert entry["identitytoken"].count(".") == 2
    assert decode_auth(entry) == f"{creds.username}:"
    assert creds.secret not in (config_dir / "config.json").read_text()

    inspected = json.loads(docker("manifest", "inspect", "--verbose", "--insecure", f"{host}/{name}:v1").stdout)
    assert inspected["Descriptor"]["digest"] == image.digest
    assert base64.b64decode(inspected["Raw"]) == image.raw

    docker("manifest", "create", "--insecure", f"{host}/{name}:list", f"{host}/{name}:v1")
    pushed = docker("manifest", "push", "--insecure", f"{host}/{name}:list").stdout.strip().splitlines()[-1]
    assert pushed.startswith("sha256:")
    assert manifest_digest(auth_registry, name, "list", creds) == pushed
    index = json.loads(docker("manifest", "inspect", "--insecure", f"{host}/{name}:list").stdout)
    assert [m["digest"] for m in index["manifests"]] == [image.digest]
    assert sorted(tags(auth_registry, name, creds)) == ["list", "v1"]

    docker("logout", host)
    refused = docker("manifest", "inspect", "--insecure", f"{host}/{name}:v1", check=False)
    assert refused.returncode != 0 and "unauthorized" in (refused.stdout + refused.stderr)


# -- wrong secrets ---------------------------------------------------------------------------------
# The server throttles failed logins per user name and per client address, and with Redis the
# counters outlive the server. So the clients here (always from 127.0.0.1) fail only two logins per
# run, under fresh random names; bulk failures come from random loopback source addresses.


class SourceAddressAdapter(HTTPAdapter):
    """Connections from another loopback address (the server still listens on 127.0.0.1)."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


@requires("skopeo")
def test_skopeo_login_with_a_wrong_password_fails_and_stores_nothing(auth_registry, auth_file: Path):
    user = f"mallory{secrets.token_hex(4)}"
    refused = run_failing(["skopeo", "login", "--authfile", auth_file, "--tls-verify=false", "-u", user, "-p", "not-it", auth_registry.host])
    assert "invalid username/password" in refused.stderr
    assert not auth_file.exists() or auth_registry.host not in auth_file.read_text()


@requires("docker")
def test_docker_login_with_a_wrong_robot_token_fails(auth_registry, tmp_path: Path):
    config_dir = tmp_path / "docker-config"
    robot = f"{ORG}+nobody{secrets.token_hex(4)}"
    refused = run_failing(["docker", "login", "-u", robot, "-p", "y" * 48, auth_registry.host], env={"DOCKER_CONFIG": str(config_dir)})
    assert "invalid username or password" in refused.stderr
    assert not (config_dir / "config.json").exists() or auth_registry.host not in (config_dir / "config.json").read_text()


@requires("skopeo")
def test_wrong_app_tokens_do_not_lock_every_app_token_login_out(auth_registry, identities, auth_file: Path):
    """Every app token is presented as ``$app``: failures must not be counted against that shared
    name, or a few wrong tokens from anywhere would lock out every user's app-token logins."""
    address = f"127.{random.randrange(2, 255)}.{random.randrange(0, 256)}.{random.randrange(1, 255)}"
    with requests.Session() as elsewhere:
        elsewhere.mount("http://", SourceAddressAdapter(address))
        for _ in range(USER_THRESHOLD + 1):
            response = elsewhere.get(
                f"{auth_registry.url}/v2/auth", params={"service": auth_registry.host, "scope": f"repository:{ORG}/x:pull"},
                auth=("$app", secrets.token_urlsafe(36)), timeout=30,
            )  # fmt: skip
            assert response.status_code == 401, response.text

    app = identities.app_token_dollar
    _login_output_ok(skopeo("login", "--authfile", auth_file, "--tls-verify=false", "-u", app.username, "-p", app.secret, auth_registry.host))
