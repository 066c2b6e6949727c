"""Builds end to end: a live server, a Celery worker running the real buildah, skopeo to check
what was pushed, a git daemon on loopback for the trigger."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.builds.conftest import BuildEnv, make_tar, requires_build_tools
from tests.e2e.helpers import run, tar_files
from tests.e2e_identity.support import django_shell
from tests.live import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires_build_tools()]


def _request_build(env: BuildEnv, repo: str, **body) -> dict:
    response = env.api("POST", f"repository/{repo}/build/", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["phase"] == "waiting"
    return response.json()


def _messages(logs: dict) -> list[str]:
    return [entry["message"] for entry in logs["logs"]]


def _skopeo(env: BuildEnv, *args: str) -> subprocess.CompletedProcess:
    temp = tempfile.mkdtemp(prefix="skopeo-")
    try:
        return run(["skopeo", *args], env={"TMPDIR": temp})
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _pull_layers(env: BuildEnv, reference: str, workdir: Path) -> tuple[dict, list[dict[str, bytes]]]:
    """Copy an image with skopeo into an OCI layout: (config, files of each layer)."""
    layout = workdir / "pulled"
    _skopeo(env, "copy", "--src-tls-verify=false", "--src-creds", env.skopeo_creds(), f"docker://{env.registry.host}/{reference}", f"oci:{layout}:x")
    index = json.loads((layout / "index.json").read_text())
    blob = lambda digest: (layout / "blobs" / "sha256" / digest.partition(":")[2]).read_bytes()  # noqa: E731
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    return config, [tar_files(blob(layer["digest"])) for layer in manifest["layers"]]


@pytest.fixture(scope="module")
def finished_build(build_env: BuildEnv, tmp_path_factory) -> tuple[str, dict]:
    """One successful archive build of ``<org>/app`` (shared by the checks below)."""
    repo = build_env.create_repo("app")
    dockerfile = (
        f"FROM {build_env.base}\n"
        "ARG GREETING=unset\n"
        "COPY hello.txt /hello.txt\n"
        "RUN echo \"$GREETING\" > /greeting.txt\n"
        "LABEL org.example.built=yes org.example.flavour=\"tiny\"\n"
    )
    file_id = build_env.upload_context(make_tar({"Dockerfile": dockerfile, "hello.txt": "hello from the context\n"}))
    build = _request_build(build_env, repo, file_id=file_id, docker_tags=["v1", "latest"], build_args={"GREETING": "hi there"})
    status = build_env.wait(repo, build["id"])
    assert status["phase"] == "complete", build_env.logs(repo, build["id"])
    return repo, status


def test_archive_build_pushes_an_image_with_the_added_layers_and_labels(build_env: BuildEnv, finished_build, tmp_path):
    repo, status = finished_build
    assert status["tags"] == ["v1", "latest"]
    config, layers = _pull_layers(build_env, f"{repo}:v1", tmp_path)
    labels = config["config"]["Labels"]
    assert labels["org.example.built"] == "yes" and labels["org.example.flavour"] == "tiny"
    assert labels["org.example.base"] == "yes"  # inherited from the base image
    files = {name: content for layer in layers for name, content in layer.items()}
    assert files["hello.txt"] == b"hello from the context\n"
    assert files["greeting.txt"] == b"hi there\n"  # the build argument reached RUN
    assert files["base.txt"] == b"from the base image\n"
    assert len(layers) >= 2 and "hello.txt" not in layers[0]  # base layer first, the build's on top
    # every tag points at the digest the build reports
    inspected = json.loads(_skopeo(build_env, "inspect", "--tls-verify=false", "--creds", build_env.skopeo_creds(), f"docker://{build_env.registry.host}/{repo}:latest").stdout)
    assert inspected["Digest"] == status["manifest_digest"]


def test_build_logs_show_phases_and_steps_and_poll_from_an_offset(build_env: BuildEnv, finished_build):
    repo, status = finished_build
    logs = build_env.logs(repo, status["id"])
    phases = [entry["data"]["phase"] for entry in logs["logs"] if entry.get("type") == "phase"]
    assert phases == ["waiting", "pulling", "building", "pushing", "complete"]
    commands = [entry["message"] for entry in logs["logs"] if entry.get("type") == "command"]
    assert any("COPY hello.txt /hello.txt" in c for c in commands)
    assert logs["total"] == len(logs["logs"])
    tail = build_env.logs(repo, status["id"], start=logs["total"] - 2)
    assert tail["start"] == logs["total"] - 2 and tail["logs"] == logs["logs"][-2:]


def test_archived_logs_stay_readable_after_the_archiver_ran(build_env: BuildEnv, finished_build):
    repo, status = finished_build
    before = build_env.logs(repo, status["id"])
    moved = django_shell(
        build_env.registry,
        "import json\nfrom repositories.services.build_logs import build_logs_archive_due\n"
        "print(EMIT + json.dumps({'archived': build_logs_archive_due(older_than_s=0)}))",
    )
    assert moved["archived"] >= 1
    assert build_env.api("GET", f"repository/{repo}/build/{status['id']}").json()["logs_archived"] is True
    after = build_env.logs(repo, status["id"])
    assert after["logs"] == before["logs"] and after["total"] == before["total"]


def test_failing_dockerfile_ends_in_error_with_the_failing_step_in_the_logs(build_env: BuildEnv):
    repo = build_env.create_repo("broken")
    dockerfile = f"FROM {build_env.base}\nRUN echo before\nRUN exit 7\nRUN echo never\n"
    build = _request_build(build_env, repo, file_id=build_env.upload_context(make_tar({"Dockerfile": dockerfile})))
    status = build_env.wait(repo, build["id"])
    assert status["phase"] == "error"
    assert "failing step" in status["error"]
    messages = _messages(build_env.logs(repo, build["id"]))
    assert any("RUN exit 7" in m and "error" in m.lower() for m in messages), messages
    assert not any("STEP 4/4" in m for m in messages)
    missing = requests.get(f"{build_env.registry.url}/v2/{repo}/tags/list", auth=(build_env.username, build_env.password), timeout=30)
    assert missing.status_code == 404 or missing.json().get("tags") in (None, [])


def _sleepers(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"sleep {marker}" in cmdline:
                pids.append(int(entry))
    return pids


def test_cancel_stops_a_running_build(build_env: BuildEnv):
    repo = build_env.create_repo("cancelled")
    marker = str(3000 + os.getpid() % 997)  # a sleep only this test runs
    dockerfile = f"FROM {build_env.base}\nRUN sleep {marker}\nLABEL never=pushed\n"
    build = _request_build(build_env, repo, file_id=build_env.upload_context(make_tar({"Dockerfile": dockerfile})))
    deadline = time.monotonic() + 180
    while not _sleepers(marker):
        assert time.monotonic() < deadline, build_env.logs(repo, build["id"])
        assert build_env.api("GET", f"repository/{repo}/build/{build['id']}/status").json()["phase"] in ("waiting", "pulling", "building")
        time.sleep(0.3)
    assert build_env.api("GET", f"repository/{repo}/build/{build['id']}/status").json()["phase"] == "building"

    cancel = build_env.api("DELETE", f"repository/{repo}/build/{build['id']}")
    assert cancel.status_code == 204, cancel.text
    status = build_env.wait(repo, build["id"])
    assert status["phase"] == "cancelled"
    assert _sleepers(marker) == []  # the process group was killed
    assert any("cancelled" in m for m in _messages(build_env.logs(repo, build["id"])))
    again = build_env.api("DELETE", f"repository/{repo}/build/{build['id']}")
    assert again.status_code == 400  # a finished build cannot be cancelled


def test_context_path_traversal_is_refused(build_env: BuildEnv):
    repo = build_env.create_repo("traversal")
    archive = make_tar({"Dockerfile": f"FROM {build_env.base}\nCOPY . /ctx\n", "../escape.txt": "outside"})
    build = _request_build(build_env, repo, file_id=build_env.upload_context(archive))
    status = build_env.wait(repo, build["id"])
    assert status["phase"] == "error"
    assert "leaving the context" in status["error"]


def test_a_symlink_out_of_the_context_is_refused(build_env: BuildEnv):
    repo = build_env.create_repo("symlink")
    archive = make_tar({"Dockerfile": f"FROM {build_env.base}\nCOPY passwd /passwd\n", "passwd": "symlink:/etc/passwd"})
    build = _request_build(build_env, repo, file_id=build_env.upload_context(archive))
    status = build_env.wait(repo, build["id"])
    assert status["phase"] == "error"
    assert "symbolic link leading outside" in status["error"]


def test_a_base_image_from_another_registry_is_refused(build_env: BuildEnv):
    repo = build_env.create_repo("foreign")
    archive = make_tar({"Dockerfile": "FROM docker.io/library/busybox:latest\nRUN true\n"})
    build = _request_build(build_env, repo, file_id=build_env.upload_context(archive))
    status = build_env.wait(repo, build["id"])
    assert status["phase"] == "error"
    assert "from this registry" in status["error"]


# --- git trigger ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def git_server(tmp_path_factory):
    """A git repository with a Dockerfile in ``app/``, served by ``git daemon`` on loopback."""
    base = tmp_path_factory.mktemp("git")
    work = base / "work"
    work.mkdir()
    git_env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
               "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip
    (work / "app").mkdir()
    (work / "app" / "from-git.txt").write_text("checked out from git\n")
    run(["git", "init", "-q", "-b", "main", work], env=git_env)
    served = base / "served"
    served.mkdir()
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={served}", "--listen=127.0.0.1", f"--port={port}", str(served)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        yield work, served, git_env, f"git://127.0.0.1:{port}/repo.git"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _commit_and_publish(git_server, dockerfile: str) -> str:
    work, served, git_env, _url = git_server
    (work / "app" / "Dockerfile").write_text(dockerfile)
    run(["git", "-C", work, "add", "-A"], env=git_env)
    run(["git", "-C", work, "commit", "-q", "-m", "change"], env=git_env)
    shutil.rmtree(served / "repo.git", ignore_errors=True)
    run(["git", "clone", "-q", "--bare", work, served / "repo.git"], env=git_env)
    return run(["git", "-C", work, "rev-parse", "HEAD"], env=git_env).stdout.strip()


def _signed(secret: str, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(), "Content-Type": "application/json"}


def test_git_trigger_builds_on_a_signed_webhook_and_refuses_a_bad_signature(build_env: BuildEnv, git_server):
    repo = build_env.create_repo("fromgit")
    commit = _commit_and_publish(git_server, f"FROM {build_env.base}\nCOPY from-git.txt /from-git.txt\nLABEL org.example.source=git\n")
    created = build_env.api("POST", f"repository/{repo}/trigger/", json={"git_url": git_server[3], "ref": "main", "context": "app", "dockerfile_path": "app/Dockerfile", "tag_templates": ["${branch}"]})
    assert created.status_code == 201, created.text
    trigger, secret = created.json(), created.json()["secret"]
    hook = f"{build_env.registry.url}/webhooks/push/trigger/{trigger['id']}"
    body = json.dumps({"ref": "refs/heads/main", "commit": commit}).encode()

    bad = requests.post(hook, data=body, headers=_signed("not-the-secret", body), timeout=30)
    assert bad.status_code == 401
    unsigned = requests.post(hook, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert unsigned.status_code == 401
    assert build_env.api("GET", f"repository/{repo}/trigger/{trigger['id']}/builds").json()["builds"] == []

    good = requests.post(hook, data=body, headers=_signed(secret, body), timeout=30)
    assert good.status_code == 202, good.text
    status = build_env.wait(repo, good.json()["build_id"])
    assert status["phase"] == "complete", build_env.logs(repo, good.json()["build_id"])
    assert status["trigger"]["id"] == trigger["id"] and status["trigger_metadata"]["commit"] == commit
    history = build_env.api("GET", f"repository/{repo}/trigger/{trigger['id']}/builds").json()["builds"]
    assert [b["id"] for b in history] == [status["id"]]
    inspected = json.loads(_skopeo(build_env, "inspect", "--tls-verify=false", "--creds", build_env.skopeo_creds(), f"docker://{build_env.registry.host}/{repo}:main").stdout)
    assert inspected["Labels"]["org.example.source"] == "git"
