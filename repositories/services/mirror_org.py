"""Organization mirroring (Quay's org mirror): configuration writes, discovery and the sync.

An organization mirror names an upstream registry and a namespace on it. A sync discovers the
upstream repositories below that namespace (the paginated ``/v2/_catalog``, filtered by the
repository-name globs, or the configured list), makes sure each has a repository of the same name
in the organization, in MIRROR state and driven by a ``RepositoryMirror`` kept in step with the
organization's settings, and then runs each repository's sync with ``services.mirror.mirror_sync``
(so tags, blobs, sparse indexes, events and counts are exactly those of repository mirroring).
Repositories that disappeared upstream (or no longer match) are deleted when
``delete_stale_repos`` is set, otherwise marked ``gone_since``.

Concurrency: the organization sync claims its row as repository syncs do (a conditional UPDATE
setting a token and a lease renewed while it runs); each repository sync claims its own mirror.
The repository scheduler leaves the repository mirrors of an organization mirror alone (the
organization sync drives them) unless someone asked for a sync now.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Robot
from accounts.principals import Principal
from accounts.services import principal_for_robot
from common.errors import ConflictError, InvalidRequestError, NotFoundError, RegistryError
from common.grammar import validate_repository_name
from common.registry_client import (
    ClientSettings,
    Credentials,
    RegistryClient,
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFoundError,
    UpstreamUnavailableError,
)
from common.ssrf import OutboundURLError, check_url
from organizations.models import Organization
from repositories import signals
from repositories.models import Repository
from repositories.models.mirror import MirrorStatus, OrganizationMirror, OrganizationMirrorRepository, RepositoryMirror
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.mirror import (
    MAX_SYNC_INTERVAL_S,
    MIN_SYNC_INTERVAL_S,
    MirrorSettings,
    Progress,
    _config,
    _next_slot,
    architectures_normalize,
    mirror_create,
    mirror_credentials_apply,
    mirror_sync,
    mirror_timeout_validate,
    secret_decrypt,
    tag_patterns_normalize,
)
from repositories.services.repositories import repository_create, repository_delete, repository_set_state

logger = logging.getLogger(__name__)

MAX_REPOSITORY_PATTERNS = 100
MAX_LISTED_REPOSITORIES = 1000
#: discovery stops after this many catalog entries (a runaway catalog must not run forever)
MAX_CATALOG_ENTRIES = 100_000
_RENEW_EVERY_S = 15.0


# --- validation -------------------------------------------------------------------------------


def registry_url_validate(value: Any) -> str:
    """``[http(s)://]host[:port]``, checked against the outbound policy.

    Raises InvalidRequestError or OutboundURLError."""
    if not isinstance(value, str) or not value.strip() or len(value) > 512 or not value.strip().isprintable() or " " in value.strip():
        raise InvalidRequestError("external_registry_url is required: [https://]registry.example.com[:port]")
    text = value.strip().rstrip("/")
    scheme, sep, host = text.partition("://")
    if not sep:
        scheme, host = "", text
    if scheme.lower() not in ("", "http", "https") or not host or "/" in host or "@" in host:
        raise InvalidRequestError(
            "external_registry_url is a registry address without a path: [http(s)://]host[:port] (the namespace goes in external_namespace)",
            detail={"external_registry_url": value[:300]},
        )
    check_url(f"{scheme.lower() or 'https'}://{host}/")
    return f"{scheme.lower()}://{host}" if scheme else host


def namespace_validate(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 255:
        raise InvalidRequestError("external_namespace is a namespace path of up to 255 characters")
    text = value.strip().strip("/")
    if text:
        try:
            validate_repository_name(text)
        except RegistryError:
            raise InvalidRequestError("external_namespace is not a valid namespace (lowercase letters, digits, . _ - and /)", detail={"external_namespace": text[:255]}) from None
    return text


def repository_patterns_normalize(value: Any) -> list[str]:
    """Globs on the repository name below the namespace; an empty list means every repository."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError("repository_filters must be a list of globs (or one comma-separated string)")
    patterns = [item.strip() for item in value if item.strip()]
    if any(not pattern.isprintable() for pattern in patterns):
        raise InvalidRequestError("repository_filters must be printable text")
    if len(patterns) > MAX_REPOSITORY_PATTERNS or any(len(p) > 256 for p in patterns):
        raise InvalidRequestError(f"at most {MAX_REPOSITORY_PATTERNS} repository globs of up to 256 characters")
    return patterns


def repository_list_normalize(value: Any) -> list[str]:
    """Repository names below the namespace (instead of discovering the catalog)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError("repositories must be a list of repository names")
    names = sorted({item.strip().strip("/") for item in value if item.strip().strip("/")})
    if len(names) > MAX_LISTED_REPOSITORIES:
        raise InvalidRequestError(f"at most {MAX_LISTED_REPOSITORIES} repositories")
    bad = []
    for name in names:
        try:
            validate_repository_name(name)
        except RegistryError:
            bad.append(name[:255])
    if bad:
        raise InvalidRequestError("invalid repository names (lowercase letters, digits, . _ - and /)", detail={"repositories": bad[:20]})
    return names


def _robot_validate(organization: Organization, robot: Robot | None) -> Robot:
    if robot is None:
        raise InvalidRequestError("robot_username is required: the robot account the mirror pushes as")
    if robot.namespace_id != organization.namespace_id:
        raise InvalidRequestError(f"robot {robot.username} belongs to another namespace", detail={"robot_username": robot.username})
    return robot


def upstream_name_of(org_mirror: OrganizationMirror, relative: str) -> str:
    return f"{org_mirror.external_namespace}/{relative}" if org_mirror.external_namespace else relative


def _relative(org_mirror: OrganizationMirror, upstream_name: str) -> str:
    prefix = f"{org_mirror.external_namespace}/" if org_mirror.external_namespace else ""
    return upstream_name[len(prefix):]


def org_mirror_credentials(org_mirror: OrganizationMirror) -> Credentials | None:
    username = secret_decrypt(org_mirror.username_encrypted)
    return Credentials(username, secret_decrypt(org_mirror.password_encrypted)) if username else None


def org_mirror_username(org_mirror: OrganizationMirror) -> str | None:
    from repositories.services.mirror import MirrorCredentialsError

    try:
        return secret_decrypt(org_mirror.username_encrypted) or None
    except MirrorCredentialsError:
        return "(invalid. please re-enter)"


# --- configuration writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrgMirrorSettings:
    """What ``org_mirror_create`` and ``org_mirror_update`` take (None in an update: unchanged)."""

    external_registry_url: str | None = None
    external_namespace: str | None = None
    repository_patterns: Any = None
    repositories: Any = None
    tag_patterns: Any = None
    architecture_filter: Any = None
    visibility: str | None = None
    delete_stale_repos: bool | None = None
    sync_interval: int | None = None
    sync_start_date: datetime | None = None
    timeout_s: int | None = None
    robot: Robot | None = None
    username: str | None = None
    password: str | None = None
    credentials_given: bool = False
    verify_tls: bool | None = None
    is_enabled: bool | None = None


#: the fields copied onto every repository mirror of the organization mirror
_PROPAGATED = ("verify_tls", "tag_patterns", "architecture_filter", "sync_interval", "sync_start_date", "timeout_s", "robot",
               "is_enabled", "username_encrypted", "password_encrypted")


def _apply(org_mirror: OrganizationMirror, values: OrgMirrorSettings) -> list[str]:
    changed: list[str] = []
    if values.external_registry_url is not None:
        org_mirror.external_registry_url = registry_url_validate(values.external_registry_url)
        changed.append("external_registry_url")
    if values.external_namespace is not None:
        org_mirror.external_namespace = namespace_validate(values.external_namespace)
        changed.append("external_namespace")
    if values.repository_patterns is not None:
        org_mirror.repository_patterns = repository_patterns_normalize(values.repository_patterns)
        changed.append("repository_filters")
    if values.repositories is not None:
        org_mirror.repositories = repository_list_normalize(values.repositories)
        changed.append("repositories")
    if values.tag_patterns is not None:
        org_mirror.tag_patterns = tag_patterns_normalize(values.tag_patterns)
        changed.append("root_rule")
    if values.architecture_filter is not None:
        org_mirror.architecture_filter = architectures_normalize(values.architecture_filter)
        changed.append("architecture_filter")
    if values.visibility is not None:
        if values.visibility not in OrganizationMirror.Visibility.values:
            raise InvalidRequestError("visibility is public or private", detail={"visibility": str(values.visibility)[:20]})
        org_mirror.visibility = values.visibility
        changed.append("visibility")
    if values.delete_stale_repos is not None:
        org_mirror.delete_stale_repos = values.delete_stale_repos
        changed.append("delete_stale_repos")
    if values.sync_interval is not None:
        if not MIN_SYNC_INTERVAL_S <= values.sync_interval <= MAX_SYNC_INTERVAL_S:
            raise InvalidRequestError(f"sync_interval is {MIN_SYNC_INTERVAL_S} to {MAX_SYNC_INTERVAL_S} seconds", detail={"sync_interval": values.sync_interval})
        org_mirror.sync_interval = values.sync_interval
        changed.append("sync_interval")
    if values.sync_start_date is not None:
        org_mirror.sync_start_date = values.sync_start_date
        changed.append("sync_start_date")
    if values.timeout_s is not None:
        org_mirror.timeout_s = mirror_timeout_validate(values.timeout_s)
        changed.append("skopeo_timeout_interval")
    if values.robot is not None:
        org_mirror.robot = _robot_validate(org_mirror.organization, values.robot)
        changed.append("robot_username")
    if values.credentials_given:
        mirror_credentials_apply(org_mirror, username=values.username, password=values.password)
        changed.append("external_registry_username")
    if values.verify_tls is not None:
        org_mirror.verify_tls = values.verify_tls
        changed.append("verify_tls")
    if values.is_enabled is not None:
        org_mirror.is_enabled = values.is_enabled
        changed.append("is_enabled")
    return changed


def _audit_changes(org_mirror: OrganizationMirror, changed: list[str], values: OrgMirrorSettings, actor: Principal | None, request: RequestInfo | None) -> None:
    names = {"repository_filters": "repository_patterns", "root_rule": "tag_patterns", "robot_username": "robot",
             "external_registry_username": "username", "skopeo_timeout_interval": "timeout_s"}
    for name in changed:
        to: Any = getattr(values, names.get(name, name))
        audit_log(
            kind="org_mirror_config_changed", principal=actor, namespace_name=org_mirror.organization.name, request=request,
            metadata={"changed": name, "to": str(to) if isinstance(to, (Robot, datetime)) else to},
        )


def org_mirror_create(
    *, organization: Organization, values: OrgMirrorSettings, actor: Principal | None = None, request: RequestInfo | None = None
) -> OrganizationMirror:
    """Make ``organization`` a mirror of an upstream namespace. The first sync (discovery and
    the repositories' syncs) is due at ``sync_start_date``.

    Raises:
        ConflictError: the organization already has an organization mirror.
        InvalidRequestError: a missing or invalid field.
        OutboundURLError: the upstream host is refused by the outbound policy.
    """
    for required in ("external_registry_url", "sync_interval", "sync_start_date", "robot"):
        if getattr(values, required) is None:
            raise InvalidRequestError(f"{required} is required", detail={"field": required})
    org_mirror = OrganizationMirror(organization=organization, sync_interval=MIN_SYNC_INTERVAL_S, sync_start_date=timezone.now(), tag_patterns=["*"])
    changed = _apply(org_mirror, values)
    org_mirror.next_sync_at = org_mirror.sync_start_date
    with transaction.atomic():
        try:
            with transaction.atomic():
                org_mirror.save()
        except IntegrityError:
            raise ConflictError(f"organization {organization.name} already has a mirror configuration") from None
        _audit_changes(org_mirror, changed, values, actor, request)
    return org_mirror


def org_mirror_update(
    *, org_mirror: OrganizationMirror, values: OrgMirrorSettings, actor: Principal | None = None, request: RequestInfo | None = None
) -> OrganizationMirror:
    """Change the settings given; the repository mirrors of the organization follow (tag and
    architecture filters, schedule, credentials, robot, enabled) at once. Same errors as create."""
    with transaction.atomic():
        locked = OrganizationMirror.objects.select_for_update(of=("self",)).select_related("organization__namespace", "robot").get(pk=org_mirror.pk)
        changed = _apply(locked, values)
        if {"sync_start_date", "sync_interval"} & set(changed) and locked.status != MirrorStatus.SYNCING:
            locked.next_sync_at = _next_slot(locked.sync_start_date, locked.sync_interval, timezone.now())
        locked.save()
        _propagate(locked)
        _audit_changes(locked, changed, values, actor, request)
    return locked


def org_mirror_delete(*, org_mirror: OrganizationMirror, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    """Remove the organization mirror. Its repositories stay with their content; their mirrors
    are disabled and they return to NORMAL state, so the organization owns them from now on.

    Raises ConflictError while a sync runs (cancel it first)."""
    with transaction.atomic():
        locked = OrganizationMirror.objects.select_for_update(of=("self",)).select_related("organization__namespace").filter(pk=org_mirror.pk).first()
        if locked is None:
            raise NotFoundError("no such organization mirror")
        if locked.status == MirrorStatus.SYNCING and locked.sync_expires_at and locked.sync_expires_at > timezone.now():
            raise ConflictError("a sync of this organization mirror is running; cancel it first")
        repository_ids = list(locked.discovered.filter(repository__isnull=False).values_list("repository_id", flat=True))
        RepositoryMirror.objects.filter(repository_id__in=repository_ids).update(is_enabled=False)
        for repository in Repository.objects.filter(pk__in=repository_ids, state=Repository.State.MIRROR):
            repository_set_state(repository=repository, state=Repository.State.NORMAL)
        audit_log(
            kind="org_mirror_config_changed", principal=actor, namespace_name=locked.organization.name, request=request,
            metadata={"changed": "deleted", "to": None, "repositories": len(repository_ids)},
        )
        locked.delete()


def org_mirror_sync_now(*, org_mirror: OrganizationMirror, actor: Principal | None = None, request: RequestInfo | None = None) -> OrganizationMirror:
    """Ask for a sync now (queued after the commit; the scheduler would also pick it up).

    Raises ConflictError when the mirror is disabled or a sync is running."""
    if not org_mirror.is_enabled:
        raise ConflictError("the organization mirror is disabled; enable it first")
    now = timezone.now()
    updated = OrganizationMirror.objects.filter(pk=org_mirror.pk).filter(~Q(status=MirrorStatus.SYNCING) | Q(sync_expires_at__lt=now)).update(
        status=MirrorStatus.SYNC_NOW, next_sync_at=now
    )
    if not updated:
        raise ConflictError("a sync of this organization mirror is running")
    audit_log(kind="org_mirror_config_changed", principal=actor, namespace_name=org_mirror.organization.name, request=request, metadata={"changed": "sync_status", "to": "SYNC_NOW"})
    transaction.on_commit(lambda: signals.mirror_sync_requested.send(sender=OrganizationMirror, mirror_id=None, org_mirror_id=org_mirror.pk))
    org_mirror.refresh_from_db()
    return org_mirror


def org_mirror_cancel(*, org_mirror: OrganizationMirror, actor: Principal | None = None, request: RequestInfo | None = None) -> OrganizationMirror:
    """Cancel the running sync (the repository being synced stops before its next item, the
    others are not started) or the requested one.

    Raises NotFoundError when no sync is running or requested."""
    now = timezone.now()
    with transaction.atomic():
        locked = OrganizationMirror.objects.select_for_update(of=("self",)).select_related("organization__namespace").get(pk=org_mirror.pk)
        if locked.status == MirrorStatus.SYNCING:
            locked.cancel_requested = True
            RepositoryMirror.objects.filter(
                repository_id__in=locked.discovered.filter(repository__isnull=False).values("repository_id"), status=MirrorStatus.SYNCING
            ).update(cancel_requested=True)
        elif locked.status == MirrorStatus.SYNC_NOW or locked.queued_until is not None:
            locked.status = MirrorStatus.CANCEL
            locked.queued_until = None
            locked.next_sync_at = _next_slot(locked.sync_start_date, locked.sync_interval, now)
        else:
            raise NotFoundError("no sync of this organization mirror is running or requested")
        locked.save()
        audit_log(kind="org_mirror_config_changed", principal=actor, namespace_name=locked.organization.name, request=request, metadata={"changed": "sync_status", "to": "SYNC_CANCEL"})
    return locked


# --- verify -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    success: bool
    message: str
    #: a few repositories the mirror would see (for a successful check)
    repositories: tuple[str, ...] = ()


def _client(org_mirror: OrganizationMirror, credentials: Credentials | None = None, use_stored: bool = True) -> RegistryClient:
    options = ClientSettings.from_settings()
    options = ClientSettings(**{**asdict(options), "read_timeout_s": float(org_mirror.timeout_s)})
    creds = credentials if credentials is not None or not use_stored else org_mirror_credentials(org_mirror)
    return RegistryClient(org_mirror.external_registry_url, credentials=creds, verify_tls=org_mirror.verify_tls, options=options)


def org_mirror_verify(*, org_mirror: OrganizationMirror, values: OrgMirrorSettings | None = None) -> VerifyResult:
    """Test the connection and the credentials: ``GET /v2/`` (answering its challenge), then the
    first catalog page (or the tags of the first listed repository). ``values`` override the
    stored settings for this check only (to test before saving); nothing is written.

    Returns a VerifyResult whose message says what failed (never raises for an upstream error;
    InvalidRequestError / OutboundURLError for invalid ``values``)."""
    candidate = OrganizationMirror(
        organization=org_mirror.organization, **{
            name: getattr(org_mirror, name) for name in (
                "external_registry_url", "external_namespace", "username_encrypted", "password_encrypted", "verify_tls",
                "repository_patterns", "repositories", "tag_patterns", "architecture_filter", "visibility", "sync_interval",
                "sync_start_date", "timeout_s", "robot_id", "is_enabled",
            )
        },
    )
    if values is not None:
        _apply(candidate, values)
    source = f"{candidate.external_registry_url}/{candidate.external_namespace}".rstrip("/")
    try:
        with _client(candidate) as client:
            client.ping()
            seen = _discover(client, candidate, limit=10)
    except UpstreamAuthError as exc:
        has_credentials = bool(candidate.username_encrypted)
        hint = "check the user name and password" if has_credentials else "the upstream needs credentials"
        return VerifyResult(False, f"authentication failed at {candidate.external_registry_url}: {exc.message} ({hint})")
    except UpstreamNotFoundError as exc:
        return VerifyResult(False, f"not found at {source}: {exc.message}")
    except UpstreamUnavailableError as exc:
        return VerifyResult(False, f"cannot reach {candidate.external_registry_url}: {exc.message}")
    except (UpstreamError, OutboundURLError) as exc:
        return VerifyResult(False, f"{candidate.external_registry_url}: {exc.message}")
    except RegistryError as exc:  # undecryptable stored credentials
        return VerifyResult(False, exc.message)
    return VerifyResult(True, f"connected to {candidate.external_registry_url}; {len(seen)}{'+' if len(seen) >= 10 else ''} matching repositories found under {source}", tuple(seen))


# --- discovery --------------------------------------------------------------------------------


def repository_matches(org_mirror: OrganizationMirror, upstream_name: str) -> bool:
    """Whether an upstream repository belongs to the mirror (below the namespace, matching a glob)."""
    prefix = f"{org_mirror.external_namespace}/" if org_mirror.external_namespace else ""
    if not upstream_name.startswith(prefix) or upstream_name == prefix:
        return False
    relative = upstream_name[len(prefix):]
    if org_mirror.repositories:
        return relative in org_mirror.repositories
    patterns = org_mirror.repository_patterns or ["*"]
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)


def _discover(client: RegistryClient, org_mirror: OrganizationMirror, *, limit: int | None = None) -> list[str]:
    """Upstream repository names (full paths) to mirror, sorted."""
    if org_mirror.repositories:
        names = [upstream_name_of(org_mirror, name) for name in org_mirror.repositories]
        if limit is not None:
            # a listed repository must exist: its tags list answers (404 otherwise)
            for name in names[:1]:
                list(itertools.islice(client.tags(name), 1))
            return names[:limit]
        return names
    found: list[str] = []
    for name in itertools.islice(client.catalog(), MAX_CATALOG_ENTRIES):
        if repository_matches(org_mirror, name):
            found.append(name)
            if limit is not None and len(found) >= limit:
                break
    return sorted(set(found))


@dataclass(frozen=True)
class OrgMirrorPlan:
    """What a sync would do, from a discovery only (nothing written)."""

    discovered: tuple[str, ...]
    to_create: tuple[str, ...]  # local full names
    conflicting: tuple[str, ...]  # local names taken by a repository the mirror does not manage
    stale: tuple[str, ...]  # upstream names no longer found (deleted with delete_stale_repos)


def org_mirror_plan(*, org_mirror: OrganizationMirror) -> OrgMirrorPlan:
    """Discover the upstream repositories and compare with the organization (a dry run).

    Raises the client's errors (UpstreamAuthError, UpstreamUnavailableError, ...) and
    OutboundURLError."""
    with _client(org_mirror) as client:
        names = _discover(client, org_mirror)
    managed = dict(org_mirror.discovered.values_list("upstream_name", "repository_id"))
    organization = org_mirror.organization.name
    to_create, conflicting = [], []
    for name in names:
        full_name = f"{organization}/{_relative(org_mirror, name)}"
        if managed.get(name) and Repository.objects.filter(pk=managed[name]).exists():
            continue
        (conflicting if Repository.objects.filter(full_name=full_name).exists() else to_create).append(full_name)
    stale = sorted(set(managed) - set(names))
    return OrgMirrorPlan(tuple(names), tuple(to_create), tuple(conflicting), tuple(stale))


# --- scheduling -------------------------------------------------------------------------------


def _eligible() -> Q:
    return Q(is_enabled=True)


def org_mirrors_queue_due(*, now: datetime | None = None) -> list[int]:
    """Mark the organization mirrors whose sync is due as queued and return their ids (a
    conditional UPDATE each, so two schedulers never queue one twice)."""
    now = now or timezone.now()
    lease = timedelta(seconds=int(_config().get("sync_lease_s", 600)))
    due = OrganizationMirror.objects.filter(_eligible()).filter(
        (~Q(status=MirrorStatus.SYNCING) & Q(next_sync_at__lte=now)) | Q(status=MirrorStatus.SYNC_NOW) | Q(status=MirrorStatus.SYNCING, sync_expires_at__lt=now)
    ).filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
    queued: list[int] = []
    for pk in due.values_list("pk", flat=True)[:1000]:
        if OrganizationMirror.objects.filter(pk=pk).filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now)).update(queued_until=now + lease):
            queued.append(pk)
    return queued


# --- the sync ---------------------------------------------------------------------------------


@dataclass
class OrgSyncCounts:
    repositories_discovered: int = 0
    repositories_created: int = 0
    repositories_synced: int = 0
    repositories_failed: int = 0
    repositories_deleted: int = 0
    repositories_gone: int = 0
    tags_copied: int = 0
    tags_unchanged: int = 0
    tags_deleted: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    bytes_copied: int = 0


@dataclass(frozen=True)
class OrgMirrorSyncResult:
    org_mirror_id: int
    organization: str
    status: str
    counts: dict[str, int]
    errors: tuple[str, ...]
    next_sync_at: datetime | None
    repositories: dict[str, str] = field(default_factory=dict)  # local full name -> status

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = list(self.errors)
        data["next_sync_at"] = self.next_sync_at.isoformat() if self.next_sync_at else None
        return data


class _Cancelled(Exception):
    pass


class _LeaseLost(Exception):
    pass


def _claim(org_mirror_id: int, *, scheduled: bool) -> tuple[OrganizationMirror, str] | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    lease = timedelta(seconds=int(_config().get("sync_lease_s", 600)))
    rows = OrganizationMirror.objects.filter(pk=org_mirror_id).filter(_eligible()).filter(~Q(status=MirrorStatus.SYNCING) | Q(sync_expires_at__lt=now))
    if scheduled:
        rows = rows.filter(queued_until__isnull=False)
    if rows.update(status=MirrorStatus.SYNCING, sync_token=token, sync_expires_at=now + lease, cancel_requested=False, queued_until=None, last_sync_started_at=now):
        return OrganizationMirror.objects.select_related("organization__namespace", "robot__namespace").get(pk=org_mirror_id), token
    if scheduled:
        return None
    org_mirror = OrganizationMirror.objects.select_related("organization__namespace").filter(pk=org_mirror_id).first()
    if org_mirror is None:
        raise NotFoundError("no such organization mirror", detail={"org_mirror": org_mirror_id})
    if not org_mirror.is_enabled:
        raise ConflictError(f"the mirror of organization {org_mirror.organization.name} is disabled")
    raise ConflictError(f"a sync of organization {org_mirror.organization.name} is already running")


def _propagate(org_mirror: OrganizationMirror, entries: list[OrganizationMirrorRepository] | None = None) -> None:
    """Copy the organization's settings onto its repository mirrors (no audit noise: the change
    was audited on the organization)."""
    repository_ids = [e.repository_id for e in entries] if entries is not None else list(
        org_mirror.discovered.filter(repository__isnull=False).values_list("repository_id", flat=True)
    )
    for mirror in RepositoryMirror.objects.filter(repository_id__in=repository_ids).select_related("repository"):
        entry_name = OrganizationMirrorRepository.objects.filter(org_mirror=org_mirror, repository_id=mirror.repository_id).values_list("upstream_name", flat=True).first()
        values = {name: getattr(org_mirror, name) for name in _PROPAGATED}
        values["tag_patterns"] = list(org_mirror.tag_patterns or ["*"])
        if entry_name:
            values["external_reference"] = f"{org_mirror.external_registry_url}/{entry_name}"
        if any(getattr(mirror, name) != value for name, value in values.items()):
            RepositoryMirror.objects.filter(pk=mirror.pk).update(**values)


class _OrgSync:
    def __init__(self, org_mirror: OrganizationMirror, token: str, progress: Progress | None) -> None:
        self.org_mirror = org_mirror
        self.organization = org_mirror.organization
        self.token = token
        self.progress = progress or (lambda line: None)
        self.counts = OrgSyncCounts()
        self.errors: list[str] = []
        self.outcomes: dict[str, str] = {}
        self.lease = timedelta(seconds=int(_config().get("sync_lease_s", 600)))
        self._last_renew = time.monotonic()
        if org_mirror.robot is None:
            raise ConflictError("the organization mirror has no robot account (it was deleted); choose one")
        self.robot = org_mirror.robot
        self.actor = principal_for_robot(org_mirror.robot)

    def checkpoint(self) -> None:
        row = OrganizationMirror.objects.filter(pk=self.org_mirror.pk, sync_token=self.token).values_list("cancel_requested", flat=True).first()
        if row is None:
            raise _LeaseLost()
        if row:
            raise _Cancelled()
        OrganizationMirror.objects.filter(pk=self.org_mirror.pk, sync_token=self.token).update(sync_expires_at=timezone.now() + self.lease)
        self._last_renew = time.monotonic()

    def child_progress(self, line: str) -> None:
        """A repository sync's progress, indented; renews the organization's lease as it goes."""
        self.progress(f"    {line}")
        if time.monotonic() - self._last_renew > _RENEW_EVERY_S:
            OrganizationMirror.objects.filter(pk=self.org_mirror.pk, sync_token=self.token).update(sync_expires_at=timezone.now() + self.lease)
            self._last_renew = time.monotonic()

    def run(self) -> None:
        source = f"{self.org_mirror.external_registry_url}/{self.org_mirror.external_namespace}".rstrip("/")
        self.progress(f"discovering repositories under {source}" + (" (configured list)" if self.org_mirror.repositories else ""))
        with _client(self.org_mirror) as client:
            names = _discover(client, self.org_mirror)
        self.counts.repositories_discovered = len(names)
        self.progress(f"{len(names)} repository(ies) to mirror")
        now = timezone.now()
        entries: list[OrganizationMirrorRepository] = []
        for name in names:
            entry, _ = OrganizationMirrorRepository.objects.get_or_create(org_mirror=self.org_mirror, upstream_name=name)
            OrganizationMirrorRepository.objects.filter(pk=entry.pk).update(last_seen_at=now, gone_since=None)
            entries.append(entry)
        for index, entry in enumerate(entries, 1):
            self.checkpoint()
            self.sync_repository(entry, index, len(entries))
        self.remove_stale(set(names), now)

    def _local_repository(self, entry: OrganizationMirrorRepository) -> Repository:
        """The entry's local repository, created (with its repository mirror) when missing.

        Raises ConflictError when a repository of that name exists and is not this mirror's."""
        relative = _relative(self.org_mirror, entry.upstream_name)
        full_name = f"{self.organization.name}/{relative}"
        repository = Repository.objects.filter(pk=entry.repository_id).first() if entry.repository_id else None
        if repository is None:
            existing = Repository.objects.filter(full_name=full_name).first()
            if existing is not None:
                raise ConflictError(f"repository {full_name} already exists and is not managed by the organization mirror; rename or delete it")
            repository = repository_create(
                namespace_name=self.organization.name, name=relative, creator=None,  # type: ignore[arg-type]  # an operator: only default permissions
                visibility=self.org_mirror.visibility,
            )
            self.counts.repositories_created += 1
            self.progress(f"  created {full_name} ({self.org_mirror.visibility})")
            OrganizationMirrorRepository.objects.filter(pk=entry.pk).update(repository=repository)
            entry.repository = repository
        mirror = RepositoryMirror.objects.filter(repository=repository).first()
        if mirror is None:
            mirror_create(
                repository=repository,
                values=MirrorSettings(
                    external_reference=f"{self.org_mirror.external_registry_url}/{entry.upstream_name}",
                    sync_interval=self.org_mirror.sync_interval, sync_start_date=self.org_mirror.sync_start_date,
                    tag_patterns=list(self.org_mirror.tag_patterns or ["*"]), robot=self.robot, verify_tls=self.org_mirror.verify_tls,
                    architecture_filter=list(self.org_mirror.architecture_filter), timeout_s=self.org_mirror.timeout_s, is_enabled=True,
                ),
            )
        if repository.state != Repository.State.MIRROR:
            repository_set_state(repository=repository, state=Repository.State.MIRROR)
        _propagate(self.org_mirror, [entry])
        return repository

    def sync_repository(self, entry: OrganizationMirrorRepository, index: int, total: int) -> None:
        self.progress(f"[{index}/{total}] {entry.upstream_name}")
        status, error, counts = MirrorStatus.FAIL, "", {}
        OrganizationMirrorRepository.objects.filter(pk=entry.pk).update(status=MirrorStatus.SYNCING)
        try:
            repository = self._local_repository(entry)
            self.outcomes[repository.full_name] = MirrorStatus.SYNCING
            result = mirror_sync(mirror_id=RepositoryMirror.objects.get(repository=repository).pk, progress=self.child_progress)
            assert result is not None
            status, counts = result.status, result.counts
            error = "; ".join(result.errors)
        except (RegistryError, OutboundURLError) as exc:
            error = exc.message
        except Exception as exc:  # noqa: BLE001 - one repository's bug must not stop the others; recorded
            logger.exception("organization mirror %s: repository %s failed", self.org_mirror.pk, entry.upstream_name)
            error = f"internal error: {exc.__class__.__name__}: {exc}"
        if status == MirrorStatus.SUCCESS:
            self.counts.repositories_synced += 1
        else:
            self.counts.repositories_failed += 1
            self.errors.append(f"{entry.upstream_name}: {error or status}")
            self.progress(f"  {entry.upstream_name}: {status} {error}")
        for key in ("tags_copied", "tags_unchanged", "tags_deleted", "blobs_copied", "blobs_mounted", "bytes_copied"):
            setattr(self.counts, key, getattr(self.counts, key) + int(counts.get(key, 0)))
        local = Repository.objects.filter(pk=entry.repository_id).values_list("full_name", flat=True).first() if entry.repository_id else None
        self.outcomes[local or entry.upstream_name] = status
        OrganizationMirrorRepository.objects.filter(pk=entry.pk).update(
            status=status, last_sync_at=timezone.now(), last_error=error[:4000], last_result=counts,
        )
        if status == MirrorStatus.CANCEL:
            self.checkpoint()  # the organization sync was cancelled too: stop here

    def remove_stale(self, present: set[str], now: datetime) -> None:
        stale = list(self.org_mirror.discovered.exclude(upstream_name__in=present).select_related("repository"))
        for entry in stale:
            self.checkpoint()
            if not self.org_mirror.delete_stale_repos:
                if entry.gone_since is None:
                    OrganizationMirrorRepository.objects.filter(pk=entry.pk).update(gone_since=now)
                self.counts.repositories_gone += 1
                self.progress(f"  {entry.upstream_name}: gone upstream (kept: delete_stale_repos is off)")
                continue
            repository = entry.repository
            if repository is not None and repository.deleted_at is None:
                repository_delete(repository=repository, actor=self.actor)
                audit_log(
                    kind="org_mirror_repo_deleted", principal=self.actor, namespace_name=self.organization.name,
                    metadata={"repository": repository.full_name, "upstream": entry.upstream_name, "reason": "gone upstream"},
                )
                self.progress(f"  {repository.full_name}: deleted (gone upstream)")
            entry.delete()
            self.counts.repositories_deleted += 1


def org_mirror_sync(*, org_mirror_id: int, scheduled: bool = False, progress: Progress | None = None) -> OrgMirrorSyncResult | None:
    """Discover the upstream repositories and sync each (see the module docstring); record the
    outcome (status, last/next sync, error, counts) on the organization mirror and each
    discovered repository. Each repository sync emits the ``repo_mirror_sync_*`` events.

    ``scheduled``: run only if the scheduler queued it (None otherwise).

    Raises (not scheduled): NotFoundError, ConflictError (disabled or already running).
    Upstream errors are recorded, not raised.
    """
    claimed = _claim(org_mirror_id, scheduled=scheduled)
    if claimed is None:
        return None
    org_mirror, token = claimed
    name = org_mirror.organization.name
    audit_log(kind="org_mirror_sync_started", principal=None, namespace_name=org_mirror.organization.name, metadata={"message": f"sync of organization {name}"})
    sync: _OrgSync | None = None
    status = MirrorStatus.SUCCESS
    errors: list[str] = []
    try:
        sync = _OrgSync(org_mirror, token, progress)
        sync.run()
        errors = sync.errors
        if errors:
            status = MirrorStatus.FAIL
    except _Cancelled:
        status, errors = MirrorStatus.CANCEL, [*(sync.errors if sync else []), "the sync was cancelled"]
    except _LeaseLost:
        logger.warning("organization mirror %s: the sync lost its claim; stopping", org_mirror_id)
        return OrgMirrorSyncResult(org_mirror_id, name, "LOST", asdict(sync.counts) if sync else {}, ("lost the claim",), None)
    except (RegistryError, OutboundURLError) as exc:
        status, errors = MirrorStatus.FAIL, [*(sync.errors if sync else []), exc.message]
    except Exception as exc:  # noqa: BLE001 - never leave the mirror SYNCING: recorded as FAIL and logged
        status, errors = MirrorStatus.FAIL, [f"internal error: {exc.__class__.__name__}: {exc}"]
        logger.exception("organization mirror %s: sync failed", org_mirror_id)
    counts = asdict(sync.counts) if sync else asdict(OrgSyncCounts())
    now = timezone.now()
    next_sync = _next_slot(org_mirror.sync_start_date, org_mirror.sync_interval, now)
    message = "; ".join(errors)[:4000]
    OrganizationMirror.objects.filter(pk=org_mirror.pk, sync_token=token).update(
        status=status, sync_token="", sync_expires_at=None, cancel_requested=False, last_sync_finished_at=now,
        last_error=message if status != MirrorStatus.SUCCESS else "", last_result=counts, next_sync_at=next_sync,
    )
    audit_log(
        kind="org_mirror_sync_success" if status == MirrorStatus.SUCCESS else "org_mirror_sync_failed", principal=None,
        namespace_name=org_mirror.organization.name, metadata={"message": message or "ok", **counts},
    )
    return OrgMirrorSyncResult(org_mirror.pk, name, status, counts, tuple(errors), next_sync, dict(sync.outcomes) if sync else {})
