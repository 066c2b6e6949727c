"""Repository mirroring (Quay's repo mirror): configuration writes and the sync.

A sync lists the upstream tags (every page), keeps those matching the tag patterns, resolves each
to its digest with one HEAD and copies only what changed: a manifest already present locally is
just tagged, a blob already in the repository is skipped, a blob stored for another repository
the mirror robot can read is mounted (linked), and anything else is streamed from the upstream
straight into an upload (``services.uploads``), verified by digest. Indexes are stored byte for
byte; with an architecture filter only the wanted platforms' children are copied (a sparse
index). Local tags that disappeared upstream are removed when ``delete_stale_tags`` is set.

Concurrency: a sync claims the mirror with a conditional UPDATE (status SYNCING, a random token,
a lease renewed between items); every later write of the run is conditioned on the token, so a
second sync of one mirror cannot start and a sync whose worker died is taken over after its
lease. Cancellation is a flag the sync checks between items.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import math
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Robot
from accounts.principals import Principal
from accounts.services import principal_for_robot
from common.errors import ConflictError, InvalidRequestError, NotFoundError, RegistryError
from common.registry_client import ClientSettings, Credentials, RegistryClient, UpstreamError, UpstreamReference
from common.ssrf import OutboundURLError, check_url
from organizations.models import ROLE_RANK, Role
from repositories import signals
from repositories.access import readable_repositories
from repositories.media_types import Descriptor, parse_manifest
from repositories.models import Blob, BlobPlacement, ManifestBlob, Repository, RepositoryPermission, Tag, UploadedBlob
from repositories.models.mirror import MirrorStatus, OrganizationMirrorRepository, RepositoryMirror
from repositories.selectors import blob_find_in_repository, live_tags, manifest_find
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.manifests import manifest_put
from repositories.services.notification_events import repository_event_data
from repositories.services.repositories import repository_set_state
from repositories.services.tags import tag_create_or_move, tag_delete
from repositories.services.uploads import BodyStream, blob_mount, blob_upload_cancel, blob_upload_complete, blob_upload_start
from repositories.signals import emit_registry_event

logger = logging.getLogger(__name__)

MIN_SYNC_INTERVAL_S = 60
MAX_SYNC_INTERVAL_S = 366 * 86400
MAX_TAG_PATTERNS = 100
_MAX_INDEX_DEPTH = 4
#: a long blob download renews the sync's lease (and checks for a cancel) this often
_RENEW_EVERY_S = 15.0


class MirrorCredentialsError(RegistryError):
    code, http_status, default_message = "MIRROR_CREDENTIALS", 400, "the stored upstream credentials cannot be decrypted; enter them again"


# --- credentials at rest ----------------------------------------------------------------------


def _fernet() -> MultiFernet:
    """Fernet keys derived from SECRET_KEY (and SECRET_KEY_FALLBACKS, so a rotated key still
    decrypts until the credentials are saved again)."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"moorage.mirror.credentials\0" + str(key).encode()).digest())) for key in keys]
    )


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii") if value else ""


def secret_decrypt(token: str) -> str:
    """Raises MirrorCredentialsError when the token does not decrypt (another secret key)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise MirrorCredentialsError() from None


def mirror_credentials(mirror: RepositoryMirror) -> Credentials | None:
    username = secret_decrypt(mirror.username_encrypted)
    return Credentials(username, secret_decrypt(mirror.password_encrypted)) if username else None


def mirror_username(mirror: RepositoryMirror) -> str | None:
    """The upstream user name for display (Quay shows it; never the password)."""
    try:
        return secret_decrypt(mirror.username_encrypted) or None
    except MirrorCredentialsError:
        return "(invalid. please re-enter)"


# --- validation -------------------------------------------------------------------------------


def tag_patterns_normalize(value: Any) -> list[str]:
    """Quay's ``root_rule.rule_value``: a list of globs, or one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError("tag patterns must be a list of globs (or one comma-separated string)")
    patterns = [item.strip() for item in value if item.strip()]
    if any(not pattern.isprintable() for pattern in patterns):
        raise InvalidRequestError("tag patterns must be printable text")
    if not patterns:
        raise InvalidRequestError("at least one tag pattern is required (use * for every tag)")
    if len(patterns) > MAX_TAG_PATTERNS or any(len(p) > 256 for p in patterns):
        raise InvalidRequestError(f"at most {MAX_TAG_PATTERNS} tag patterns of up to 256 characters")
    return patterns


def architectures_normalize(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError("architecture_filter must be a list of architectures (amd64, arm64, ...)")
    names = sorted({item.strip() for item in value if item.strip()})
    if any(len(name) > 64 or not name.replace("_", "").replace("-", "").isalnum() for name in names):
        raise InvalidRequestError("architecture names are letters, digits, '-' and '_'", detail={"architecture_filter": names[:20]})
    return names


def tag_matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def reference_validate(reference: str) -> UpstreamReference:
    """Parse the upstream reference and check its host against the outbound policy.

    Raises InvalidRequestError (a bad reference) or OutboundURLError (a refused address)."""
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 512 or not reference.strip().isprintable() or " " in reference.strip():
        raise InvalidRequestError("external_reference is required: registry.example.com/namespace/repository")
    try:
        parsed = UpstreamReference.parse(reference)
    except UpstreamError as exc:
        raise InvalidRequestError(exc.message, detail=exc.detail) from None
    check_url(f"{parsed.scheme or 'https'}://{parsed.host}/")
    return parsed


def _robot_validate(repository: Repository, robot: Robot | None) -> Robot:
    if robot is None:
        raise InvalidRequestError("robot_username is required: the robot account the mirror pushes as")
    if robot.namespace_id != repository.namespace_id:
        raise InvalidRequestError(f"robot {robot.username} belongs to another namespace", detail={"robot_username": robot.username})
    return robot


def _grant_robot_write(repository: Repository, robot: Robot) -> None:
    """As in Quay: the mirror robot gets write on the repository if it has less."""
    existing = RepositoryPermission.objects.filter(repository=repository, robot=robot).first()
    if existing is None:
        RepositoryPermission.objects.create(repository=repository, robot=robot, role=Role.WRITE)
    elif ROLE_RANK[existing.role] < ROLE_RANK[Role.WRITE]:
        existing.role = Role.WRITE
        existing.save(update_fields=["role"])


def _next_slot(start: datetime, interval_s: int, now: datetime) -> datetime:
    """The first ``start + k * interval`` after ``now`` (``start`` itself when in the future)."""
    if start > now:
        return start
    steps = math.floor((now - start).total_seconds() / interval_s) + 1
    return start + timedelta(seconds=steps * interval_s)


def _config() -> dict[str, Any]:
    return settings.MOORAGE.get("mirror", {}) or {}


# --- configuration writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorSettings:
    """What ``mirror_create`` and ``mirror_update`` take (None in an update: unchanged)."""

    external_reference: str | None = None
    sync_interval: int | None = None
    sync_start_date: datetime | None = None
    tag_patterns: Any = None
    robot: Robot | None = None
    username: str | None = None
    password: str | None = None
    credentials_given: bool = False
    verify_tls: bool | None = None
    architecture_filter: Any = None
    delete_stale_tags: bool | None = None
    timeout_s: int | None = None
    is_enabled: bool | None = None


def mirror_credentials_apply(target: Any, *, username: str | None, password: str | None) -> None:
    """Set the encrypted upstream credentials of a repository or organization mirror row.

    A password without a user name is refused; no user name clears both; ``password`` None keeps
    the stored password under a new user name (as Quay).
    """
    if not username and password:
        raise InvalidRequestError("a password needs a username")
    target.username_encrypted = secret_encrypt(username or "")
    if not username:
        target.password_encrypted = ""
    elif password is not None:
        target.password_encrypted = secret_encrypt(password)


def mirror_timeout_validate(timeout_s: int) -> int:
    if not 10 <= timeout_s <= 86400:
        raise InvalidRequestError("the timeout is 10 to 86400 seconds", detail={"skopeo_timeout_interval": timeout_s})
    return timeout_s


def _apply(mirror: RepositoryMirror, values: MirrorSettings) -> list[str]:
    changed: list[str] = []
    if values.external_reference is not None:
        reference_validate(values.external_reference)
        mirror.external_reference = values.external_reference.strip()
        changed.append("external_reference")
    if values.sync_interval is not None:
        if not MIN_SYNC_INTERVAL_S <= values.sync_interval <= MAX_SYNC_INTERVAL_S:
            raise InvalidRequestError(f"sync_interval is {MIN_SYNC_INTERVAL_S} to {MAX_SYNC_INTERVAL_S} seconds", detail={"sync_interval": values.sync_interval})
        mirror.sync_interval = values.sync_interval
        changed.append("sync_interval")
    if values.sync_start_date is not None:
        mirror.sync_start_date = values.sync_start_date
        changed.append("sync_start_date")
    if values.tag_patterns is not None:
        mirror.tag_patterns = tag_patterns_normalize(values.tag_patterns)
        changed.append("root_rule")
    if values.robot is not None:
        mirror.robot = _robot_validate(mirror.repository, values.robot)
        changed.append("robot_username")
    if values.credentials_given:
        mirror_credentials_apply(mirror, username=values.username, password=values.password)
        changed.append("external_registry_username")
    if values.verify_tls is not None:
        mirror.verify_tls = values.verify_tls
        changed.append("verify_tls")
    if values.architecture_filter is not None:
        mirror.architecture_filter = architectures_normalize(values.architecture_filter)
        changed.append("architecture_filter")
    if values.delete_stale_tags is not None:
        mirror.delete_stale_tags = values.delete_stale_tags
        changed.append("delete_stale_tags")
    if values.timeout_s is not None:
        mirror.timeout_s = mirror_timeout_validate(values.timeout_s)
        changed.append("skopeo_timeout_interval")
    if values.is_enabled is not None:
        mirror.is_enabled = values.is_enabled
        changed.append("is_enabled")
    return changed


def mirror_create(
    *, repository: Repository, values: MirrorSettings, actor: Principal | None = None, request: RequestInfo | None = None
) -> RepositoryMirror:
    """Configure ``repository`` as a mirror. Enabled (the default) puts it in MIRROR state; the
    robot gets write on it. The first sync is due at ``sync_start_date``.

    Raises:
        ConflictError: the repository already has a mirror configuration.
        InvalidRequestError: a missing or invalid field (reference, interval, patterns, robot...).
        OutboundURLError: the upstream host is refused by the outbound policy.
    """
    for required in ("external_reference", "sync_interval", "sync_start_date", "tag_patterns"):
        if getattr(values, required) is None:
            raise InvalidRequestError(f"{required} is required", detail={"field": required})
    mirror = RepositoryMirror(repository=repository, sync_interval=MIN_SYNC_INTERVAL_S, sync_start_date=timezone.now())
    mirror.retries_remaining = int(_config().get("retries", 3))
    _apply(mirror, values)
    robot = _robot_validate(repository, mirror.robot)
    mirror.next_sync_at = mirror.sync_start_date
    with transaction.atomic():
        try:
            with transaction.atomic():
                mirror.save()
        except IntegrityError:  # one per repository (a concurrent create, or one exists)
            raise ConflictError(f"a mirror configuration already exists for repository {repository.full_name}") from None
        _grant_robot_write(repository, robot)
        if mirror.is_enabled:
            repository_set_state(repository=repository, state=Repository.State.MIRROR)
        audit_log(
            kind="repo_mirror_config_changed", principal=actor, repository=repository, request=request,
            metadata={"changed": "external_reference", "to": mirror.external_reference},
        )
    return mirror


def mirror_update(
    *, mirror: RepositoryMirror, values: MirrorSettings, actor: Principal | None = None, request: RequestInfo | None = None
) -> RepositoryMirror:
    """Change a mirror's settings (only the fields given). Enabling puts the repository in MIRROR
    state; a new start date or interval reschedules the next sync. Same errors as ``mirror_create``."""
    with transaction.atomic():
        locked = RepositoryMirror.objects.select_for_update(of=("self",)).select_related("repository", "robot__namespace").get(pk=mirror.pk)
        changed = _apply(locked, values)
        if {"sync_start_date", "sync_interval"} & set(changed) and locked.status != MirrorStatus.SYNCING:
            # a new start date is the next sync; a new interval keeps the start date's rhythm
            locked.next_sync_at = _next_slot(locked.sync_start_date, locked.sync_interval, timezone.now())
        locked.save()
        if "robot_username" in changed and locked.robot is not None:
            _grant_robot_write(locked.repository, locked.robot)
        if values.is_enabled and locked.repository.state != Repository.State.MIRROR:
            repository_set_state(repository=locked.repository, state=Repository.State.MIRROR)
        for name in changed:
            to: Any = getattr(values, {"root_rule": "tag_patterns", "robot_username": "robot", "external_registry_username": "username",
                                       "skopeo_timeout_interval": "timeout_s"}.get(name, name))
            audit_log(
                kind="repo_mirror_config_changed", principal=actor, repository=locked.repository, request=request,
                metadata={"changed": name, "to": str(to) if isinstance(to, (Robot, datetime)) else to},
            )
    return locked


def mirror_sync_now(*, mirror: RepositoryMirror, actor: Principal | None = None, request: RequestInfo | None = None) -> RepositoryMirror:
    """Ask for a sync now: it is queued after the commit (and the scheduler, every 30 s, would
    queue it too if that message were lost).

    Raises ConflictError when the mirror is disabled or a sync is running."""
    if not mirror.is_enabled:
        raise ConflictError("the mirror is disabled; enable it first")
    now = timezone.now()
    updated = RepositoryMirror.objects.filter(pk=mirror.pk).filter(~Q(status=MirrorStatus.SYNCING) | Q(sync_expires_at__lt=now)).update(
        status=MirrorStatus.SYNC_NOW, next_sync_at=now
    )
    if not updated:
        raise ConflictError("a sync of this mirror is running")
    audit_log(kind="repo_mirror_config_changed", principal=actor, repository=mirror.repository, request=request, metadata={"changed": "sync_status", "to": "SYNC_NOW"})
    # Queued at once (the scheduler would also pick it up within its period).
    transaction.on_commit(lambda: signals.mirror_sync_requested.send(sender=RepositoryMirror, mirror_id=mirror.pk))
    mirror.refresh_from_db()
    return mirror


def mirror_cancel(*, mirror: RepositoryMirror, actor: Principal | None = None, request: RequestInfo | None = None) -> RepositoryMirror:
    """Cancel a running sync (it stops before its next tag, manifest or blob) or a requested one.

    Raises NotFoundError when no sync is running or requested (as Quay answers)."""
    now = timezone.now()
    with transaction.atomic():
        locked = RepositoryMirror.objects.select_for_update(of=("self",)).select_related("repository").get(pk=mirror.pk)
        if locked.status == MirrorStatus.SYNCING:
            locked.cancel_requested = True
        elif locked.status == MirrorStatus.SYNC_NOW or locked.queued_until is not None:
            locked.status = MirrorStatus.CANCEL
            locked.queued_until = None
            locked.next_sync_at = _next_slot(locked.sync_start_date, locked.sync_interval, now)
        else:
            raise NotFoundError("no sync of this mirror is running or requested")
        locked.save()
        audit_log(kind="repo_mirror_config_changed", principal=actor, repository=locked.repository, request=request, metadata={"changed": "sync_status", "to": "SYNC_CANCEL"})
    return locked


# --- scheduling -------------------------------------------------------------------------------


def _eligible() -> Q:
    return Q(is_enabled=True, repository__state=Repository.State.MIRROR, repository__deleted_at__isnull=True)


def mirrors_queue_due(*, now: datetime | None = None) -> list[int]:
    """Mark the mirrors whose sync is due (requested, scheduled time passed, or a sync whose
    lease expired) as queued and return their ids. A conditional UPDATE per mirror, so two
    schedulers never queue one mirror twice before it ran."""
    now = now or timezone.now()
    lease = timedelta(seconds=int(_config().get("sync_lease_s", 600)))
    due = RepositoryMirror.objects.filter(_eligible()).filter(
        (~Q(status=MirrorStatus.SYNCING) & Q(next_sync_at__lte=now)) | Q(status=MirrorStatus.SYNC_NOW) | Q(status=MirrorStatus.SYNCING, sync_expires_at__lt=now)
    ).filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
    # The repository mirrors of an organization mirror are synced by the organization's sync
    # (services.mirror_org), except when someone asked for one of them now.
    managed = OrganizationMirrorRepository.objects.filter(repository__isnull=False).values("repository_id")
    due = due.exclude(Q(repository_id__in=managed) & ~Q(status=MirrorStatus.SYNC_NOW))
    queued: list[int] = []
    for mirror_id in due.values_list("pk", flat=True)[:1000]:
        if RepositoryMirror.objects.filter(pk=mirror_id).filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now)).update(queued_until=now + lease):
            queued.append(mirror_id)
    return queued


# --- the sync ---------------------------------------------------------------------------------


@dataclass
class SyncCounts:
    tags_matched: int = 0
    tags_copied: int = 0
    tags_unchanged: int = 0
    tags_deleted: int = 0
    tags_failed: int = 0
    manifests_copied: int = 0
    blobs_copied: int = 0
    blobs_mounted: int = 0
    blobs_present: int = 0
    bytes_copied: int = 0


@dataclass(frozen=True)
class MirrorSyncResult:
    mirror_id: int
    repository: str
    status: str
    counts: dict[str, int]
    errors: tuple[str, ...]
    next_sync_at: datetime | None
    upstream_requests: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = list(self.errors)
        data["next_sync_at"] = self.next_sync_at.isoformat() if self.next_sync_at else None
        return data


class _Cancelled(Exception):
    pass


class _LeaseLost(Exception):
    pass


Progress = Callable[[str], None]


class _Sync:
    def __init__(self, mirror: RepositoryMirror, token: str, progress: Progress | None) -> None:
        self.mirror = mirror
        self.repository = mirror.repository
        self.token = token
        self.progress = progress or (lambda line: None)
        self.counts = SyncCounts()
        self.errors: list[str] = []
        self.lease = timedelta(seconds=int(_config().get("sync_lease_s", 600)))
        self.reference = UpstreamReference.parse(mirror.external_reference)
        if mirror.robot is None:
            raise ConflictError("the mirror has no robot account (it was deleted); choose one")
        self.actor = principal_for_robot(mirror.robot)
        self.architectures = set(mirror.architecture_filter or [])
        options = ClientSettings.from_settings()
        options = ClientSettings(**{**asdict(options), "read_timeout_s": float(mirror.timeout_s)})
        self.client = RegistryClient.for_reference(
            self.reference, credentials=mirror_credentials(mirror), verify_tls=mirror.verify_tls, options=options
        )

    # -- bookkeeping ---------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Renew the lease; stop when the run was cancelled or taken over."""
        row = RepositoryMirror.objects.filter(pk=self.mirror.pk, sync_token=self.token).values_list("cancel_requested", flat=True).first()
        if row is None:
            raise _LeaseLost()
        if row:
            raise _Cancelled()
        RepositoryMirror.objects.filter(pk=self.mirror.pk, sync_token=self.token).update(sync_expires_at=timezone.now() + self.lease)

    # -- copying -------------------------------------------------------------------------------

    def run(self) -> None:
        upstream = self.reference.repository
        self.progress(f"listing tags of {self.reference.host}/{upstream}")
        patterns = list(self.mirror.tag_patterns or ["*"])
        tags = sorted({tag for tag in self.client.tags(upstream) if tag_matches(tag, patterns)})
        self.counts.tags_matched = len(tags)
        self.progress(f"{len(tags)} tag(s) match {', '.join(patterns)}")
        for tag in tags:
            self.checkpoint()
            try:
                self.sync_tag(tag)
            except (RegistryError, OutboundURLError) as exc:
                self.counts.tags_failed += 1
                self.errors.append(f"{tag}: {exc.message}")
                self.progress(f"  {tag}: FAILED {exc.message}")
        if self.mirror.delete_stale_tags:
            wanted = set(tags)
            local = Tag.objects.filter(live_tags(), repository=self.repository, hidden=False).values_list("name", flat=True)
            for name in sorted(set(local) - wanted):
                self.checkpoint()
                try:
                    tag_delete(repository=self.repository, name=name)
                except RegistryError as exc:
                    self.errors.append(f"{name}: could not delete: {exc.message}")
                    continue
                audit_log(kind="delete_tag", principal=self.actor, repository=self.repository, metadata={"tag": name, "reason": "mirror: gone upstream"})
                self.counts.tags_deleted += 1
                self.progress(f"  {name}: deleted (gone upstream)")

    def sync_tag(self, tag: str) -> None:
        info = self.client.manifest_head(self.reference.repository, tag)
        live = Tag.objects.filter(live_tags(), repository=self.repository, name=tag, hidden=False).select_related("manifest").first()
        if live is not None and live.manifest.digest == info.digest and live.manifest.deleted_at is None:
            self.counts.tags_unchanged += 1
            self.progress(f"  {tag}: unchanged ({info.digest[:19]})")
            return
        local = manifest_find(repository=self.repository, digest=info.digest)
        if local is not None:
            tag_create_or_move(repository=self.repository, name=tag, manifest_digest=info.digest, actor=self.actor)
        else:
            self.copy_manifest(info.digest, tag=tag)
        self.counts.tags_copied += 1
        self.progress(f"  {tag}: copied -> {info.digest[:19]}")

    def copy_manifest(self, digest: str, *, tag: str | None = None, depth: int = 0) -> None:
        if depth > _MAX_INDEX_DEPTH:
            raise UpstreamError("indexes nest too deeply", detail={"digest": digest})
        self.checkpoint()
        upstream = self.client.manifest_get(self.reference.repository, digest)
        parsed = parse_manifest(upstream.raw, upstream.media_type or _declared_type(upstream.raw))
        skipped: set[str] = set()
        if parsed.is_index:
            for child in parsed.children:
                if self.architectures and (child.platform or {}).get("architecture") not in self.architectures:
                    skipped.add(child.digest)
                    continue
                if manifest_find(repository=self.repository, digest=child.digest) is None:
                    self.copy_manifest(child.digest, depth=depth + 1)
        else:
            for descriptor in (parsed.config, *parsed.layers):
                if descriptor is not None and not descriptor.is_foreign and descriptor.data is None:
                    self.ensure_blob(descriptor)
        manifest_put(
            repository=self.repository, reference=tag or digest, raw=upstream.raw, content_type=parsed.media_type,
            actor=self.actor, sparse_children=frozenset(skipped),
        )
        self.counts.manifests_copied += 1

    def _mount_source(self, blob: Blob) -> Repository | None:
        """A repository holding ``blob`` that the mirror robot may read (content another
        repository's users cannot see is downloaded, never linked)."""
        readable = readable_repositories(self.actor)
        candidates = Repository.objects.exclude(pk=self.repository.pk)
        if readable is not None:
            candidates = candidates.filter(pk__in=Repository.objects.filter(readable).values("pk"))
        holders = Q(pk__in=ManifestBlob.objects.filter(blob=blob).values("repository_id")) | Q(
            pk__in=UploadedBlob.objects.filter(blob=blob, expires_at__gt=timezone.now()).values("repository_id")
        )
        return candidates.filter(holders).first()

    def _renewing(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` through, renewing the lease (and noticing a cancel) during a long download."""
        last = time.monotonic()
        for chunk in chunks:
            if time.monotonic() - last > _RENEW_EVERY_S:
                self.checkpoint()
                last = time.monotonic()
            yield chunk

    def ensure_blob(self, descriptor: Descriptor) -> None:
        self.checkpoint()
        if blob_find_in_repository(repository=self.repository, digest=descriptor.digest) is not None:
            self.counts.blobs_present += 1
            return
        local = Blob.objects.filter(digest=descriptor.digest).first()
        if local is not None and BlobPlacement.objects.filter(blob=local).exists():
            source = self._mount_source(local)
            if source is not None and blob_mount(repository=self.repository, digest=descriptor.digest, source=source) is not None:
                self.counts.blobs_mounted += 1
                return
        upload = blob_upload_start(repository=self.repository, algorithm=descriptor.digest.split(":", 1)[0])
        try:
            with self.client.blob_get(self.reference.repository, descriptor.digest) as stream:
                chunks = self._renewing(stream.chunks)
                blob_upload_complete(upload=upload, digest=descriptor.digest, body=BodyStream(chunks=chunks, declared_length=descriptor.size))
        except BaseException:
            if type(upload).objects.filter(pk=upload.pk).exists():
                blob_upload_cancel(upload=upload)
            raise
        self.counts.blobs_copied += 1
        self.counts.bytes_copied += descriptor.size


def _declared_type(raw: bytes) -> str:
    try:
        value = json.loads(raw).get("mediaType")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _claim(mirror_id: int, *, scheduled: bool) -> tuple[RepositoryMirror, str] | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    lease = timedelta(seconds=int(_config().get("sync_lease_s", 600)))
    rows = RepositoryMirror.objects.filter(pk=mirror_id).filter(_eligible()).filter(~Q(status=MirrorStatus.SYNCING) | Q(sync_expires_at__lt=now))
    if scheduled:
        rows = rows.filter(queued_until__isnull=False)
    if rows.update(status=MirrorStatus.SYNCING, sync_token=token, sync_expires_at=now + lease, cancel_requested=False, queued_until=None, last_sync_started_at=now):
        return RepositoryMirror.objects.select_related("repository__namespace", "robot__namespace").get(pk=mirror_id), token
    if scheduled:
        return None
    mirror = RepositoryMirror.objects.select_related("repository").filter(pk=mirror_id).first()
    if mirror is None or mirror.repository.deleted_at is not None:
        raise NotFoundError("no such mirror", detail={"mirror": mirror_id})
    if not mirror.is_enabled:
        raise ConflictError(f"the mirror of {mirror.repository.full_name} is disabled")
    if mirror.repository.state != Repository.State.MIRROR:
        raise ConflictError(f"repository {mirror.repository.full_name} is not in MIRROR state (state {mirror.repository.state})")
    raise ConflictError(f"a sync of {mirror.repository.full_name} is already running")


def _event(event: str, mirror: RepositoryMirror, message: str) -> None:
    repository = mirror.repository
    emit_registry_event(
        event, namespace_id=repository.namespace_id, repository_id=repository.pk,
        payload=repository_event_data(repository.namespace.name, repository.name, {"message": message}),
    )


def mirror_sync(*, mirror_id: int, scheduled: bool = False, progress: Progress | None = None) -> MirrorSyncResult | None:
    """Run one sync of the mirror now and record its outcome (status, last/next sync, error,
    counts), emitting ``repo_mirror_sync_started`` and ``_success``/``_failed``.

    ``scheduled``: run only if the scheduler queued it (returns None otherwise, quietly: another
    worker ran it or it was cancelled).

    Raises (not scheduled): NotFoundError (no mirror), ConflictError (disabled, not in MIRROR
    state, or a sync is already running). Upstream errors are recorded, not raised.
    """
    claimed = _claim(mirror_id, scheduled=scheduled)
    if claimed is None:
        return None
    mirror, token = claimed
    name = mirror.repository.full_name
    audit_log(kind="repo_mirror_sync_started", principal=None, repository=mirror.repository, metadata={"message": f"sync of {name} from {mirror.external_reference}"})
    _event("repo_mirror_sync_started", mirror, f"sync of {name} from {mirror.external_reference} started")
    sync: _Sync | None = None
    status = MirrorStatus.SUCCESS
    errors: list[str] = []
    try:
        sync = _Sync(mirror, token, progress)
        with sync.client:
            sync.run()
        errors = sync.errors
        if errors:
            status = MirrorStatus.FAIL
    except _Cancelled:
        status, errors = MirrorStatus.CANCEL, ["the sync was cancelled"]
    except _LeaseLost:
        logger.warning("mirror %s: the sync lost its claim (lease expired and taken over); stopping", mirror_id)
        return MirrorSyncResult(mirror_id, name, "LOST", asdict(sync.counts) if sync else {}, ("lost the claim",), None)
    except (RegistryError, OutboundURLError) as exc:
        status, errors = MirrorStatus.FAIL, [*(sync.errors if sync else []), exc.message]
    except Exception as exc:  # noqa: BLE001 - a bug must not leave the mirror SYNCING: recorded as FAIL and logged
        status, errors = MirrorStatus.FAIL, [f"internal error: {exc.__class__.__name__}: {exc}"]
        logger.exception("mirror %s: sync failed", mirror_id)
    counts = asdict(sync.counts) if sync else asdict(SyncCounts())
    return _finish(mirror, token, status, errors, counts, dict(sync.client.log.counts) if sync else {})


def _finish(mirror: RepositoryMirror, token: str, status: str, errors: list[str], counts: dict[str, int], requests: dict[str, int]) -> MirrorSyncResult:
    now = timezone.now()
    regular = _next_slot(mirror.sync_start_date, mirror.sync_interval, now)
    retries = int(_config().get("retries", 3))
    current = RepositoryMirror.objects.filter(pk=mirror.pk).values_list("retries_remaining", flat=True).first() or 0
    if status == MirrorStatus.FAIL and current > 0:
        next_sync = min(regular, now + timedelta(seconds=int(_config().get("retry_delay_s", 300))))
        remaining = current - 1
    else:
        next_sync, remaining = regular, retries
    message = "; ".join(errors)[:4000]
    with transaction.atomic():
        RepositoryMirror.objects.filter(pk=mirror.pk, sync_token=token).update(
            status=status, sync_token="", sync_expires_at=None, cancel_requested=False, last_sync_finished_at=now,
            last_error=message if status != MirrorStatus.SUCCESS else "", last_result={**counts, "upstream_requests": requests},
            next_sync_at=next_sync, retries_remaining=remaining,
        )
        name = mirror.repository.full_name
        if status == MirrorStatus.SUCCESS:
            audit_log(kind="repo_mirror_sync_success", principal=None, repository=mirror.repository, metadata={"message": f"{counts['tags_copied']} tag(s) copied", **counts})
            _event("repo_mirror_sync_success", mirror, f"sync of {name} succeeded: {counts['tags_copied']} tag(s) copied, {counts['tags_unchanged']} unchanged")
        else:
            audit_log(kind="repo_mirror_sync_failed", principal=None, repository=mirror.repository, metadata={"message": message, **counts})
            _event("repo_mirror_sync_failed", mirror, f"sync of {name} {'was cancelled' if status == MirrorStatus.CANCEL else 'failed'}: {message}")
    return MirrorSyncResult(mirror.pk, mirror.repository.full_name, status, counts, tuple(errors), next_sync, requests)
