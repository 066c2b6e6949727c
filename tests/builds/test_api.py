"""The builds API in process (real database and storage; the worker's part is in test_builds_e2e):
file drop, requests and permissions, cancel, logs and their archive, triggers and the webhook,
events."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import tarfile
import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import principal_for_user
from organizations.services import organization_create
from repositories.models.builds import BuildPhase, BuildTrigger, RepositoryBuild
from repositories.services.build_logs import build_log_read, build_logs_archive_due
from repositories.services.builds import build_finish
from repositories.services.repositories import permission_set, repository_create
from repositories.signals import registry_event
from tests.api.conftest import make_user


@pytest.fixture
def events():
    seen: list[tuple[str, dict]] = []

    def receive(sender, event, payload=None, **kwargs):
        seen.append((event, dict(payload or {})))

    registry_event.connect(receive, weak=False)
    yield seen
    registry_event.disconnect(receive)


@pytest.fixture
def loopback_git(settings):
    """Trigger URLs on loopback pass the outbound policy (never contacted here)."""
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}}


@pytest.fixture
def setup(db):
    owner, reader, outsider = make_user("owner"), make_user("reader"), make_user("outsider")
    organization_create(name="acme", creator=owner)
    repo = repository_create(namespace_name="acme", name="app", creator=principal_for_user(owner, "password"))
    permission_set(repository=repo, role="read", user=reader)
    clients = {}
    for user in (owner, reader, outsider):
        client = APIClient()
        client.force_authenticate(user=user, token=principal_for_user(user, "password"))
        clients[user.username] = client
    return repo, clients


def _context() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"FROM acme/base\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _upload(client: APIClient, body: bytes | None = None) -> str:
    drop = client.post("/api/v1/filedrop/", {"mimeType": "application/x-tar"}, format="json")
    assert drop.status_code == 200, drop.content
    url = drop.json()["url"]
    put = APIClient().put(url.partition("testserver")[2], data=body or _context(), content_type="application/octet-stream")
    assert put.status_code == 200, put.content
    return drop.json()["file_id"]


def test_the_file_drop_takes_one_signed_upload(setup):
    _repo, clients = setup
    drop = clients["owner"].post("/api/v1/filedrop/", {}, format="json").json()
    path = drop["url"].partition("testserver")[2]
    forged = path.rpartition("token=")[0] + "token=forged"
    assert APIClient().put(forged, data=b"x", content_type="application/octet-stream").status_code == 401
    ok = APIClient().put(path, data=_context(), content_type="application/octet-stream")
    assert ok.status_code == 200 and ok.json()["size"] == len(_context())
    again = APIClient().put(path, data=_context(), content_type="application/octet-stream")
    assert again.status_code == 409


def test_a_context_over_the_size_limit_is_refused(setup, settings):
    _repo, clients = setup
    with override_settings(MOORAGE={**settings.MOORAGE, "builds": {**settings.MOORAGE["builds"], "max_context_bytes": 1024}}):
        drop = clients["owner"].post("/api/v1/filedrop/", {}, format="json").json()
        response = APIClient().put(drop["url"].partition("testserver")[2], data=b"x" * 4096, content_type="application/octet-stream")
    assert response.status_code == 413
    assert response.json()["error_type"] == "size_invalid"


def test_a_build_request_needs_write_permission(setup):
    repo, clients = setup
    file_id = _upload(clients["owner"])
    body = {"file_id": file_id, "docker_tags": ["v1"]}
    assert clients["outsider"].post(f"/api/v1/repository/{repo.full_name}/build/", body, format="json").status_code == 404
    assert clients["reader"].post(f"/api/v1/repository/{repo.full_name}/build/", body, format="json").status_code == 403
    assert clients["reader"].get(f"/api/v1/repository/{repo.full_name}/build/").status_code == 200  # reading the list is fine
    assert clients["reader"].get(f"/api/v1/repository/{repo.full_name}/build/x/logs").status_code == 403  # logs need write


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"file_id": "0" * 32}, "file_id"),
        ({"git_url": "file:///etc", "ref": "main"}, "git_url"),
        ({"git_url": "https://10.0.0.1/x.git", "ref": "main"}, "host"),
        ({}, "git_url"),
        ({"file_id": "x", "dockerfile_path": "../Dockerfile"}, None),
        ({"archive_url": "https://example.com/ctx.tgz"}, None),
    ],
)
def test_bad_build_requests_get_a_clear_error(setup, body, field):
    repo, clients = setup
    response = clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error_type"] == "invalid_request"
    if field:
        assert field in json.dumps(response.json()["detail"])


def test_a_waiting_build_is_cancelled_at_once_and_announced(setup, events, django_capture_on_commit_callbacks):
    repo, clients = setup
    file_id = _upload(clients["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        created = clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", {"file_id": file_id, "docker_tags": ["v1", "v2"], "build_args": {"A": "1"}}, format="json")
    assert created.status_code == 201, created.content
    build = created.json()
    assert build["phase"] == "waiting" and build["tags"] == ["v1", "v2"] and build["resource_key"] == file_id
    listed = clients["owner"].get(f"/api/v1/repository/{repo.full_name}/build/").json()["builds"]
    assert [b["id"] for b in listed] == [build["id"]]

    with django_capture_on_commit_callbacks(execute=True):
        assert clients["owner"].delete(f"/api/v1/repository/{repo.full_name}/build/{build['id']}").status_code == 204
    assert clients["owner"].get(f"/api/v1/repository/{repo.full_name}/build/{build['id']}/status").json()["phase"] == "cancelled"
    assert clients["owner"].delete(f"/api/v1/repository/{repo.full_name}/build/{build['id']}").status_code == 400
    assert [(e, p["build_id"]) for e, p in events] == [("build_queued", build["id"]), ("build_cancelled", build["id"])]
    assert events[0][1]["docker_tags"] == ["v1", "v2"] and events[0][1]["repository"] == repo.full_name


def test_logs_page_from_an_offset_and_read_the_same_after_archiving(setup):
    repo, clients = setup
    file_id = _upload(clients["owner"])
    build_id = clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", {"file_id": file_id}, format="json").json()["id"]
    build = RepositoryBuild.objects.get(uuid=build_id)
    build_finish(build=build, phase=BuildPhase.ERROR, error="boom at STEP 2")
    url = f"/api/v1/repository/{repo.full_name}/build/{build_id}/logs"
    live = clients["owner"].get(url).json()
    assert [e.get("type") for e in live["logs"]] == ["phase", "error", "phase"]
    assert live["logs"][1]["message"] == "boom at STEP 2"
    assert clients["owner"].get(url, {"start": 2}).json()["logs"] == live["logs"][2:]

    assert build_logs_archive_due(older_than_s=0) == 1
    build.refresh_from_db()
    assert build.log_archive_path
    assert build_log_read(build=build).logs == live["logs"]
    assert clients["owner"].get(url).json()["logs"] == live["logs"]
    assert build_logs_archive_due(older_than_s=0) == 0  # idempotent


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_trigger_starts_builds_on_signed_webhooks_and_disables_itself_after_failures(setup, settings, loopback_git):
    repo, clients = setup
    base = f"/api/v1/repository/{repo.full_name}/trigger/"
    assert clients["reader"].post(base, {"git_url": "git://127.0.0.1:9/x.git"}, format="json").status_code == 403
    created = clients["owner"].post(base, {"git_url": "git://127.0.0.1:9/x.git", "ref": "main", "tag_templates": ["${branch}", "sha-${short_sha}"]}, format="json")
    assert created.status_code == 201, created.content
    trigger, secret = created.json(), created.json()["secret"]
    assert "secret" not in clients["owner"].get(f"{base}{trigger['id']}").json()
    hook = f"/webhooks/push/trigger/{trigger['id']}"
    body = json.dumps({"ref": "refs/heads/main", "commit": "0123456789abcdef0123456789abcdef01234567"}).encode()

    assert APIClient().post(hook, data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=_sign("wrong", body)).status_code == 401
    assert RepositoryBuild.objects.count() == 0
    limit = settings.MOORAGE["builds"]["trigger_failure_limit"]
    for attempt in range(limit):
        response = APIClient().post(hook, data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=_sign(secret, body))
        assert response.status_code == 202, response.content
        build = RepositoryBuild.objects.get(uuid=response.json()["build_id"])
        assert build.tags == ["main", "sha-0123456"] and build.git_ref == "main"
        build_finish(build=build, phase=BuildPhase.ERROR, error=f"failure {attempt}")
    state = clients["owner"].get(f"{base}{trigger['id']}").json()
    assert state["enabled"] is False and state["disabled_reason"] == "successive_build_failures"
    assert APIClient().post(hook, data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=_sign(secret, body)).status_code == 409
    history = clients["owner"].get(f"{base}{trigger['id']}/builds", {"limit": 10}).json()["builds"]
    assert len(history) == limit and all(b["phase"] == "error" for b in history)

    activated = clients["owner"].post(f"{base}{trigger['id']}/activate", {}, format="json").json()
    assert activated["enabled"] is True and activated["consecutive_failures"] == 0
    started = clients["owner"].post(f"{base}{trigger['id']}/start", {"branch_name": "release"}, format="json")
    assert started.status_code == 201 and started.json()["ref"] == "release"
    assert clients["owner"].delete(f"{base}{trigger['id']}").status_code == 204
    assert not BuildTrigger.objects.exists()


def test_a_success_resets_the_trigger_failure_count(setup, loopback_git):
    repo, clients = setup
    trigger_id = clients["owner"].post(f"/api/v1/repository/{repo.full_name}/trigger/", {"git_url": "git://127.0.0.1:9/x.git"}, format="json").json()["id"]
    start = f"/api/v1/repository/{repo.full_name}/trigger/{trigger_id}/start"
    first = RepositoryBuild.objects.get(uuid=clients["owner"].post(start, {}, format="json").json()["id"])
    build_finish(build=first, phase=BuildPhase.ERROR, error="x")
    assert BuildTrigger.objects.get().consecutive_failures == 1
    second = RepositoryBuild.objects.get(uuid=clients["owner"].post(start, {}, format="json").json()["id"])
    build_finish(build=second, phase=BuildPhase.COMPLETE, manifest_digest="sha256:" + "a" * 64)
    assert BuildTrigger.objects.get().consecutive_failures == 0


def test_the_repository_page_lists_builds_and_links_writers_to_the_live_log(setup, client):
    repo, clients = setup
    file_id = _upload(clients["owner"])
    build_id = clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", {"file_id": file_id, "docker_tags": ["v9"]}, format="json").json()["id"]
    build = RepositoryBuild.objects.get(uuid=build_id)
    build_finish(build=build, phase=BuildPhase.ERROR, error="error building at STEP \"RUN exit 7\"")
    log_url = f"/ui/repository/{repo.full_name}/build/{build_id}"

    client.login(username="owner", password="correct-horse-battery")
    page = client.get(f"/ui/repository/{repo.full_name}").content.decode()
    assert "Recent builds" in page and log_url in page and "v9" in page
    log_page = client.get(log_url).content.decode()
    assert "RUN exit 7" in log_page and 'data-finished="1"' in log_page and "build-log.js" in log_page

    client.logout()
    client.login(username="reader", password="correct-horse-battery")
    page = client.get(f"/ui/repository/{repo.full_name}").content.decode()
    assert "Recent builds" in page and log_url not in page  # readers see phases, not logs
    assert client.get(log_url).status_code == 404


def test_the_admin_lists_builds_read_only_and_cancels_them(setup, client):
    repo, clients = setup
    make_user("root", is_superuser=True)
    file_id = _upload(clients["owner"])
    build_id = clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", {"file_id": file_id}, format="json").json()["id"]
    build = RepositoryBuild.objects.get(uuid=build_id)
    client.login(username="root", password="correct-horse-battery")
    listing = client.get("/admin/repositories/repositorybuild/")
    assert listing.status_code == 200 and str(build.uuid) in listing.content.decode()
    detail = client.get(f"/admin/repositories/repositorybuild/{build.pk}/change/")
    assert detail.status_code == 200 and "full log" in detail.content.decode()
    response = client.post("/admin/repositories/repositorybuild/", {"action": "cancel_builds", "_selected_action": [build.pk]}, follow=True)
    assert response.status_code == 200
    build.refresh_from_db()
    assert build.phase == BuildPhase.CANCELLED
    assert client.get("/admin/repositories/buildtrigger/").status_code == 200


def _sleeping(marker: str) -> bool:
    import os
    from pathlib import Path

    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if f"sleep {marker}".encode() in Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" "):
                    return True
            except OSError:
                continue
    return False


def test_a_build_step_past_the_time_limit_is_killed_with_its_process_group(setup, tmp_path, settings):
    from repositories.services.build_runner import BuildFailure, _Runner

    repo, clients = setup
    settings.MOORAGE = {**settings.MOORAGE, "builds": {**settings.MOORAGE["builds"], "work_dir": str(tmp_path)}}
    build = RepositoryBuild.objects.get(uuid=clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", {"file_id": _upload(clients["owner"])}, format="json").json()["id"])
    runner = _Runner(build)
    runner.deadline = time.monotonic() + 1  # the child (and its grandchild sleep) must go at the limit
    marker = "4711.5"
    with pytest.raises(BuildFailure, match="longer than"):
        runner._exec(["sh", "-c", f"echo started; sleep {marker}; echo never"], what="step")
    assert not _sleeping(marker)


def test_a_cancel_request_kills_the_running_step(setup, tmp_path, settings):
    from repositories.services.build_runner import BuildCancelled, _Runner

    repo, clients = setup
    settings.MOORAGE = {**settings.MOORAGE, "builds": {**settings.MOORAGE["builds"], "work_dir": str(tmp_path)}}
    build = RepositoryBuild.objects.get(uuid=clients["owner"].post(f"/api/v1/repository/{repo.full_name}/build/", {"file_id": _upload(clients["owner"])}, format="json").json()["id"])
    RepositoryBuild.objects.filter(pk=build.pk).update(phase=BuildPhase.BUILDING, cancel_requested=True)
    marker = "4712.5"
    with pytest.raises(BuildCancelled):
        _Runner(build)._exec(["sh", "-c", f"sleep {marker}"], what="step")
    assert not _sleeping(marker)
