"""The audit log: every security-relevant action writes one row here."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Robot, User
from accounts.principals import Principal
from repositories.models import AuditLog, Repository
from repositories.services.pull_stats import redis_client

logger = logging.getLogger("moorage.audit")


@dataclass(frozen=True)
class RequestInfo:
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def of(cls, request: Any) -> "RequestInfo":
        """Where a Django or DRF request came from (its address and user agent)."""
        return cls(ip=request.META.get("REMOTE_ADDR"), user_agent=request.headers.get("User-Agent", "")[:512])


def _entry_fields(
    *, kind: str, principal: Principal, repository: Repository | None, namespace_name: str,
    request: RequestInfo | None, metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """The AuditLog field values of one entry: written at once by ``audit_log`` or buffered by
    ``audit_entry_encode``."""
    if repository is not None and not namespace_name:
        namespace_name = repository.full_name.split("/", 1)[0]
    return {
        "kind": kind,
        "performer_user_id": principal.user_id,
        "performer_robot_id": principal.robot_id,
        "performer_name": principal.name,
        "namespace_name": namespace_name[:255],
        "repository_id": repository.pk if repository is not None else None,
        "repository_name": repository.full_name if repository is not None else "",
        "ip": (request.ip if request else None) or None,
        "user_agent": (request.user_agent if request else "")[:512],
        "metadata": metadata or {},
    }


def audit_log(
    *, kind: str, principal: Principal | None, repository: Repository | None = None, namespace_name: str = "",
    request: RequestInfo | None = None, metadata: dict[str, Any] | None = None,
) -> AuditLog:
    """Record ``kind`` (``push_repo``, ``pull_repo``, ``login_failure``...). Never store secrets in metadata."""
    principal = principal or Principal()
    entry = AuditLog.objects.create(**_entry_fields(
        kind=kind, principal=principal, repository=repository, namespace_name=namespace_name, request=request, metadata=metadata,
    ))
    logger.debug("audit %s by %s on %s", kind, principal.display_name, entry.repository_name or entry.namespace_name or "-")
    return entry


# -- pulls: buffered in Redis, written in batches ----------------------------------------------
# A manifest GET is the hottest write in the registry: one synchronous INSERT per pull cost more
# than the rest of the request. Where Redis is configured the entry is appended to a Redis list
# instead (one RPUSH, pipelined with the pull counts) and ``audit_buffer_drain`` moves the list
# into the table with ``bulk_create``: every few seconds from Celery beat
# (``registry.logs.drain_audit_buffer``) and right before the logs API and the dashboard read.
# Each entry keeps the time of the pull, not of the drain. Nothing is held in the app process,
# so any instance may crash or be replaced without losing an entry. Guarantees: at least once
# (a drain that dies between its commit and its LTRIM writes that batch again on the next drain);
# an entry is lost only with Redis itself (its persistence settings decide), as queued tasks are.
# Without Redis (the embedded SQLite default), or when the RPUSH fails, the row is written at once.

_DRAIN_BATCH = 1000
_DRAIN_LOCK_S = 120


def audit_buffer_key() -> str:
    return f"{settings.MOORAGE['redis']['key_prefix']}:audit:buffer"


def audit_entry_encode(
    *, kind: str, principal: Principal | None, repository: Repository | None, request: RequestInfo | None,
    metadata: dict[str, Any] | None, now: datetime | None = None,
) -> bytes:
    """One audit entry as JSON for the Redis buffer: its field values and the time it happened."""
    fields = _entry_fields(
        kind=kind, principal=principal or Principal(), repository=repository, namespace_name="", request=request, metadata=metadata,
    )
    fields["created"] = (now or timezone.now()).timestamp()
    return json.dumps(fields, separators=(",", ":")).encode()


_FIELD_NAMES = frozenset(_entry_fields(
    kind="", principal=Principal(), repository=None, namespace_name="", request=None, metadata=None,
)) | {"created"}


def _decoded(raw_entries: list[bytes]) -> list[AuditLog]:
    """AuditLog rows of buffered records; references to a user, robot or repository deleted since
    become NULL, as ``on_delete=SET_NULL`` would have made them (the names stay)."""
    records = []
    for raw in raw_entries:
        try:
            record = json.loads(raw)
            if isinstance(record, dict) and record.keys() == _FIELD_NAMES and isinstance(record["kind"], str) \
                    and isinstance(record["created"], (int, float)):
                records.append(record)
                continue
        except ValueError:
            pass
        # One bad record must not block the list behind it.
        logger.error("audit buffer: dropping an unreadable entry %r", raw[:200])
    existing = {
        field: set(model.objects.filter(pk__in={r[field] for r in records if r[field]}).values_list("pk", flat=True))
        for field, model in (("performer_user_id", User), ("performer_robot_id", Robot), ("repository_id", Repository))
    }
    rows = []
    for record in records:
        for field, pks in existing.items():
            if record[field] not in pks:
                record[field] = None
        record["created"] = datetime.fromtimestamp(record["created"], tz=dt_timezone.utc)
        rows.append(AuditLog(**record))
    return rows


def audit_buffer_drain(*, max_batches: int | None = None) -> int:
    """Move buffered audit entries into the table, ``_DRAIN_BATCH`` at a time (one transaction and
    one ``bulk_create`` per batch); returns how many were written. One drain at a time (a Redis
    lock); a concurrent call returns 0 at once. Nothing to do without Redis. Call it outside a
    transaction: each batch leaves the list once its own transaction has committed."""
    client = redis_client()
    if client is None:
        return 0
    key, lock, token = audit_buffer_key(), audit_buffer_key() + ":lock", uuid.uuid4().hex
    if not client.set(lock, token, nx=True, ex=_DRAIN_LOCK_S):
        return 0
    written = batches = 0
    try:
        while max_batches is None or batches < max_batches:
            raw_entries = client.lrange(key, 0, _DRAIN_BATCH - 1)
            if not raw_entries:
                break
            rows = _decoded(raw_entries)
            with transaction.atomic():
                AuditLog.objects.bulk_create(rows)
            # Only this drain removes from the head; pushes append at the tail meanwhile.
            client.ltrim(key, len(raw_entries), -1)
            client.expire(lock, _DRAIN_LOCK_S)
            written += len(rows)
            batches += 1
    finally:
        if client.get(lock) == token.encode():
            client.delete(lock)
    return written


def audit_buffer_catch_up() -> None:
    """Drain before a read of the audit log (logs API, dashboard) so it shows pulls up to now. A
    drain already running elsewhere, or Redis down, only means those reads lag a few seconds."""
    try:
        audit_buffer_drain(max_batches=50)
    except Exception:  # noqa: BLE001 - the read goes on; the periodic drain writes them later
        logger.warning("audit buffer: could not drain before a read", exc_info=True)
