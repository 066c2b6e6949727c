"""``manage.py registry_stats``: the dashboard's figures as text and as JSON."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import load_command_class
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from accounts.services import principal_for_user, user_create
from organizations.services import organization_create
from repositories.models import AuditLog, BlobUpload, GcRun
from repositories.selectors_dashboard import registry_switch_cache_clear
from repositories.services.console import registry_read_only_set
from tasks.models import TaskRun
from tests.commands.conftest import run
from tests.factories import BlobFactory, ManifestBlobFactory, ManifestFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_switch_cache():
    registry_switch_cache_clear()
    yield
    registry_switch_cache_clear()


@pytest.fixture
def registry(db):
    """acme/web (2 blobs, 1000 + 3000 B) and alice/tool (1 blob, 500 B), 2 pushes and 1 pull today,
    an upload of 777 B in progress, a GC run that reclaimed 4096 B and a finished periodic task."""
    alice = user_create(username="alice", password=None)
    acme = organization_create(name="acme", creator=alice)
    for namespace, name, sizes in ((acme.namespace, "web", (1000, 3000)), (alice.namespace, "tool", (500,))):
        repository = RepositoryFactory(namespace=namespace, name=name)
        manifest = ManifestFactory(repository=repository)
        TagFactory(repository=repository, name="latest", manifest=manifest)
        for size in sizes:
            ManifestBlobFactory(manifest=manifest, blob=BlobFactory(content=uuid.uuid4().hex.encode(), size=size))
        if name == "web":
            BlobUpload.objects.create(id=uuid.uuid4().hex, repository=repository, location="default", byte_count=777)
            for kind in ("push_repo", "push_repo", "pull_repo"):
                AuditLog.objects.create(kind=kind, repository=repository, repository_name=repository.full_name)
    now = timezone.now()
    GcRun.objects.create(started=now - timedelta(hours=2), finished=now - timedelta(hours=2), status="succeeded", bytes_reclaimed=4096)
    TaskRun.objects.create(name="registry.gc.collect", last_started=now - timedelta(minutes=1), last_status="succeeded", runs=3)
    return alice


def test_json_output_has_every_figure(registry):
    data = run("registry_stats", json=True).json

    assert (data["repositories"], data["tags"], data["manifests"], data["blobs"], data["bytes"]) == (2, 2, 2, 3, 4500)
    assert (data["uploads_in_progress"], data["upload_bytes_in_progress"]) == (1, 777)
    assert [(ns["name"], ns["size_bytes"]) for ns in data["namespaces"]] == [("acme", 4000), ("alice", 500)]
    assert len(data["activity"]) == 30 and data["activity"][-1] == {"date": timezone.localdate().isoformat(), "pushes": 2, "pulls": 1}
    assert data["growth"][-1]["bytes_added"] == 4500 and data["growth"][-1]["size_at_end"] == 4500
    assert data["gc"]["last_run"]["bytes_reclaimed"] == 4096 and data["gc"]["last_run"]["status"] == "succeeded"
    assert data["queues"]["depths"]["gc"] is None and data["queues"]["error"]  # the tests' memory broker cannot be asked
    collect = next(task for task in data["periodic_tasks"] if task["task"] == "registry.gc.collect")
    assert (collect["last_status"], collect["runs"]) == ("succeeded", 3)
    assert data["vulnerability_database"] == {"available": False, "imported_at": None, "text": "no vulnerability database yet"}
    assert data["read_only"] == {"effective": False, "config": False, "runtime": False, "reason": "", "changed_at": None, "changed_by": ""}


def test_text_output_is_for_people(registry):
    text = run("registry_stats").stdout

    assert "  Repositories          2" in text
    assert "Stored                4.4 KiB (4,500 bytes)" in text
    assert "Uploads in progress   1 (777 B)" in text
    assert "Pushes / pulls        2 / 1" in text
    lines = text.splitlines()
    namespaces = lines[lines.index("Storage by namespace") + 1: lines.index("Storage by namespace") + 3]
    assert namespaces[0].split()[0] == "acme" and "3.9 KiB" in namespaces[0] and namespaces[1].split()[0] == "alice"
    assert "reclaimed 4.0 KiB" in text
    assert "gc                    unknown" in text
    assert "no vulnerability database yet" in text


def test_the_namespace_list_is_cut_with_a_hint(registry):
    text = run("registry_stats", namespaces=1).stdout

    assert "... 1 more (--namespaces N, or --json)" in text and "alice" not in text.split("Storage by namespace")[1].split("Garbage")[0]


def test_read_only_switches_are_reported(registry):
    registry_read_only_set(read_only=True, reason="moving storage", actor=principal_for_user(registry, "session"))

    data = run("registry_stats", json=True).json
    text = run("registry_stats").stdout

    assert data["read_only"]["runtime"] is True and data["read_only"]["effective"] is True and data["read_only"]["changed_by"] == "alice"
    assert "Runtime switch (admin)        on — moving storage" in text


def test_the_config_read_only_value_is_reported(registry):
    with override_settings(MOORAGE_REGISTRY={**settings.MOORAGE_REGISTRY, "read_only": True}):
        data = run("registry_stats", json=True).json

    assert (data["read_only"]["config"], data["read_only"]["runtime"], data["read_only"]["effective"]) == (True, False, True)


def test_an_empty_registry_reports_zeros(db):
    data = run("registry_stats", json=True).json

    assert (data["repositories"], data["bytes"], data["namespaces"], data["gc"]["last_run"]) == (0, 0, [], None)
    assert "never" in run("registry_stats").stdout


def test_a_negative_namespace_count_is_refused(db):
    with pytest.raises(CommandError, match="--namespaces"):
        run("registry_stats", namespaces=-1)


def test_help_explains_the_command_and_its_json():
    command = load_command_class("registry_site", "registry_stats")
    text = command.create_parser("manage.py", "registry_stats").format_help()

    assert len(command.help) > 60 and "--json" in text and "JSON" in text
