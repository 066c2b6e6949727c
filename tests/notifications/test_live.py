"""End to end: a push over HTTP to a real server reaches a webhook receiver through a real Celery
worker consuming the notifications queue."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import time

import pytest

from tests.live import PYTHON, ROOT, LiveRegistry
from tests.oci.helpers import push_image

pytestmark = [pytest.mark.live]

CREATE = """
from repositories.models import Repository
from repositories.services.notifications import repository_notification_create
repository = Repository.objects.get(full_name="acme/app")
repository_notification_create(repository=repository, event="repo_push", method="webhook", config={"url": "%s", "secret": "live-secret"}, event_config={})
"""


def test_a_push_over_http_is_delivered_to_a_signed_webhook_by_the_worker(receiver, http):
    # its own broker folder: the worker must not share a Redis queue with other test servers
    registry = LiveRegistry.create(extra_env={"MOORAGE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1", "MOORAGE_BROKER_URL": "filesystem://localhost//"})
    worker = None
    try:
        registry.start(workers=1, threads=4)
        push_image(http, registry.url, "acme/app", "v1")
        registry.manage("shell", "-c", CREATE % receiver.url("/live"))
        worker = subprocess.Popen(
            [PYTHON, "-m", "celery", "--quiet", "-A", "registry_site", "worker", "--queues", "notifications", "--pool", "solo", "--loglevel", "WARNING"],
            cwd=ROOT, env=registry.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

        push_image(http, registry.url, "acme/app", "v2")

        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.requests, f"no webhook arrived\n{registry.log_path.read_text()[-3000:]}"
        request = receiver.requests[0]
        assert request.path == "/live"
        body = request.json()
        assert (body["repository"], body["updated_tags"]) == ("acme/app", ["v2"])
        expected = "sha256=" + hmac.new(b"live-secret", request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["x-moorage-signature-256"], expected)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        registry.destroy()
