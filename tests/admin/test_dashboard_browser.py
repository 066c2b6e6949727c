"""The registry dashboard in a real headless Chromium against a real server process: a superuser
signs in through the admin login, reads the figures and the chart, and flips the read-only switch;
a global read-only superuser gets no form. Screenshots go to ``test-artifacts/admin/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.live import ROOT, LiveRegistry
from tests.web.browser import Browser, chromium_path

pytestmark = [pytest.mark.live, pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")]

ARTIFACTS = ROOT / "test-artifacts" / "admin"
PASSWORD = "correct-horse-battery"
SEED = f"""
from datetime import timedelta
from django.utils import timezone
from accounts.services import user_create
from organizations.services import organization_create
from repositories.models import AuditLog, GcRun
from tests.factories import BlobFactory, ManifestBlobFactory, ManifestFactory, RepositoryFactory, TagFactory
user_create(username="root", password="{PASSWORD}", is_superuser=True)
user_create(username="auditor", password="{PASSWORD}", is_readonly_superuser=True)
alice = user_create(username="alice", password="{PASSWORD}")
acme = organization_create(name="acme", creator=alice)
repo = RepositoryFactory(namespace=acme.namespace, name="web")
manifest = ManifestFactory(repository=repo)
TagFactory(repository=repo, name="latest", manifest=manifest)
ManifestBlobFactory(manifest=manifest, blob=BlobFactory(size=5 * 1024 * 1024))
now = timezone.now()
for days, pushes, pulls in ((0, 3, 9), (1, 1, 4), (6, 2, 0)):
    for kind, count in (("push_repo", pushes), ("pull_repo", pulls)):
        for _ in range(count):
            entry = AuditLog.objects.create(kind=kind, repository=repo, repository_name=repo.full_name)
            AuditLog.objects.filter(pk=entry.pk).update(created=now - timedelta(days=days))
GcRun.objects.create(started=now, finished=now, status="succeeded", bytes_reclaimed=3 * 1024 * 1024)
print("seeded")
"""


@pytest.fixture(scope="module")
def server():
    registry = LiveRegistry.create()
    try:
        registry.manage("collectstatic", "--noinput")
        assert "seeded" in registry.manage("shell", "-c", SEED).stdout
        registry.start(workers=1, threads=4)
        yield registry
    finally:
        registry.destroy()


def sign_in(browser: Browser, url: str, username: str) -> None:
    browser.get(f"{url}/admin/login/?next=/admin/dashboard/")
    browser.submit(
        f"document.getElementById('id_username').value = {json.dumps(username)};"
        f"document.getElementById('id_password').value = {json.dumps(PASSWORD)};"
        "document.getElementById('login-form').submit()"
    )


def shot(browser: Browser, name: str) -> Path:
    path = browser.screenshot(ARTIFACTS / f"{name}.png")
    assert path.stat().st_size > 5000
    return path


def test_a_superuser_reads_the_dashboard_and_flips_the_switch(server):
    with Browser(width=1280, height=900) as browser:
        sign_in(browser, server.url, "root")
        assert browser.url == f"{server.url}/admin/dashboard/"
        text = browser.text()
        assert "Registry dashboard" in text and "5.0 MiB" in text and "6 / 13" in text  # pushes / pulls in 30 days
        chart = json.loads(browser.evaluate(
            "JSON.stringify((() => { const svg = document.querySelector('#activity svg'); const box = svg.getBoundingClientRect();"
            " const bars = [...svg.querySelectorAll('rect')].filter(r => r.querySelector('title'));"
            " return {width: box.width, height: box.height, bars: bars.length, tall: bars.filter(r => r.getBBox().height > 1).length}; })())"
        ))
        assert chart["width"] > 600 and chart["height"] > 120  # drawn at a readable size
        assert chart["bars"] == 60 and chart["tall"] == 5  # 30 days × (pushes, pulls); 5 non-zero counts
        assert browser.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 2")
        shot(browser, "dashboard")

        browser.submit("document.getElementById('id_reason').value = 'storage migration'; document.getElementById('read-only-form').submit()")
        assert "The registry is read-only" in browser.text() and "storage migration" in browser.text()
        shot(browser, "dashboard-read-only")
        browser.submit("document.getElementById('read-only-form').submit()")
        assert "The registry accepts writes." in browser.text()


def test_a_read_only_superuser_sees_no_switch(server):
    with Browser(width=1280, height=900) as browser:
        sign_in(browser, server.url, "auditor")
        assert browser.url == f"{server.url}/admin/dashboard/"
        assert "Registry-wide read-only mode" in browser.text()
        assert browser.evaluate("document.getElementById('read-only-form') === null")
        shot(browser, "dashboard-auditor")
