"""Running one build: context -> checked Dockerfile -> base images -> ``buildah bud`` -> push.

Everything happens in a private folder under ``builds.work_dir`` (removed afterwards): the
extracted context, buildah's own vfs storage root, a registries.conf that knows only this
registry. Safety rules:

- the context is extracted member by member: absolute names, ``..``, links leading outside the
  context, device files and FIFOs are refused, and so is the whole archive past
  ``builds.max_context_bytes``; git checkouts are walked for the same rules;
- every ``FROM`` must name a repository of this registry (an unqualified ``ns/name[:tag]`` is
  taken as one), readable by the pull robot or the requester; it is rewritten to this registry's
  address and copied into the private storage first, and buildah runs with ``--pull=never`` so
  nothing else can be fetched; ``ADD <url>`` and ``COPY --from=<image>`` are refused;
- buildah runs with ``--isolation chroot`` in its own process group, killed at the time limit or
  on cancel; the result must stay under ``builds.max_image_bytes``;
- pulls and pushes use short-lived bearer tokens minted here for exactly the repositories needed
  (pull on the bases for the pull robot or requester, push on the target for the requester),
  checked against the current permissions first; no password is ever used.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import queue
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from accounts.principals import Principal
from accounts.registry_tokens import token_issue
from accounts.services import principal_for_robot, principal_for_user
from common.errors import RegistryError
from common.grammar import validate_repository_name
from common.ssrf import check_url
from repositories.access import Action, is_allowed
from repositories.models.builds import BuildPhase, RepositoryBuild
from repositories.selectors import repository_find
from repositories.services.build_logs import build_log_append, log_entry
from repositories.services.builds import (
    build_cancel_requested,
    build_claim,
    build_finish,
    build_phase_set,
    builds_config,
    git_url_check,
)
from storagebackends.registry import get_location

logger = logging.getLogger(__name__)

MAX_MEMBERS = 100_000
MAX_DOCKERFILE_BYTES = 1024 * 1024
TOKEN_LIFETIME_S = 900
_POLL_S = 0.25
_FLUSH_S = 0.5
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_URL_SOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class BuildFailure(Exception):
    """The build cannot go on; the message goes into the log and the build's error."""


class BuildCancelled(Exception):
    """Cancel was requested while running."""


@dataclass(frozen=True)
class RegistryTarget:
    host: str  # host[:port] the builder talks to
    audience: str  # token audience (the server's service name)
    tls: bool


def registry_target() -> RegistryTarget:
    url = builds_config()["registry_url"] or (f"https://{settings.MOORAGE_SERVER_HOSTNAME}" if settings.MOORAGE_SERVER_HOSTNAME else "")
    if not url:
        raise BuildFailure("builds.registry_url is not configured: the build worker does not know this registry's address")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BuildFailure(f"builds.registry_url must be an http(s) URL, not {url!r}")
    return RegistryTarget(host=parts.netloc, audience=settings.MOORAGE_SERVER_HOSTNAME or parts.netloc, tls=parts.scheme == "https")


# --- context ------------------------------------------------------------------------------------


def _member_name(name: str) -> str:
    """A normalised relative member name; refuses absolute names and ``..``."""
    if name.startswith("/") or "\x00" in name:
        raise BuildFailure(f"the build context holds an absolute path: {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BuildFailure(f"the build context holds a path leaving the context: {name!r}")
    return "/".join(parts)


def _link_stays_inside(name: str, target: str) -> bool:
    if target.startswith("/"):
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return resolved != ".." and not resolved.startswith("../")


def _parents_are_directories(root: Path, name: str) -> None:
    current = root
    for part in name.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise BuildFailure(f"the build context writes through a symbolic link: {name!r}")


def extract_context(stream: Any, dest: Path, *, limit: int) -> int:
    """Extract a tar or tar.gz stream into ``dest`` under the context rules; returns bytes of
    file content. Raises BuildFailure on anything unsafe or too large."""
    total = count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise BuildFailure(f"the build context has more than {MAX_MEMBERS} entries")
                name = _member_name(member.name)
                if not name:
                    continue
                if member.ischr() or member.isblk() or member.isfifo() or not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                    raise BuildFailure(f"the build context holds a device file or FIFO: {name!r}")
                if member.issym() and not _link_stays_inside(name, member.linkname):
                    raise BuildFailure(f"the build context holds a symbolic link leading outside it: {name!r} -> {member.linkname!r}")
                if member.islnk():
                    member.linkname = _member_name(member.linkname)
                if member.isfile():
                    total += member.size
                    if total > limit:
                        raise BuildFailure(f"the build context is larger than {limit} bytes (builds.max_context_bytes)")
                _parents_are_directories(dest, name)
                member.name = name
                archive.extract(member, dest, filter="data")
    except tarfile.FilterError as exc:
        raise BuildFailure(f"the build context holds an unsafe entry: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, zlib_error()) as exc:
        raise BuildFailure(f"the build context is not a readable tar or tar.gz archive: {exc}") from None
    return total


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def check_tree(root: Path, *, limit: int) -> int:
    """A checked-out tree under the context rules (links stay inside, no special files, size)."""
    total = 0
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for entry in dirnames + filenames:
            path = Path(directory) / entry
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if path.is_symlink():
                if not _link_stays_inside(relative, os.readlink(path)):
                    raise BuildFailure(f"the build context holds a symbolic link leading outside it: {relative!r}")
            elif path.is_file():
                total += info.st_size
                if total > limit:
                    raise BuildFailure(f"the build context is larger than {limit} bytes (builds.max_context_bytes)")
            elif not path.is_dir():
                raise BuildFailure(f"the build context holds a device file or FIFO: {relative!r}")
    return total


def _inside(root: Path, relative: str, what: str) -> Path:
    path = (root / relative) if relative else root
    resolved = path.resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise BuildFailure(f"the {what} {relative!r} leads outside the build context")
    return path


# --- Dockerfile -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseImage:
    repository: str  # namespace/name in this registry
    reference: str  # tag or digest
    local_name: str  # name in the private storage (and in the rewritten FROM)

    @property
    def remote(self) -> str:
        separator = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.repository}{separator}{self.reference}"


def _instructions(text: str) -> list[tuple[int, int, str]]:
    """Logical instructions as (first line, last line, joined text); comments and blank lines skipped."""
    lines = text.splitlines()
    result: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start, parts = i, []
        while True:
            line = lines[i].rstrip()
            if line.endswith("\\"):
                parts.append(line[:-1])
                i += 1
                while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(line)
            break
        result.append((start, min(i, len(lines) - 1), " ".join(p.strip() for p in parts)))
        i += 1
    return result


def _parse_base(image: str, target: RegistryTarget) -> tuple[str, str]:
    """(repository, tag-or-digest) of a FROM image that must live in this registry."""
    name, digest = (image.split("@", 1) + [""])[:2]
    tag = ""
    if not digest:
        slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > slash:
            name, tag = name[:colon], name[colon + 1 :]
    elif not _DIGEST.match(digest):
        raise BuildFailure(f"FROM {image}: invalid digest")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if first not in (target.host, target.audience):
            raise BuildFailure(f"FROM {image}: base images come from this registry ({target.host}) only")
        name = rest
    if "/" not in name:
        raise BuildFailure(f"FROM {image}: not a repository of this registry (name it namespace/name[:tag])")
    try:
        validate_repository_name(name)
    except RegistryError:
        raise BuildFailure(f"FROM {image}: invalid repository name") from None
    if tag and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag):
        raise BuildFailure(f"FROM {image}: invalid tag")
    return name, digest or tag or "latest"


def rewrite_dockerfile(text: str, target: RegistryTarget) -> tuple[str, list[BaseImage]]:
    """The Dockerfile with every FROM pointing at this registry, and the base images it needs."""
    lines = text.splitlines()
    stages: set[str] = set()
    bases: dict[str, BaseImage] = {}
    replacements: dict[int, tuple[int, str]] = {}
    stage_index = 0
    for first, last, instruction in _instructions(text):
        keyword, _, arguments = instruction.partition(" ")
        keyword = keyword.upper()
        tokens = arguments.split()
        if keyword == "FROM":
            flags = [t for t in tokens if t.startswith("--")]
            rest = [t for t in tokens if not t.startswith("--")]
            if not rest:
                raise BuildFailure(f"line {first + 1}: FROM without an image")
            if any(not f.startswith("--platform=") for f in flags) or any("$" in t for t in tokens):
                raise BuildFailure(f"line {first + 1}: FROM {arguments}: only a literal image (and --platform) is supported")
            image, alias = rest[0], ""
            if len(rest) == 3 and rest[1].upper() == "AS":
                alias = rest[2].lower()
            elif len(rest) != 1:
                raise BuildFailure(f"line {first + 1}: FROM {arguments}: expected FROM image [AS name]")
            if image.lower() == "scratch" or image.lower() in stages:
                new_image = image
            else:
                repository, reference = _parse_base(image, target)
                key = f"{repository}@{reference}"
                if key not in bases:
                    local_tag = reference.replace(":", "-") if reference.startswith("sha256:") else reference
                    bases[key] = BaseImage(repository, reference, f"{target.host}/{repository}:{local_tag}")
                new_image = bases[key].local_name
            stages.add(str(stage_index))
            stage_index += 1
            if alias:
                stages.add(alias)
            replacements[first] = (last, " ".join(["FROM", *flags, new_image, *(["AS", alias] if alias else [])]))
        elif keyword in ("COPY", "ADD", "RUN"):
            for token in tokens:
                lowered = token.lower()
                if lowered.startswith("--from="):
                    source = lowered.partition("=")[2]
                    if source not in stages:
                        raise BuildFailure(f"line {first + 1}: {keyword} --from={source}: only earlier build stages may be copied from")
                if lowered.startswith("--mount=") and "from=" in lowered:
                    raise BuildFailure(f"line {first + 1}: RUN --mount from an image is not supported")
            if keyword == "ADD" and any(_URL_SOURCE.match(t) for t in tokens if not t.startswith("--")):
                raise BuildFailure(f"line {first + 1}: ADD of a URL is refused: a build reads nothing but its context and this registry")
    if not replacements:
        raise BuildFailure("the Dockerfile has no FROM instruction")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i in replacements:
            last, line = replacements[i]
            out.append(line)
            i = last + 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out) + "\n", list(bases.values())


# --- processes ----------------------------------------------------------------------------------


class _Log:
    """Buffers output lines and writes them to the live log in small batches."""

    def __init__(self, build: RepositoryBuild):
        self.build = build
        self.pending: list[dict[str, Any]] = []
        self.flushed = time.monotonic()

    def line(self, text: str) -> None:
        text = text.rstrip("\n")
        if re.match(r"^STEP \d+/\d+: ", text):
            self.pending.append(log_entry(text, kind="command", data={"command": text.partition(": ")[2]}))
        else:
            self.pending.append(log_entry(text))
        if len(self.pending) >= 100:
            self.flush()

    def info(self, text: str) -> None:
        self.pending.append(log_entry(text))
        self.flush()

    def flush(self) -> None:
        if self.pending:
            build_log_append(build=self.build, entries=self.pending)
            self.pending = []
        self.flushed = time.monotonic()


#: process groups of the build steps running in this process (killed when the worker shuts down)
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_SHUTTING_DOWN = threading.Event()


def build_processes_stop() -> int:
    """Kill every running build step of this process (the worker is shutting down: buildah runs in
    its own session and would outlive it). The builds end in ``error``. Returns how many."""
    _SHUTTING_DOWN.set()
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(running)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


class _Runner:
    def __init__(self, build: RepositoryBuild):
        self.build = build
        self.config = builds_config()
        self.deadline = time.monotonic() + self.config["timeout_s"]
        self.log = _Log(build)
        root = Path(self.config["work_dir"] or Path(settings.DATA_DIR) / "builds")
        if not root.is_absolute():
            root = Path(settings.DATA_DIR) / root
        root.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{build.uuid.hex[:12]}-", dir=root))
        self.workdir.chmod(0o700)
        self.storage_root = self.workdir / "storage"
        self.run_root = self.workdir / "run"
        self.tmp = self.workdir / "tmp"
        self.tmp.mkdir()
        (self.workdir / "home").mkdir()
        self.local_image = f"localhost/moorage-build/{build.uuid.hex}:latest"
        self.last_cancel_check = 0.0

    # -- plumbing --

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self.workdir / "home"),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "BUILDAH_ISOLATION": "chroot",
            "CONTAINERS_REGISTRIES_CONF": str(self.workdir / "registries.conf"),
            "REGISTRY_AUTH_FILE": str(self.workdir / "auth.json"),
        }
        env.update(extra or {})
        return env

    def _check_cancel(self, process: subprocess.Popen | None = None) -> None:
        now = time.monotonic()
        if now - self.last_cancel_check < 1.0:
            return
        self.last_cancel_check = now
        if build_cancel_requested(build=self.build):
            if process is not None:
                _kill_group(process)
            raise BuildCancelled()

    def _exec(self, argv: list[str], *, what: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Run ``argv`` in its own process group, streaming its output into the log; killed at
        the build's deadline or on cancel. Returns the exit status."""
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env(env), cwd=cwd or self.workdir,
            start_new_session=True,
        )
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        lines: queue.Queue[bytes | None] = queue.Queue()

        def read() -> None:
            assert process.stdout is not None
            for raw in iter(process.stdout.readline, b""):
                lines.put(raw)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        finished_output = False
        try:
            while True:
                try:
                    item = lines.get(timeout=_POLL_S)
                    if item is None:
                        finished_output = True
                    else:
                        self.log.line(item.decode("utf-8", errors="replace"))
                except queue.Empty:
                    pass
                if time.monotonic() - self.log.flushed >= _FLUSH_S:
                    self.log.flush()
                if finished_output and process.poll() is not None:
                    break
                if time.monotonic() > self.deadline:
                    _kill_group(process)
                    raise BuildFailure(f"{what}: the build ran longer than {self.config['timeout_s']} s (builds.timeout_s) and was stopped")
                self._check_cancel(process)
        finally:
            if process.poll() is None:
                _kill_group(process)
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
            reader.join(timeout=5)
            self.log.flush()
        if _SHUTTING_DOWN.is_set():
            raise BuildFailure(f"{what}: the build worker shut down while the build was running")
        return process.returncode

    def _token(self, principal: Principal, access: list[dict[str, Any]], target: RegistryTarget) -> str:
        context = {"kind": principal.kind, "id": principal.id, "name": principal.name, "superuser": False, "readonly_superuser": False, "namespace_id": principal.namespace_id}
        return token_issue(subject=f"build/{self.build.uuid.hex}", audience=target.audience, access=access, context=context, lifetime_s=TOKEN_LIFETIME_S).token

    def _storage_ref(self, name: str) -> str:
        return f"containers-storage:[vfs@{self.storage_root}+{self.run_root}]{name}"

    # -- phases --

    def _requester(self) -> Principal:
        user = self.build.requested_by
        if user is None or not user.is_active:
            raise BuildFailure("the user who requested this build no longer exists or is disabled")
        return principal_for_user(user, "build")

    def _fetch_context(self) -> Path:
        limit = self.config["max_context_bytes"]
        root = self.workdir / "context"
        root.mkdir()
        build = self.build
        if build.context_kind == RepositoryBuild.ContextKind.ARCHIVE:
            upload = build.upload
            if upload is None or not upload.path:
                raise BuildFailure("the uploaded build context is gone (file drops expire; upload it again)")
            self.log.info(f"extracting the build context {upload.file_id} ({upload.size} bytes)")
            with get_location(upload.location).open(upload.path) as stream:
                size = extract_context(stream, root, limit=limit)
        else:
            self._clone(root)
            size = check_tree(root, limit=limit)
        self.log.info(f"build context ready: {size} bytes of files")
        context = _inside(root, build.context_subdir, "subdirectory")
        if not context.is_dir():
            raise BuildFailure(f"the subdirectory {build.context_subdir!r} is not in the build context")
        return context

    def _clone(self, root: Path) -> None:
        url = git_url_check(self.build.git_url)  # the policy again: it may have changed since the request
        config = ["-c", "http.followRedirects=false", "-c", "protocol.file.allow=never", "-c", "core.symlinks=true"]
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            checked = check_url(url)
            # git connects to the very address the policy checked (no DNS rebinding in between)
            config += ["-c", f"http.curloptResolve={checked.host}:{checked.port}:{checked.addresses[0]}"]
        self.log.info(f"cloning {url} at {self.build.git_ref}")
        status = self._exec(
            ["git", *config, "clone", "--depth", "1", "--single-branch", "--no-tags", "--branch", self.build.git_ref, "--", url, str(root)],
            what="git clone",
            env={"GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": "http:https:git", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"},
        )
        if status != 0:
            raise BuildFailure(f"git clone of {url} at {self.build.git_ref} failed (exit status {status})")
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, env=self._env(), check=False).stdout.strip()
        self.log.info(f"checked out commit {commit}")
        wanted = (self.build.trigger_metadata or {}).get("commit", "")
        if wanted and commit and not commit.startswith(wanted):
            self.log.info(f"note: the webhook named commit {wanted}; the branch head is {commit}")
        shutil.rmtree(root / ".git", ignore_errors=True)

    def _dockerfile(self, target: RegistryTarget) -> tuple[Path, list[BaseImage]]:
        root = self.workdir / "context"
        path = _inside(root, self.build.dockerfile_path, "Dockerfile path")
        if path.is_symlink() or not path.is_file():
            raise BuildFailure(f"no Dockerfile at {self.build.dockerfile_path!r} in the build context")
        if path.stat().st_size > MAX_DOCKERFILE_BYTES:
            raise BuildFailure("the Dockerfile is larger than 1 MiB")
        text = path.read_text(encoding="utf-8", errors="replace")
        rewritten, bases = rewrite_dockerfile(text, target)
        out = self.workdir / "Dockerfile.moorage"
        out.write_text(rewritten)
        return out, bases

    def _pull(self, bases: list[BaseImage], target: RegistryTarget) -> None:
        robot = self.build.pull_robot
        principal = principal_for_robot(robot) if robot is not None else self._requester()
        for base in bases:
            repository = repository_find(name=base.repository)
            if repository is None or not is_allowed(principal, Action.PULL, repository):
                raise BuildFailure(f"base image {base.remote}: no such repository, or {principal.name} may not pull it")
        if not bases:
            return
        token = self._token(principal, [{"type": "repository", "name": b.repository, "actions": ["pull"]} for b in bases], target)
        for base in bases:
            self.log.info(f"pulling base image {target.host}/{base.remote}")
            status = self._exec(
                ["skopeo", "copy", "--retry-times", "2", "--src-registry-token", token, f"--src-tls-verify={'true' if target.tls else 'false'}",
                 f"docker://{target.host}/{base.remote}", self._storage_ref(base.local_name)],
                what="pull",
            )  # fmt: skip
            if status != 0:
                raise BuildFailure(f"pulling base image {base.remote} failed (exit status {status})")

    def _buildah(self, *args: str) -> list[str]:
        return [
            "buildah", "--root", str(self.storage_root), "--runroot", str(self.run_root), "--storage-driver", "vfs",
            "--registries-conf", str(self.workdir / "registries.conf"), *args,
        ]  # fmt: skip

    def _bud(self, dockerfile: Path, context: Path) -> None:
        args = ["bud", "--isolation", "chroot", "--pull=never", "--format", "oci", "--layers=false", "-f", str(dockerfile), "-t", self.local_image]
        for name, value in sorted((self.build.build_args or {}).items()):
            args += ["--build-arg", f"{name}={value}"]
        status = self._exec(self._buildah(*args, str(context)), what="build")
        if status != 0:
            raise BuildFailure(f"the Dockerfile build failed (buildah exit status {status}); the failing step is in the log above")

    def _image_size(self) -> int:
        result = subprocess.run(
            self._buildah("inspect", "--type", "image", self.local_image), capture_output=True, text=True, env=self._env(), check=False, timeout=120
        )
        if result.returncode != 0:
            raise BuildFailure(f"cannot inspect the built image: {result.stderr.strip()[-500:]}")
        manifest = json.loads(json.loads(result.stdout).get("Manifest") or "{}")
        return sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))

    def _push(self, target: RegistryTarget) -> str:
        principal = self._requester()
        repository = self.build.repository
        if not is_allowed(principal, Action.PUSH, repository):
            raise BuildFailure(f"{principal.name} may no longer push to {repository.full_name}")
        token = self._token(principal, [{"type": "repository", "name": repository.full_name, "actions": ["pull", "push"]}], target)
        tls = f"{'true' if target.tls else 'false'}"
        digest = ""
        for tag in self.build.tags:
            self.log.info(f"pushing {target.host}/{repository.full_name}:{tag}")
            if not digest:
                digestfile = self.workdir / "digest"
                argv = ["skopeo", "copy", "--retry-times", "2", "--dest-registry-token", token, f"--dest-tls-verify={tls}", "--digestfile", str(digestfile),
                        self._storage_ref(self.local_image), f"docker://{target.host}/{repository.full_name}:{tag}"]  # fmt: skip
            else:
                # Further tags point at the very manifest just pushed (no second conversion).
                argv = ["skopeo", "copy", "--retry-times", "2", "--src-registry-token", token, "--dest-registry-token", token,
                        f"--src-tls-verify={tls}", f"--dest-tls-verify={tls}",
                        f"docker://{target.host}/{repository.full_name}@{digest}", f"docker://{target.host}/{repository.full_name}:{tag}"]  # fmt: skip
            status = self._exec(argv, what="push")
            if status != 0:
                raise BuildFailure(f"pushing {repository.full_name}:{tag} failed (exit status {status})")
            if not digest:
                digest = (self.workdir / "digest").read_text().strip()
        return digest

    def run(self) -> str:
        try:
            target = registry_target()
            (self.workdir / "auth.json").write_text('{"auths": {}}')
            (self.workdir / "registries.conf").write_text(
                f'unqualified-search-registries = []\n\n[[registry]]\nlocation = "{target.host}"\ninsecure = {"false" if target.tls else "true"}\n'
            )
            context = self._fetch_context()
            dockerfile, bases = self._dockerfile(target)
            self._check_cancel()
            self._pull(bases, target)
            if not build_phase_set(build=self.build, phase=BuildPhase.BUILDING):
                raise BuildCancelled()
            self._bud(dockerfile, context)
            size = self._image_size()
            if size > self.config["max_image_bytes"]:
                raise BuildFailure(f"the built image is {size} bytes, more than builds.max_image_bytes ({self.config['max_image_bytes']})")
            if not build_phase_set(build=self.build, phase=BuildPhase.PUSHING):
                raise BuildCancelled()
            digest = self._push(target)
            self.log.info(f"pushed {self.build.repository.full_name}@{digest} as {', '.join(self.build.tags)}")
            self.log.flush()
            return build_finish(build=self.build, phase=BuildPhase.COMPLETE, manifest_digest=digest).phase
        except BuildCancelled:
            self.log.info("build cancelled: stopped")
            self.log.flush()
            return build_finish(build=self.build, phase=BuildPhase.CANCELLED).phase
        except BuildFailure as failure:
            self.log.flush()
            return build_finish(build=self.build, phase=BuildPhase.ERROR, error=str(failure)).phase
        except Exception as exc:  # noqa: BLE001 - any other failure still ends the build
            logger.exception("build %s failed", self.build.uuid)
            self.log.flush()
            return build_finish(build=self.build, phase=BuildPhase.ERROR, error=f"internal error ({type(exc).__name__}); see the worker log").phase
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def build_run(*, build_id: int) -> str | None:
    """Run a queued build to its end; None when it was not this worker's to run (claimed by
    another, cancelled or finished). Returns the final phase."""
    build = build_claim(build_id=build_id)
    if build is None:
        return None
    return _Runner(build).run()
