"""The registry dashboard (/admin/dashboard/): its figures for a small seeded registry, who may
open it, the registry-wide read-only switch, and the repository read-only admin actions."""

from __future__ import annotations

import base64
import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from kombu import Connection

from accounts.models import User
from accounts.principals import ANONYMOUS
from accounts.services import principal_for_user, user_create
from organizations.services import organization_create
from repositories.access import Action, is_allowed
from repositories.models import AuditLog, Blob, BlobUpload, GcRun, Repository
from repositories.admin_dashboard import Series, _nice_ceiling, bar_chart
from repositories.models.console import RegistrySwitch
from repositories.selectors_dashboard import (
    Day, activity_per_day, blob_growth, gc_summary, periodic_tasks, queue_depths, read_only_state, registry_read_only_switch, registry_switch_cache_clear,
    registry_totals, storage_by_namespace,
)
from repositories.services.console import registry_read_only_set
from tasks.models import TaskRun
from tests.factories import BlobFactory, ManifestBlobFactory, ManifestFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"


@pytest.fixture(autouse=True)
def _fresh_switch_cache():
    registry_switch_cache_clear()
    yield
    registry_switch_cache_clear()  # the rolled-back switch must not outlive the test in this process


@pytest.fixture(autouse=True)
def _static_root(settings) -> None:
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@dataclass
class Seeded:
    root: User
    auditor: User
    staff: User
    bob: User
    web: Repository
    tool: Repository


def _days_ago(days: int, hour: int = 12):
    """Noon ``days`` days ago, local time: far from midnight, so the day buckets are unambiguous."""
    day = timezone.localdate() - timedelta(days=days)
    return timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + timedelta(hours=hour)


def _audit(kind: str, repository: Repository, when) -> None:
    entry = AuditLog.objects.create(kind=kind, repository=repository, repository_name=repository.full_name, namespace_name=repository.namespace.name)
    AuditLog.objects.filter(pk=entry.pk).update(created=when)


@pytest.fixture
def seeded(db) -> Seeded:
    """acme/web uses blobs of 1000 B (today) and 3000 B (2 days ago); alice/tool one of 500 B
    (40 days ago, outside the charts). 2 pushes and 3 pulls today, 1 pull yesterday, 1 push 40 days ago."""
    root = user_create(username="root", password=None, is_superuser=True)
    auditor = user_create(username="auditor", password=None, is_readonly_superuser=True)
    staff = user_create(username="staffer", password=None)
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    staff.refresh_from_db()
    bob = user_create(username="bob", password="correct-horse-battery")
    alice = user_create(username="alice", password="correct-horse-battery")
    acme = organization_create(name="acme", creator=alice)
    web = RepositoryFactory(namespace=acme.namespace, name="web")
    tool = RepositoryFactory(namespace=alice.namespace, name="tool")
    for repository, blobs in ((web, [(1000, 0), (3000, 2)]), (tool, [(500, 40)])):
        manifest = ManifestFactory(repository=repository)
        TagFactory(repository=repository, name="latest", manifest=manifest)
        for size, age in blobs:
            blob = BlobFactory(content=uuid.uuid4().hex.encode(), size=size)
            Blob.objects.filter(pk=blob.pk).update(created=_days_ago(age))
            ManifestBlobFactory(manifest=manifest, blob=blob)
    BlobUpload.objects.create(id=uuid.uuid4().hex, repository=web, location="default", byte_count=777)
    for kind, when in [("push_repo", 0), ("push_repo", 0), ("pull_repo", 0), ("pull_repo", 0), ("pull_repo", 0), ("pull_repo", 1), ("push_repo", 40)]:
        _audit(kind, web, _days_ago(when))
    now = timezone.now()
    GcRun.objects.create(started=now - timedelta(days=3), finished=now - timedelta(days=3), status="succeeded", bytes_reclaimed=4096, blobs_deleted=2)
    GcRun.objects.create(started=now - timedelta(days=40), finished=now - timedelta(days=40), status="succeeded", bytes_reclaimed=10**6)
    GcRun.objects.create(started=now - timedelta(hours=1), status="succeeded", dry_run=True, bytes_reclaimed=999)
    TaskRun.objects.create(
        name="registry.gc.collect", last_started=now - timedelta(minutes=2), last_status="failed", last_duration_s=1.5, runs=9, failures=1,
        last_error="Traceback ...\nStorageError: bucket unreachable",
    )
    return Seeded(root, auditor, staff, bob, web, tool)


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# -- the figures ------------------------------------------------------------------------------------


def test_totals_count_live_content_and_every_blob_byte(seeded):
    totals = registry_totals()

    assert (totals.repositories, totals.tags, totals.manifests, totals.blobs) == (2, 2, 2, 3)
    assert totals.bytes == 4500
    assert (totals.uploads_in_progress, totals.upload_bytes_in_progress) == (1, 777)


def test_growth_has_thirty_days_with_the_bytes_added_each_day_and_the_size_at_its_end(seeded):
    growth = blob_growth()

    assert len(growth) == 30 and growth[-1].day == timezone.localdate()
    assert growth[-1].values == {"blobs": 1, "bytes": 1000, "size": 4500}
    assert growth[-3].values == {"blobs": 1, "bytes": 3000, "size": 3500}
    assert growth[0].values == {"blobs": 0, "bytes": 0, "size": 500}  # only the 40-day-old blob existed


def test_pushes_and_pulls_per_day_come_from_the_audit_log(seeded):
    activity = activity_per_day()

    assert activity[-1].values == {"pushes": 2, "pulls": 3}
    assert activity[-2].values == {"pushes": 0, "pulls": 1}
    assert sum(day.values["pushes"] for day in activity) == 2  # the 40-day-old push is outside


def test_storage_by_namespace_is_deduplicated_and_largest_first(seeded):
    rows = storage_by_namespace()

    assert [(row.name, row.repositories, row.size_bytes) for row in rows] == [("acme", 1, 4000), ("alice", 1, 500)]


def test_gc_summary_totals_real_runs_of_the_last_thirty_days(seeded):
    summary = gc_summary()

    assert (summary.runs_30d, summary.bytes_reclaimed_30d) == (1, 4096)  # the dry run and the old run are not counted
    assert [run.dry_run for run in summary.runs] == [True, False, False]  # newest first, dry runs shown


def test_every_periodic_task_is_listed_with_its_last_run(seeded):
    tasks = {task.task: task for task in periodic_tasks()}

    collect = tasks["registry.gc.collect"]
    assert (collect.last_status, collect.runs, collect.failures, collect.schedule) == ("failed", 9, 1, "cron */5 * * * *")
    assert collect.last_error == "StorageError: bucket unreachable"
    assert tasks["registry.uploads.remove_stale"].last_started is None


def test_beat_schedule_matches_tasks_schedule(seeded):
    from tasks.schedule import BEAT_SCHEDULE

    assert {task.entry for task in periodic_tasks()} == set(BEAT_SCHEDULE)


# -- the chart ---------------------------------------------------------------------------------------


def test_bars_are_scaled_to_a_round_axis_and_escape_their_labels():
    days = [Day(timezone.localdate() - timedelta(days=1), {"n": 30}), Day(timezone.localdate(), {"n": 60})]

    svg = str(bar_chart(days, [Series("n", "<pulls>", "#000")], title="A & B"))

    assert 'aria-label="A &amp; B"' in svg and "&lt;pulls&gt;" in svg and "<pulls>" not in svg
    heights = [float(h) for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#000"><title>', svg)]
    assert heights[1] == pytest.approx(170 * 60 / 100, abs=0.1) and heights[0] == pytest.approx(heights[1] / 2, abs=0.1)  # axis up to 100
    assert ">100<" in svg and ">50<" in svg


def test_byte_axes_round_in_binary_units():
    assert _nice_ceiling(3 * 1024 * 1024 + 1, binary=True) == 4 * 1024 * 1024
    assert _nice_ceiling(70, binary=False) == 100 and _nice_ceiling(0) == 1


# -- queue depths -----------------------------------------------------------------------------------


def test_the_memory_broker_of_the_tests_cannot_be_asked():
    depths = queue_depths()

    assert set(depths.depths) == set(settings.CELERY_TASK_QUEUES_NAMES)
    assert all(value is None for value in depths.depths.values()) and depths.error


def test_filesystem_broker_queue_depths_count_the_waiting_messages(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path / "control")}
    with Connection("filesystem://localhost//", transport_options=options) as connection:
        for queue, count in (("gc", 3), ("default", 1)):
            with connection.SimpleQueue(queue) as simple:
                for n in range(count):
                    simple.put({"n": n})

    with override_settings(CELERY_BROKER_URL="filesystem://localhost//", CELERY_BROKER_TRANSPORT_OPTIONS=options):
        depths = queue_depths()

    assert depths.broker == "filesystem"
    assert depths.depths["gc"] == 3 and depths.depths["default"] == 1 and depths.depths["mirror"] == 0


@pytest.mark.skipif(not os.environ.get("MOORAGE_REDIS_URL"), reason="needs MOORAGE_REDIS_URL (real Redis)")
def test_redis_broker_queue_depths_are_the_lengths_of_the_queue_lists():
    url = os.environ["MOORAGE_REDIS_URL"]
    names = (f"dash-{uuid.uuid4().hex[:8]}-a", f"dash-{uuid.uuid4().hex[:8]}-b")
    options = {"global_keyprefix": f"dash-{uuid.uuid4().hex[:8]}:"}  # as settings prefix the queues
    with Connection(url, transport_options=options) as connection:
        with connection.SimpleQueue(names[0]) as simple:
            for n in range(4):
                simple.put({"n": n})
        try:
            with override_settings(CELERY_BROKER_URL=url, CELERY_BROKER_TRANSPORT_OPTIONS=options, CELERY_TASK_QUEUES_NAMES=names):
                depths = queue_depths()
        finally:
            connection.default_channel.client.delete(options["global_keyprefix"] + names[0])

    assert depths.broker == "redis" and depths.depths == {names[0]: 4, names[1]: 0}


def test_a_redis_broker_that_does_not_answer_gives_unknown_depths():
    from tests.live import free_port

    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):
        depths = queue_depths()

    assert all(value is None for value in depths.depths.values()) and "Redis did not answer" in depths.error


# -- the page -------------------------------------------------------------------------------------


def test_the_superuser_sees_the_figures_the_charts_and_the_switch_form(seeded):
    response = _client(seeded.root).get(DASHBOARD)
    page = response.content.decode()

    assert response.status_code == 200
    assert 'id="figure-repositories">2<' in page and 'id="figure-bytes">4.4 KiB<' in page and "4,500 bytes" in page
    assert 'id="figure-pushes">2 / 4<' in page
    assert page.count('<svg class="moorage-chart"') == 2 and 'aria-label="Pushes and pulls per day"' in page
    assert f"<title>{timezone.localdate().isoformat()}: 3 pulls</title>" in page
    assert ">acme <" in page and ">alice <" in page
    assert 'id="gc-reclaimed">4.0 KiB<' in page
    assert "registry.gc.collect" in page and "StorageError: bucket unreachable" in page
    assert 'id="queue-gc">unknown<' in page
    assert "No vulnerability database yet." in page
    assert 'id="read-only-form"' in page and 'id="read-only-config">off<' in page


def test_the_admin_index_links_to_the_dashboard(seeded):
    page = _client(seeded.root).get(reverse("admin:index")).content.decode()

    assert f'href="{DASHBOARD}"' in page


def test_a_read_only_superuser_sees_the_figures_without_write_controls(seeded):
    client = _client(seeded.auditor)
    response = client.get(DASHBOARD)
    page = response.content.decode()

    assert response.status_code == 200 and 'id="figure-repositories">2<' in page
    assert 'id="read-only-form"' not in page and "<form" not in page.split('id="content-main"')[1]
    assert client.post(DASHBOARD, {"read_only": "on"}).status_code == 403
    assert read_only_state().runtime is False
    assert f'href="{DASHBOARD}"' in client.get(reverse("admin:index")).content.decode()


def test_staff_without_superuser_rights_is_refused(seeded):
    assert _client(seeded.staff).get(DASHBOARD).status_code == 403
    assert f'href="{DASHBOARD}"' not in _client(seeded.staff).get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize("who", ["bob", None])
def test_a_user_who_is_not_staff_and_anonymous_are_sent_to_the_login_page(seeded, who):
    response = _client(getattr(seeded, who) if who else None).get(DASHBOARD)

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_the_page_of_an_empty_registry_renders(db):
    root = user_create(username="root", password=None, is_superuser=True)

    page = _client(root).get(DASHBOARD).content.decode()

    assert "No repositories yet." in page and "No garbage collection has run yet." in page
    assert "<td>never</td>" in page  # no periodic task ran yet


# -- the runtime read-only switch ---------------------------------------------------------------------


def test_the_superuser_switches_the_registry_read_only_and_back_audited(seeded):
    client = _client(seeded.root)
    writer = principal_for_user(seeded.root, "session")
    assert is_allowed(writer, Action.PUSH, seeded.web)

    response = client.post(DASHBOARD, {"read_only": "on", "reason": "storage migration"})

    assert response.status_code == 302
    switch = RegistrySwitch.objects.get()
    assert (switch.read_only, switch.reason, switch.changed_by_name) == (True, "storage migration", "root")
    assert not is_allowed(writer, Action.PUSH, seeded.web) and not is_allowed(writer, Action.DELETE, seeded.web)
    assert is_allowed(writer, Action.PULL, seeded.web)  # pulls go on
    page = client.get(DASHBOARD).content.decode()
    assert "The registry is read-only" in page and "storage migration" in page and "Switch read-only mode off" in page

    client.post(DASHBOARD, {"read_only": "off"})

    assert is_allowed(writer, Action.PUSH, seeded.web)
    entries = list(AuditLog.objects.filter(kind="change_registry_read_only").order_by("id").values_list("performer_name", "metadata"))
    assert [(name, meta["read_only"]) for name, meta in entries] == [("root", True), ("root", False)]


def test_the_switch_refuses_writes_of_everyone_even_anonymous_creation(seeded):
    registry_read_only_set(read_only=True, actor=principal_for_user(seeded.root, "session"))

    assert registry_read_only_switch() is True
    assert not is_allowed(principal_for_user(seeded.root, "session"), Action.PUSH, None, name="acme/new")
    assert not is_allowed(ANONYMOUS, Action.PUSH, seeded.web)


def test_a_bad_switch_value_changes_nothing(seeded):
    response = _client(seeded.root).post(DASHBOARD, {"read_only": "maybe"})

    assert response.status_code == 302 and not RegistrySwitch.objects.exists()


def test_the_config_value_shows_as_on(seeded):
    with override_settings(MOORAGE_REGISTRY={**settings.MOORAGE_REGISTRY, "read_only": True}):
        page = _client(seeded.root).get(DASHBOARD).content.decode()

    assert 'id="read-only-config">on<' in page and "The registry is read-only" in page


# -- repository read-only actions -----------------------------------------------------------------


def _action(client: Client, action: str, *repositories: Repository):
    return client.post(
        reverse("admin:repositories_repository_changelist"),
        {"action": action, "_selected_action": [r.pk for r in repositories]}, follow=True,
    )


def test_the_read_only_action_sets_repositories_read_only_and_back_audited(seeded):
    client = _client(seeded.root)

    response = _action(client, "make_read_only", seeded.web, seeded.tool)

    assert response.status_code == 200 and "Set 2 repositories read-only: acme/web, alice/tool." in response.content.decode()
    assert set(Repository.objects.values_list("state", flat=True)) == {"READ_ONLY"}
    assert not is_allowed(principal_for_user(seeded.root, "session"), Action.PUSH, Repository.objects.get(pk=seeded.web.pk))

    response = _action(client, "make_normal", seeded.web)

    assert "Set 1 repository normal: acme/web." in response.content.decode()
    assert Repository.objects.get(pk=seeded.web.pk).state == "NORMAL"
    entries = AuditLog.objects.filter(kind="change_repo_state").order_by("id")
    assert [(e.repository_name, e.metadata["state_changed"], e.performer_name) for e in entries] == [
        ("acme/web", "READ_ONLY", "root"), ("alice/tool", "READ_ONLY", "root"), ("acme/web", "NORMAL", "root"),
    ]


def test_the_read_only_action_leaves_mirrors_alone(seeded):
    Repository.objects.filter(pk=seeded.tool.pk).update(state="MIRROR")

    response = _action(_client(seeded.root), "make_read_only", seeded.tool)

    assert "Left unchanged: alice/tool (mirror)." in response.content.decode()
    assert Repository.objects.get(pk=seeded.tool.pk).state == "MIRROR"


def test_the_read_only_superuser_has_no_state_actions(seeded):
    client = _client(seeded.auditor)

    page = client.get(reverse("admin:repositories_repository_changelist")).content.decode()

    assert "make_read_only" not in page
    assert _action(client, "make_read_only", seeded.web).status_code == 403
    assert Repository.objects.get(pk=seeded.web.pk).state == "NORMAL"


def test_the_v2_write_path_refuses_an_upload_while_the_switch_is_on_and_accepts_it_after(seeded):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:correct-horse-battery").decode()}
    url = f"/v2/{seeded.web.full_name}/blobs/uploads/"
    registry_read_only_set(read_only=True, reason="maintenance", actor=principal_for_user(seeded.root, "session"))

    refused = client.post(url, **auth)

    assert refused.status_code == 403
    assert refused.json()["errors"][0] == {"code": "DENIED", "message": "the registry is in read-only mode", "detail": None}
    registry_read_only_set(read_only=False, actor=principal_for_user(seeded.root, "session"))
    assert client.post(url, **auth).status_code == 202
