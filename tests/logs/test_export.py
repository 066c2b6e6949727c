"""Exports of a date range: archived and live entries, the exportlogs API and who may use it, the
download endpoint and its signed link, delivery to a real callback server and a real SMTP server
on loopback, and ``manage.py export_logs``."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from repositories.models import LogExport
from repositories.services.logs import export_link, logs_rotate
from repositories.services.repositories import permission_set, repository_get_or_create
from tasks.logs import export as export_task
from tests.live import free_port
from tests.logs.conftest import as_principal, log_entry

pytestmark = pytest.mark.django_db


def day(delta_days: int) -> str:
    return (timezone.now() - timedelta(days=delta_days)).strftime("%Y-%m-%d")


@pytest.fixture
def history(acme_app, alice, storage):
    """acme/app: one entry archived by rotation inside the range, one archived outside it, one
    live inside it and one live after it; acme/other: one archived inside the range."""
    now = timezone.now()
    other = repository_get_or_create(name="acme/other")
    by = as_principal(alice)
    log_entry("push_repo", by=by, repository=acme_app, at=now - timedelta(days=200), metadata={"which": "archived-too-old"})
    log_entry("push_repo", by=by, repository=acme_app, at=now - timedelta(days=100), metadata={"which": "archived-in-range"})
    log_entry("push_repo", by=by, repository=other, at=now - timedelta(days=100), metadata={"which": "other-repository"})
    assert logs_rotate(retention_days=90).archived == 3
    log_entry("delete_tag", by=by, repository=acme_app, at=now - timedelta(days=10), metadata={"which": "live-in-range"})
    log_entry("delete_tag", by=by, repository=acme_app, at=now - timedelta(days=1), metadata={"which": "live-too-new"})
    return {"starttime": day(150), "endtime": day(5)}


def download(client: APIClient, export_id: str, **params):
    return client.get(f"/api/v1/exportlogs/{export_id}", params)


def document(response) -> dict:
    assert response.status_code == 200, getattr(response, "content", b"")
    return json.loads(b"".join(response.streaming_content))


def test_a_repository_export_holds_archived_and_live_entries_of_the_range(login, alice, history):
    client = login(alice)
    response = client.post("/api/v1/repository/acme/app/exportlogs", history, format="json")
    assert response.status_code == 200, response.content
    export_id = response.json()["export_id"]
    assert download(client, export_id).status_code == 202  # queued, not written yet

    assert export_task(export_id) == "done"

    body = document(download(client, export_id))
    assert body["export_id"] == export_id and body["terminated"] is True
    assert body["details"]["repository"] == "acme/app"
    assert [entry["metadata"]["which"] for entry in body["logs"]] == ["archived-in-range", "live-in-range"]
    assert body["logs"][0]["performer"] == {"kind": "user", "name": "alice", "is_robot": False}
    assert body["logs"][0]["namespace"] == {"kind": "org", "name": "acme"}
    export = LogExport.objects.get(export_id=export_id)
    assert (export.count, export.state, export.location) == (2, "done", "local")
    assert export_task(export_id) == "done"  # idempotent: a finished export is left alone


def test_an_organization_export_covers_every_repository_of_it(login, alice, history):
    client = login(alice)
    export_id = client.post("/api/v1/organization/acme/exportlogs", history, format="json").json()["export_id"]
    export_task(export_id)

    which = [entry["metadata"]["which"] for entry in document(download(client, export_id))["logs"]]

    assert sorted(which) == ["archived-in-range", "live-in-range", "other-repository"]


@pytest.mark.parametrize(
    ("path", "who", "expected"),
    [
        ("/api/v1/repository/acme/app/exportlogs", "bob", 404),  # cannot even read it: not revealed
        ("/api/v1/repository/acme/app/exportlogs", None, 401),
        ("/api/v1/organization/acme/exportlogs", "bob", 403),
        ("/api/v1/organization/nosuchorg/exportlogs", "alice", 403),  # not revealed
        ("/api/v1/organization/acme/exportlogs", "root", 200),  # superuser
        ("/api/v1/user/exportlogs", "bob", 200),
        ("/api/v1/user/exportlogs", None, 401),
    ],
)
def test_who_may_ask_for_an_export(login, alice, bob, root, acme_app, path, who, expected):
    client = login({"alice": alice, "bob": bob, "root": root}[who]) if who else APIClient()

    response = client.post(path, {}, format="json")

    assert response.status_code == expected, response.content
    assert LogExport.objects.count() == (1 if expected == 200 else 0)


def test_a_writer_who_is_not_admin_is_refused(login, bob, acme_app):
    permission_set(repository=acme_app, user=bob, role="write")

    response = login(bob).post("/api/v1/repository/acme/app/exportlogs", {}, format="json")

    assert response.status_code == 403, response.content
    assert not LogExport.objects.exists()


def test_bad_dates_and_callbacks_are_refused(login, alice, acme_app):
    client = login(alice)
    for body, field in (({"callback_url": "ftp://x.test/"}, "callback_url"), ({"callback_email": "nope"}, "callback_email")):
        response = client.post("/api/v1/user/exportlogs", body, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert client.post("/api/v1/user/exportlogs", {"starttime": "not a date"}, format="json").status_code == 400
    # the outbound (SSRF) policy: loopback, link-local and metadata addresses are refused by default
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/"):
        response = client.post("/api/v1/user/exportlogs", {"callback_url": url}, format="json")
        assert response.status_code == 400 and "not allowed" in response.json()["error_message"], response.content
    assert not LogExport.objects.exists()


def test_only_the_requester_or_a_signed_link_downloads(login, alice, bob, root, history):
    export_id = login(alice).post("/api/v1/repository/acme/app/exportlogs", history, format="json").json()["export_id"]
    export_task(export_id)
    export = LogExport.objects.get(export_id=export_id)

    assert download(login(bob), export_id).status_code == 404
    assert download(APIClient(), export_id).status_code == 404
    assert download(APIClient(), export_id, token="forged").status_code == 404
    assert len(document(download(login(root), export_id))["logs"]) == 2

    link = urlsplit(export_link(export))
    assert len(document(APIClient().get(f"{link.path}?{link.query}"))["logs"]) == 2
    # a link older than logs.export_link_hours (24 by default) is refused
    old = _SignedHoursAgo(25).sign_object(str(export.export_id), compress=True)
    assert download(APIClient(), export_id, token=old).status_code == 404
    fresh = _SignedHoursAgo(23).sign_object(str(export.export_id), compress=True)
    assert download(APIClient(), export_id, token=fresh).status_code == 200


class _SignedHoursAgo(signing.TimestampSigner):
    """Signs as the download link does, but as if it were ``hours`` ago."""

    def __init__(self, hours: int) -> None:
        super().__init__(salt="moorage.logs.export_download")
        self.hours = hours

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.hours * 3600)


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        self.received.append((self.path, self.headers["Content-Type"], json.loads(self.rfile.read(length))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_the_link_is_posted_to_the_callback_url(login, alice, history, settings):
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}}
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks/logs"
        export_id = login(alice).post("/api/v1/repository/acme/app/exportlogs", {**history, "callback_url": url}, format="json").json()["export_id"]
        export_task(export_id)
    finally:
        server.shutdown()
        server.server_close()

    [(path, content_type, body)] = _Receiver.received
    assert (path, content_type) == ("/hooks/logs", "application/json")
    assert (body["export_id"], body["status"]) == (export_id, "success")
    link = urlsplit(body["exported_data_url"])
    assert link.path == f"/api/v1/exportlogs/{export_id}"
    # the receiver needs no credentials: the link is signed
    assert len(document(APIClient().get(f"{link.path}?{link.query}"))["logs"]) == 2
    assert LogExport.objects.get(export_id=export_id).delivery == "callback 204"


def test_the_link_is_e_mailed(login, alice, history):
    from aiosmtpd.controller import Controller

    class Handler:
        messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
            self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=controller.port,
            EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="", EMAIL_USE_TLS=False, EMAIL_USE_SSL=False,
        ):
            export_id = login(alice).post(
                "/api/v1/repository/acme/app/exportlogs", {**history, "callback_email": "alice@acme.test"}, format="json"
            ).json()["export_id"]
            export_task(export_id)
    finally:
        controller.stop()

    [(recipients, message)] = handler.messages
    assert recipients == ["alice@acme.test"]
    assert f"/api/v1/exportlogs/{export_id}?token=" in message
    assert "2 entries" in message


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_logs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_writes_the_json_document(history):
    out, err = run_command("--start", history["starttime"], "--end", history["endtime"], "--repository", "acme/app", "--json")

    body = json.loads(out)
    assert [entry["metadata"]["which"] for entry in body["logs"]] == ["archived-in-range", "live-in-range"]
    assert body["details"]["repository"] == "acme/app"
    assert "reading archive 1/1" in err
    assert "Exported 2 entries to stdout" in err


def test_the_command_writes_text_lines_to_a_file(history, tmp_path):
    target = tmp_path / "acme.log"

    out, err = run_command("--start", history["starttime"], "--end", history["endtime"], "--namespace", "acme", "--output", str(target))

    lines = target.read_text().splitlines()
    assert out == ""
    assert len(lines) == 3
    assert lines[0].split()[6] == "push_repo" and '"which":"archived-in-range"' in lines[0]
    assert f"Exported 3 entries to {target}" in err


def test_the_command_refuses_bad_arguments(history):
    with pytest.raises(CommandError, match="no repository named acme/nope"):
        run_command("--start", "2026-01-01", "--end", "2026-01-02", "--repository", "acme/nope")
    with pytest.raises(CommandError, match="starttime"):
        run_command("--start", "yesterday", "--end", "2026-01-02")


def test_old_exports_are_removed_by_the_rotation(login, alice, history, storage_root):
    client = login(alice)
    old_id = client.post("/api/v1/repository/acme/app/exportlogs", history, format="json").json()["export_id"]
    new_id = client.post("/api/v1/repository/acme/app/exportlogs", history, format="json").json()["export_id"]
    export_task(old_id)
    export_task(new_id)
    old, new = LogExport.objects.get(export_id=old_id), LogExport.objects.get(export_id=new_id)
    LogExport.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=8))  # export_retention_days: 7

    assert logs_rotate().exports_removed == 1

    assert not (storage_root / old.path).exists() and (storage_root / new.path).exists()
    assert list(LogExport.objects.values_list("export_id", flat=True)) == [new.export_id]
    assert download(client, old_id).status_code == 404


def test_the_request_queues_the_export_task_after_commit(login, alice, acme_app, django_capture_on_commit_callbacks, caplog):
    from repositories.signals import log_export_requested

    sent = []

    def receiver(sender, export_id, **kwargs):  # noqa: ANN001
        sent.append(export_id)

    log_export_requested.connect(receiver, dispatch_uid="test-export-requested")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            export_id = login(alice).post("/api/v1/repository/acme/app/exportlogs", {}, format="json").json()["export_id"]
            assert sent == []  # nothing before the commit
        with caplog.at_level("ERROR"):
            for callback in callbacks:
                callback()
    finally:
        log_export_requested.disconnect(dispatch_uid="test-export-requested")

    assert sent == [export_id]
    assert not [r for r in caplog.records if "could not queue" in r.getMessage()]  # handed to the broker
