"""Reads of the audit log for the REST API: a time window, one scope (a repository, a namespace,
a user or the whole registry), keyset pages on ``(created, id)`` and per-day counts.

The page token is opaque to clients (Quay's ``next_page``): a signed cursor, so a forged or
corrupted token is a clear 400, never a 500 or a skipped page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from email.utils import formatdate
from typing import Any

from django.core import signing
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Namespace
from common.errors import InvalidRequestError
from repositories.models import AuditLog
from repositories.services.audit import audit_buffer_catch_up

#: Quay's page size for logs
LOGS_PAGE_SIZE = 20
#: the window when no ``starttime`` is given (Quay: one week)
DEFAULT_WINDOW = timedelta(days=7)
_PAGE_SALT = "moorage.logs.next_page"


def format_date(moment: datetime) -> str:
    """Quay's ``format_date``: RFC 2822 in UTC, e.g. ``Tue, 04 Aug 2026 10:00:00 -0000``."""
    return formatdate(moment.timestamp())


@dataclass(frozen=True)
class LogWindow:
    """``start`` inclusive, ``end`` exclusive, both aware (UTC)."""

    start: datetime
    end: datetime


def _parse_moment(value: str, *, name: str, end: bool) -> datetime:
    """Quay's ``MM/DD/YYYY`` or ISO 8601 (a date or a date-time). A day given as an end bound
    includes that whole day, as in Quay."""
    value = value.strip()
    day: date | None = None
    try:
        if "/" in value:
            day = datetime.strptime(value, "%m/%d/%Y").date()
        else:
            if "T" in value:
                value = value.replace(" ", "+")  # an unencoded "+01:00" offset arrives as " 01:00"
            moment = parse_datetime(value) if ":" in value else None
            if moment is not None:
                return moment.astimezone(dt_timezone.utc) if timezone.is_aware(moment) else moment.replace(tzinfo=dt_timezone.utc)
            day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise InvalidRequestError(
            f"{name} must be a date as MM/DD/YYYY or ISO 8601 (YYYY-MM-DD or a date-time)", detail={name: value[:64]}
        )
    if end:
        day = day + timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=dt_timezone.utc)


def log_window_parse(*, starttime: str | None, endtime: str | None, now: datetime | None = None) -> LogWindow:
    """The window of ``starttime``/``endtime``: by default the week ending now.

    Raises:
        InvalidRequestError: a bound that is not a date, or an end before the start.
    """
    now = now or timezone.now()
    try:
        end = _parse_moment(endtime, name="endtime", end=True) if endtime else now
        start = _parse_moment(starttime, name="starttime", end=False) if starttime else end - DEFAULT_WINDOW
    except OverflowError:  # 12/31/9999 plus the whole day
        raise InvalidRequestError("date out of range") from None
    if end < start:
        raise InvalidRequestError("endtime is before starttime", detail={"starttime": format_date(start), "endtime": format_date(end)})
    return LogWindow(start=start, end=end)


@dataclass(frozen=True)
class LogScope:
    """Which entries a caller asked for; the API checks who may ask for which scope.

    ``everything`` for superusers; otherwise one repository, one namespace, or a user's own
    entries (their namespace plus their actions that touch no namespace, like logins).
    """

    repository_id: int | None = None
    namespace_name: str | None = None
    user_id: int | None = None
    everything: bool = False

    def filter(self) -> Q:
        if self.everything:
            return Q()
        if self.repository_id is not None:
            return Q(repository_id=self.repository_id)
        if self.user_id is not None:
            return Q(namespace_name=self.namespace_name or "") | Q(namespace_name="", performer_user_id=self.user_id)
        if self.namespace_name is not None:
            return Q(namespace_name=self.namespace_name)
        return Q(pk__in=[])  # an empty scope sees nothing rather than everything


def _entries(*, scope: LogScope, window: LogWindow, performer: str | None) -> QuerySet[AuditLog]:
    audit_buffer_catch_up()  # pulls wait in Redis for a few seconds (services/audit.py)
    query = AuditLog.objects.filter(scope.filter(), created__gte=window.start, created__lt=window.end)
    if performer:
        query = query.filter(performer_name=performer)
    return query


@dataclass(frozen=True)
class LogPage:
    entries: list[dict[str, Any]] = field(default_factory=list)
    next_page: str | None = None


def _cursor_load(token: str) -> tuple[datetime, int]:
    try:
        raw = signing.loads(token, salt=_PAGE_SALT)
        created = datetime.fromisoformat(raw["t"])
        entry_id = int(raw["i"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidRequestError("next_page is not a page token this registry issued") from None
    return created, entry_id


def _cursor_dump(entry: AuditLog) -> str:
    return signing.dumps({"t": entry.created.isoformat(), "i": entry.pk}, salt=_PAGE_SALT, compress=True)


_NAMESPACE_KINDS = {Namespace.Kind.ORGANIZATION: "org", Namespace.Kind.USER: "user"}


def log_view(entry: AuditLog, namespace_kinds: dict[str, str]) -> dict[str, Any]:
    """Quay's shape of one entry. ``metadata`` gains Quay's ``namespace``/``repo`` keys when the
    entry concerns a repository (the stored metadata wins on a clash)."""
    metadata = dict(entry.metadata) if isinstance(entry.metadata, dict) else {"value": entry.metadata}
    if entry.repository_name:
        namespace, _, repo = entry.repository_name.partition("/")
        metadata.setdefault("namespace", namespace)
        metadata.setdefault("repo", repo)
    view: dict[str, Any] = {
        "kind": entry.kind,
        "metadata": metadata,
        "ip": entry.ip,
        "datetime": format_date(entry.created),
    }
    if entry.performer_name:
        is_robot = entry.performer_robot_id is not None or "+" in entry.performer_name
        view["performer"] = {"kind": "user", "name": entry.performer_name, "is_robot": is_robot}
    if entry.namespace_name:
        view["namespace"] = {"kind": namespace_kinds.get(entry.namespace_name), "name": entry.namespace_name}
    return view


def logs_page(
    *, scope: LogScope, window: LogWindow, performer: str | None = None, next_page: str | None = None, page_size: int = LOGS_PAGE_SIZE
) -> LogPage:
    """One page of entries, newest first, in Quay's shape; two queries whatever the page size.

    Raises:
        InvalidRequestError: ``next_page`` was not issued by this registry.
    """
    query = _entries(scope=scope, window=window, performer=performer)
    if next_page:
        created, entry_id = _cursor_load(next_page)
        query = query.filter(Q(created__lt=created) | Q(created=created, pk__lt=entry_id))
    rows = list(query.order_by("-created", "-id")[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    names = {row.namespace_name for row in rows if row.namespace_name}
    kinds = dict(Namespace.objects.filter(name__in=names).values_list("name", "kind")) if names else {}
    namespace_kinds = {name: _NAMESPACE_KINDS.get(kind, kind) for name, kind in kinds.items()}
    return LogPage(entries=[log_view(row, namespace_kinds) for row in rows], next_page=_cursor_dump(rows[-1]) if more else None)


def logs_aggregate(*, scope: LogScope, window: LogWindow, performer: str | None = None) -> list[dict[str, Any]]:
    """Counts per (kind, UTC day), in Quay's ``aggregatelogs`` shape, oldest day first."""
    rows = (
        _entries(scope=scope, window=window, performer=performer)
        .annotate(day=TruncDate("created", tzinfo=dt_timezone.utc))
        .values("kind", "day")
        .annotate(count=Count("id"))
        .order_by("day", "kind")
    )
    return [
        {"kind": row["kind"], "count": row["count"], "datetime": format_date(datetime.combine(row["day"], time.min, tzinfo=dt_timezone.utc))}
        for row in rows
    ]
