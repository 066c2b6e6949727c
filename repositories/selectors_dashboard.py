"""Reads behind the admin dashboard and ``manage.py registry_stats``: registry size and growth,
pushes and pulls per day, storage by namespace, garbage collection, Celery queue depths, the last
run of each periodic task, the vulnerability database and the read-only switches.

Worker records (``tasks.TaskRun``) and the beat schedule belong to a higher layer (``tasks``),
which this app may not import: they are read by app label and from the configured Celery app,
the way the admin itself finds models, so the dependency stays one-way in the code.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from celery import current_app
from django.apps import apps
from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Namespace
from repositories.models import AuditLog, Blob, BlobUpload, GcRun, Manifest, Repository, Tag
from repositories.models import Vulnerability, VulnerabilityImport
from repositories.models.console import RegistrySwitch
from repositories.models.lifecycle import NamespaceUsage
from repositories.selectors import live_tags
from repositories.selectors_usage import namespace_usage
from repositories.services.audit import audit_buffer_catch_up

#: days shown by the growth and activity charts
DAYS = 30
#: how long a process trusts its copy of the runtime read-only switch
SWITCH_CACHE_SECONDS = 2.0
#: kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in lists named ``<queue>\x06\x16<n>``
_REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


# -- the runtime read-only switch ---------------------------------------------------------------

_switch_lock = threading.Lock()
_switch_cache: dict[str, Any] = {}


def registry_switch() -> RegistrySwitch:
    """The switch row (an unsaved default row when nobody ever flipped it)."""
    return RegistrySwitch.objects.filter(pk=RegistrySwitch.SINGLETON_ID).first() or RegistrySwitch(pk=RegistrySwitch.SINGLETON_ID)


def registry_read_only_switch() -> bool:
    """Whether the runtime switch refuses writes. Read on every write check, so each process keeps
    its answer for ``SWITCH_CACHE_SECONDS``: a change reaches every instance within that time."""
    now = time.monotonic()
    with _switch_lock:
        if _switch_cache and now - _switch_cache["at"] < SWITCH_CACHE_SECONDS:
            return bool(_switch_cache["value"])
    value = RegistrySwitch.objects.filter(pk=RegistrySwitch.SINGLETON_ID, read_only=True).exists()
    with _switch_lock:
        _switch_cache.update(value=value, at=now)
    return value


def registry_switch_cache_clear() -> None:
    """Forget this process's copy (the service calls it after a change; tests between cases)."""
    with _switch_lock:
        _switch_cache.clear()


@dataclass(frozen=True)
class ReadOnlyState:
    config: bool  # registry.read_only in the config file (needs a restart to change)
    runtime: bool  # the dashboard switch
    reason: str
    changed_at: datetime | None
    changed_by: str

    @property
    def effective(self) -> bool:
        return self.config or self.runtime


def read_only_state() -> ReadOnlyState:
    row = registry_switch()
    return ReadOnlyState(
        config=bool(settings.MOORAGE_REGISTRY["read_only"]), runtime=row.read_only, reason=row.reason, changed_at=row.changed_at,
        changed_by=row.changed_by_name,
    )


# -- size and growth -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    repositories: int
    tags: int
    manifests: int
    blobs: int
    bytes: int
    uploads_in_progress: int
    upload_bytes_in_progress: int


def registry_totals() -> Totals:
    """Counts of live content. ``bytes`` is the sum of every blob's size (each stored once)."""
    blobs = Blob.objects.aggregate(count=Count("id"), total=Sum("size"))
    uploads = BlobUpload.objects.aggregate(count=Count("id"), total=Sum("byte_count"))
    return Totals(
        repositories=Repository.objects.count(),
        tags=Tag.objects.filter(live_tags(), repository__deleted_at__isnull=True).count(),
        manifests=Manifest.objects.filter(deleted_at__isnull=True, repository__deleted_at__isnull=True).count(),
        blobs=blobs["count"] or 0,
        bytes=blobs["total"] or 0,
        uploads_in_progress=uploads["count"] or 0,
        upload_bytes_in_progress=uploads["total"] or 0,
    )


@dataclass(frozen=True)
class Day:
    day: date
    values: dict[str, int] = field(default_factory=dict)


def _days(days: int, today: date | None = None) -> list[date]:
    today = today or timezone.localdate()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _since(days: int) -> datetime:
    first = _days(days)[0]
    return timezone.make_aware(datetime.combine(first, datetime.min.time()))


def blob_growth(*, days: int = DAYS) -> list[Day]:
    """Per day (oldest first, today last, in the server's time zone): blobs and bytes added
    (``Blob.created``) and the registry's size at the end of the day (today's total minus what was
    added later; blobs deleted since then are not counted back)."""
    rows = (
        Blob.objects.filter(created__gte=_since(days)).annotate(day=TruncDate("created")).values("day")
        .annotate(count=Count("id"), size=Sum("size"))
    )
    added = {row["day"]: (row["count"], row["size"] or 0) for row in rows}
    total = Blob.objects.aggregate(total=Sum("size"))["total"] or 0
    result: list[Day] = []
    later = 0
    for day in reversed(_days(days)):
        count, size = added.get(day, (0, 0))
        result.append(Day(day, {"blobs": count, "bytes": size, "size": total - later}))
        later += size
    return result[::-1]


def activity_per_day(*, days: int = DAYS) -> list[Day]:
    """Pushes (audit entries ``push_repo``: one per manifest or tag pushed) and pulls (``pull_repo``:
    one per manifest fetched) per day. The pull statistics rows hold running totals only, so the
    audit log is the per-day source; entries moved out by log rotation are no longer counted."""
    audit_buffer_catch_up()  # pulls wait in Redis for a few seconds (services/audit.py)
    rows = (
        AuditLog.objects.filter(kind__in=("push_repo", "pull_repo"), created__gte=_since(days))
        .annotate(day=TruncDate("created")).values("day", "kind").annotate(count=Count("id"))
    )
    counts: dict[tuple[date, str], int] = {(row["day"], row["kind"]): row["count"] for row in rows}
    return [Day(day, {"pushes": counts.get((day, "push_repo"), 0), "pulls": counts.get((day, "pull_repo"), 0)}) for day in _days(days)]


# -- storage by namespace ---------------------------------------------------------------------


@dataclass(frozen=True)
class NamespaceStorage:
    name: str
    kind: str
    repositories: int
    size_bytes: int
    quota_bytes: int | None
    percent: float | None
    recomputed_at: datetime | None


def storage_by_namespace(*, limit: int = 25) -> list[NamespaceStorage]:
    """The namespaces that own repositories, largest first (deduplicated bytes per namespace, the
    cached quota figure when there is one), at most ``limit``."""
    namespaces = (
        Namespace.objects.annotate(repository_count=Count("repositories", filter=Q(repositories__deleted_at__isnull=True)))
        .filter(repository_count__gt=0)
    )
    cached = dict(NamespaceUsage.objects.values_list("namespace_id", "size_bytes"))
    # Largest cached figures first; namespaces without a cached row are computed (few: the quota
    # worker writes a row for every namespace it has seen).
    ordered = sorted(namespaces, key=lambda ns: (-(cached.get(ns.pk) or 0), ns.name))
    result = []
    for namespace in ordered[: limit * 2]:
        usage = namespace_usage(namespace_id=namespace.pk)
        result.append(NamespaceStorage(
            name=namespace.name, kind=namespace.kind, repositories=namespace.repository_count, size_bytes=usage.size_bytes,
            quota_bytes=usage.quota_bytes, percent=usage.percent, recomputed_at=usage.recomputed_at,  # type: ignore[arg-type]
        ))
    result.sort(key=lambda row: (-row.size_bytes, row.name))
    return result[:limit]


# -- garbage collection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GcSummary:
    runs: list[GcRun]
    bytes_reclaimed_30d: int
    runs_30d: int
    failed_30d: int


def gc_summary(*, last: int = 10, days: int = DAYS) -> GcSummary:
    """The latest runs (dry runs included, marked) and the real runs' totals over ``days``."""
    recent = GcRun.objects.filter(started__gte=timezone.now() - timedelta(days=days), dry_run=False)
    totals = recent.aggregate(bytes=Sum("bytes_reclaimed"), runs=Count("id"), failed=Count("id", filter=Q(status=GcRun.Status.FAILED)))
    return GcSummary(
        runs=list(GcRun.objects.order_by("-started", "-id")[:last]), bytes_reclaimed_30d=totals["bytes"] or 0, runs_30d=totals["runs"] or 0,
        failed_30d=totals["failed"] or 0,
    )


# -- workers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDepths:
    broker: str  # "redis", "filesystem" or the URL scheme
    depths: dict[str, int | None]  # None: the broker could not be asked
    error: str = ""


def queue_depths() -> QueueDepths:
    """Messages waiting in each Celery queue (``CELERY_TASK_QUEUES_NAMES``). Redis: the lengths
    of the queue lists; the filesystem transport: the message files of each queue. Any other
    broker, or one that does not answer, gives None per queue."""
    names = list(settings.CELERY_TASK_QUEUES_NAMES)
    url = settings.CELERY_BROKER_URL
    scheme = url.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        return _redis_depths(url, names)
    if scheme == "filesystem":
        folder = Path(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("data_folder_in", ""))
        try:
            files = [entry.name for entry in folder.iterdir() if entry.is_file()] if str(folder) not in ("", ".") else None
        except OSError as error:
            return QueueDepths("filesystem", dict.fromkeys(names), f"{folder}: {error.strerror}")
        if files is None:
            return QueueDepths("filesystem", dict.fromkeys(names), "no queue folder configured")
        return QueueDepths("filesystem", {name: sum(1 for f in files if f.endswith(f".{name}.msg")) for name in names})
    return QueueDepths(scheme, dict.fromkeys(names), f"queue depths of a {scheme} broker are not read")


def _redis_depths(url: str, names: list[str]) -> QueueDepths:
    # The queues live under the broker's key prefix (settings: the Redis key_prefix).
    prefix = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("global_keyprefix", "")
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            for suffix in _REDIS_PRIORITY_SUFFIXES:
                pipe.llen(prefix + name + suffix)
        lengths = pipe.execute()
    except redis.RedisError as error:
        return QueueDepths("redis", dict.fromkeys(names), f"Redis did not answer: {error}")
    finally:
        client.close()
    step = len(_REDIS_PRIORITY_SUFFIXES)
    return QueueDepths("redis", {name: sum(lengths[i * step:(i + 1) * step]) for i, name in enumerate(names)})


@dataclass(frozen=True)
class PeriodicTask:
    entry: str  # the beat schedule's key
    task: str
    schedule: str
    last_started: datetime | None
    last_finished: datetime | None
    last_status: str  # "" when it never ran
    last_duration_s: float | None
    last_error: str
    runs: int
    failures: int


def _schedule_text(schedule: Any) -> str:
    if hasattr(schedule, "_orig_minute"):  # crontab: the fields as written
        fields = (schedule._orig_minute, schedule._orig_hour, schedule._orig_day_of_month, schedule._orig_month_of_year, schedule._orig_day_of_week)
        return "cron " + " ".join(str(f) for f in fields)
    if isinstance(schedule, (int, float, timedelta)):
        seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else schedule
        return f"every {seconds:g} s"
    run_every = getattr(schedule, "run_every", None)
    return f"every {run_every.total_seconds():g} s" if isinstance(run_every, timedelta) else str(schedule)


def beat_schedule() -> dict[str, Any]:
    """The beat schedule of the project's Celery app (``tasks/schedule.py``)."""
    return dict(current_app.conf.beat_schedule or {})


def periodic_tasks() -> list[PeriodicTask]:
    """Every beat entry with the last run of its task (``tasks.TaskRun``; empty when it never ran)."""
    schedule = beat_schedule()
    task_run = apps.get_model("tasks", "TaskRun")
    runs = {run.name: run for run in task_run.objects.filter(name__in=[entry["task"] for entry in schedule.values()])}
    result = []
    for key, entry in sorted(schedule.items(), key=lambda item: item[1]["task"]):
        run = runs.get(entry["task"])
        result.append(PeriodicTask(
            entry=key, task=entry["task"], schedule=_schedule_text(entry["schedule"]),
            last_started=run.last_started if run else None, last_finished=run.last_finished if run else None,
            last_status=run.last_status if run else "", last_duration_s=run.last_duration_s if run else None,
            last_error=(run.last_error.strip().splitlines() or [""])[-1][:300] if run else "",
            runs=run.runs if run else 0, failures=run.failures if run else 0,
        ))
    return result


# -- vulnerability database ----------------------------------------------------------------------


@dataclass(frozen=True)
class VulnerabilityDatabase:
    available: bool
    imported_at: datetime | None
    text: str


def vulnerability_database() -> VulnerabilityDatabase:
    """The age of the vulnerability database: the end of the last successful ``vulndb_import``."""
    last = VulnerabilityImport.objects.filter(status=VulnerabilityImport.Status.SUCCEEDED).order_by("-finished").first()
    if last is None:
        return VulnerabilityDatabase(available=False, imported_at=None, text="no vulnerability database yet")
    count = Vulnerability.objects.count()
    return VulnerabilityDatabase(available=True, imported_at=last.finished,
                                 text=f"{count:,} vulnerabilities; last import from {last.source}")


# -- everything at once -------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    generated_at: datetime
    totals: Totals
    growth: list[Day]
    activity: list[Day]
    namespaces: list[NamespaceStorage]
    gc: GcSummary
    queues: QueueDepths
    periodic: list[PeriodicTask]
    vulnerability_db: VulnerabilityDatabase
    read_only: ReadOnlyState


def dashboard(*, days: int = DAYS) -> Dashboard:
    return Dashboard(
        generated_at=timezone.now(), totals=registry_totals(), growth=blob_growth(days=days), activity=activity_per_day(days=days),
        namespaces=storage_by_namespace(), gc=gc_summary(days=days), queues=queue_depths(), periodic=periodic_tasks(),
        vulnerability_db=vulnerability_database(), read_only=read_only_state(),
    )
