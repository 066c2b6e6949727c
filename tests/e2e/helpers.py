"""Helpers for the end-to-end client tests.

- ``run`` starts a client with a timeout and fails the test with the command, exit status and
  output tails when it goes wrong;
- ``ContainerTool`` is skopeo, podman or buildah with its environment; podman and buildah get a
  private vfs storage root (never the machine's);
- ``umoci_image`` / ``layout_add_index`` make OCI layouts offline (umoci cannot write an index);
- ``build_image`` / ``push_image`` / ``push_index`` make small images in Python and push them over
  plain HTTP, so a client's tests need no other client to seed the registry;
- ``containers_config`` / ``write_registries_conf`` mark the live registry insecure for commands
  without ``--tls-verify`` and give the clients an empty credentials file of their own.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

CLIENT_TIMEOUT = 120
OUTPUT_TAIL = 3000

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ALL_MANIFEST_TYPES = f"{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"


# -- running clients -----------------------------------------------------------------------------


def requires(*binaries: str) -> pytest.MarkDecorator:
    """Skip when a client binary is absent (CI installs them all through ``.ci/run``)."""
    missing = [name for name in binaries if shutil.which(name) is None]
    return pytest.mark.skipif(
        bool(missing), reason=f"{', '.join(missing)} not installed (apt-get install {' '.join(missing)}; .ci/run installs it)"
    )


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_TAIL else "..." + text[-OUTPUT_TAIL:]


def _describe(args: Sequence[str], result: subprocess.CompletedProcess | None, problem: str, stdout: str = "", stderr: str = "") -> str:
    if result is not None:
        stdout, stderr = result.stdout, result.stderr
    return f"{problem}\n$ {shlex.join(args)}\n--- stdout ---\n{_tail(stdout)}\n--- stderr ---\n{_tail(stderr)}"


def run(
    args: Sequence[str | os.PathLike],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = CLIENT_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run a client; ``env`` is added to this process's environment. With ``check`` a non-zero exit
    fails the test with the output; a timeout always does."""
    argv = [str(a) for a in args]
    # containers/image keeps big temporary files in $TMPDIR, else /var/tmp: keep them in ours.
    environment = {**os.environ, "TMPDIR": tempfile.gettempdir(), **(env or {})}
    try:
        result = subprocess.run(
            argv, check=False, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        timed_out = _describe(argv, None, f"timed out after {timeout} s", out, err)
    else:
        timed_out = ""
    if timed_out:
        pytest.fail(timed_out, pytrace=False)
    if check and result.returncode != 0:
        pytest.fail(_describe(argv, result, f"exited with status {result.returncode}"), pytrace=False)
    return result


@dataclass
class ContainerTool:
    """skopeo, podman or buildah with fixed leading arguments and environment."""

    base: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str | os.PathLike, check: bool = True, timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess:
        return run([*self.base, *args], env=self.env, check=check, timeout=timeout)


def containers_config(directory: Path, *hosts: str) -> dict[str, str]:
    """Environment for containers/image clients: a registries.conf marking ``hosts`` insecure
    (plain HTTP; for commands without ``--tls-verify``) and an empty credentials file of our own,
    so nothing stored by ``login`` elsewhere on the machine is sent."""
    directory.mkdir(parents=True, exist_ok=True)
    auth_file = directory / "auth.json"
    auth_file.write_text('{"auths": {}}')
    return {"CONTAINERS_REGISTRIES_CONF": str(write_registries_conf(directory, *hosts)), "REGISTRY_AUTH_FILE": str(auth_file)}


def podman_tool(state: Path, env: dict[str, str]) -> ContainerTool:
    """podman with its own root, runroot and tmpdir under ``state``; sandbox-friendly flags."""
    base = [
        "podman", "--root", str(state / "root"), "--runroot", str(state / "runroot"), "--tmpdir", str(state / "tmp"),
        "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
    ]  # fmt: skip
    return ContainerTool(base, env)


def buildah_tool(state: Path, env: dict[str, str]) -> ContainerTool:
    """buildah with its own root and runroot under ``state``. buildah 1.28 ignores
    CONTAINERS_REGISTRIES_CONF for remote ``manifest inspect``; ``--registries-conf`` works."""
    base = [
        "buildah", "--root", str(state / "root"), "--runroot", str(state / "runroot"), "--storage-driver", "vfs",
        "--registries-conf", env["CONTAINERS_REGISTRIES_CONF"],
    ]  # fmt: skip
    return ContainerTool(base, env)


def write_registries_conf(directory: Path, *hosts: str) -> Path:
    """A registries.conf that marks ``hosts`` insecure (plain HTTP) and searches nowhere."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "registries.conf"
    entries = "".join(f'\n[[registry]]\nlocation = "{host}"\ninsecure = true\n' for host in hosts)
    path.write_text(f"unqualified-search-registries = []\n{entries}")
    return path


def repository_name(label: str) -> str:
    """A repository name (lowercase path components) unique to one test."""
    return "e2e/" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:80]


# -- digests and archives --------------------------------------------------------------------------


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_files(layer: bytes) -> dict[str, bytes]:
    """Regular files of a (gzipped or plain) layer tarball, by path without a leading ``./`` or ``/``."""
    if layer[:2] == b"\x1f\x8b":
        layer = gzip.decompress(layer)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
        for member in archive.getmembers():
            if member.isfile():
                files[re.sub(r"^(\./|/)+", "", member.name)] = archive.extractfile(member).read()  # type: ignore[union-attr]
    return files


# -- OCI layouts with umoci ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutImage:
    """A manifest in an OCI layout: its descriptor and the bytes it points at."""

    digest: str
    media_type: str
    raw: bytes

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def body(self) -> dict:
        return json.loads(self.raw)

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in self.body.get("layers", [])]

    @property
    def config_digest(self) -> str:
        return self.body["config"]["digest"]


def layout_blob(layout: Path, digest: str) -> bytes:
    algorithm, _, encoded = digest.partition(":")
    return (layout / "blobs" / algorithm / encoded).read_bytes()


def layout_image(layout: Path, ref_name: str) -> LayoutImage:
    """The manifest (or index) that ``index.json`` names ``ref_name``."""
    index = json.loads((layout / "index.json").read_text())
    for descriptor in index["manifests"]:
        if descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref_name:
            return LayoutImage(descriptor["digest"], descriptor["mediaType"], layout_blob(layout, descriptor["digest"]))
    raise AssertionError(f"{ref_name!r} not in {layout}/index.json: {index}")


def umoci_image(
    layout: Path,
    tag: str,
    files: dict[str, bytes],
    *,
    workdir: Path,
    architecture: str = "amd64",
    cmd: str = "/hello.txt",
    env: str = "E2E=1",
    author: str = "moorage-e2e",
) -> LayoutImage:
    """One image made the umoci way: init (once), new, unpack --rootless, add files, repack, config."""
    image = f"{layout}:{tag}"
    if not (layout / "index.json").exists():
        run(["umoci", "init", "--layout", layout])
    bundle = workdir / f"bundle-{tag}"
    run(["umoci", "new", "--image", image])
    run(["umoci", "unpack", "--rootless", "--image", image, bundle])
    for relative, content in files.items():
        target = bundle / "rootfs" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    run(["umoci", "repack", "--image", image, bundle])
    run([
        "umoci", "config", "--image", image, "--architecture", architecture, "--os", "linux",
        "--config.cmd", cmd, "--config.env", env, "--author", author,
    ])  # fmt: skip
    shutil.rmtree(bundle, ignore_errors=True)
    return layout_image(layout, tag)


def layout_add_index(layout: Path, ref_name: str, entries: list[tuple[str, str]]) -> LayoutImage:
    """Write an OCI image index over ``(ref name, architecture)`` pairs as a blob and list it in
    ``index.json`` under ``ref_name`` (umoci 0.4 cannot make an index itself)."""
    manifests = []
    for child_ref, architecture in entries:
        child = layout_image(layout, child_ref)
        manifests.append(
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": child.size,
                "platform": {"architecture": architecture, "os": "linux"},
            }
        )
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, separators=(",", ":")).encode()
    digest = sha256_digest(raw)
    (layout / "blobs" / "sha256" / digest.partition(":")[2]).write_bytes(raw)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"].append(
        {"mediaType": OCI_INDEX, "digest": digest, "size": len(raw), "annotations": {"org.opencontainers.image.ref.name": ref_name}}
    )
    index_path.write_text(json.dumps(index))
    return LayoutImage(digest, OCI_INDEX, raw)


# -- images made in Python, pushed over HTTP -------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """A single-layer image: manifest, config and layer bytes."""

    manifest: bytes
    media_type: str
    config: bytes
    layer: bytes
    architecture: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def build_image(files: dict[str, bytes], *, architecture: str = "amd64", docker: bool = False, label: str = "") -> Image:
    """A deterministic image (OCI, or Docker schema 2 with ``docker``) holding ``files``."""
    tar = _tar(files)
    layer = gzip.compress(tar, mtime=0)
    config_body = {
        "architecture": architecture,
        "os": "linux",
        "config": {"Cmd": ["/" + min(files)], "Labels": {"org.example.e2e": label or architecture}},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
    }
    config = json.dumps(config_body, separators=(",", ":")).encode()
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP, "digest": sha256_digest(layer), "size": len(layer)}],
    }
    return Image(json.dumps(manifest, separators=(",", ":")).encode(), media_type, config, layer, architecture)


def push_blob(base_url: str, name: str, data: bytes) -> None:
    digest = sha256_digest(data)
    response = requests.post(
        f"{base_url}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data,
        headers={"Content-Type": "application/octet-stream"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 201, f"blob push {digest} to {name}: {response.status_code} {response.text}"


def put_manifest(base_url: str, name: str, reference: str, raw: bytes, media_type: str) -> str:
    response = requests.put(f"{base_url}/v2/{name}/manifests/{reference}", data=raw, headers={"Content-Type": media_type}, timeout=30)
    assert response.status_code == 201, f"manifest push {name}:{reference}: {response.status_code} {response.text}"
    return response.headers["Docker-Content-Digest"]


def push_image(base_url: str, name: str, reference: str, image: Image) -> str:
    """Push ``image`` (blobs monolithically, then the manifest); returns the registry's digest."""
    push_blob(base_url, name, image.config)
    push_blob(base_url, name, image.layer)
    return put_manifest(base_url, name, reference, image.manifest, image.media_type)


def push_index(base_url: str, name: str, reference: str, images: list[Image], *, docker: bool = False) -> tuple[str, bytes]:
    """Push ``images`` by digest and an index (Docker manifest list with ``docker``) over them."""
    media_type = DOCKER_LIST if docker else OCI_INDEX
    manifests = []
    for image in images:
        push_image(base_url, name, image.digest, image)
        manifests.append(
            {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": len(image.manifest),
                "platform": {"architecture": image.architecture, "os": "linux"},
            }
        )
    raw = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}, separators=(",", ":")).encode()
    return put_manifest(base_url, name, reference, raw, media_type), raw


def get_manifest(base_url: str, name: str, reference: str, accept: str = ALL_MANIFEST_TYPES) -> requests.Response:
    return requests.get(f"{base_url}/v2/{name}/manifests/{reference}", headers={"Accept": accept}, timeout=30)


def get_blob(base_url: str, name: str, digest: str) -> bytes:
    response = requests.get(f"{base_url}/v2/{name}/blobs/{digest}", timeout=60)
    assert response.status_code == 200, f"blob {name}@{digest}: {response.status_code} {response.text}"
    assert sha256_digest(response.content) == digest
    return response.content
