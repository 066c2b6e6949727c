"""Image builds (Quay's ``endpoints/api/build.py``, ``trigger.py`` and the file drop): build
requests, cancellation, phases and their notifications, custom git triggers and their webhook.

The work itself (fetching the context, buildah, pushing) is ``repositories.services.build_runner``;
this module owns the rows. A queued build is announced with the ``build_queued`` signal, which
``tasks.receivers`` turns into a ``registry.builds.run`` task on the ``builds`` queue.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.models import Robot, User
from accounts.principals import Principal
from common.errors import ConflictError, InvalidRequestError, NotFoundError, PayloadTooLargeError, UnauthorizedError
from common.grammar import validate_tag
from common.ssrf import OutboundURLError, check_url
from repositories.models import Repository
from repositories.models.builds import FINISHED_PHASES, BuildContextUpload, BuildPhase, BuildTrigger, RepositoryBuild
from repositories.services.build_logs import build_log_append, log_entry
from repositories.services.mirror import secret_decrypt, secret_encrypt
from repositories.services.notification_events import repository_event_data
from repositories.signals import build_queued, emit_registry_event
from storagebackends.paths import build_context_path
from storagebackends.registry import get_location, preferred_location

_FILEDROP_SALT = "moorage.builds.filedrop"
_BUILD_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_TAGS = 20
MAX_BUILD_ARGS = 64
#: Quay's DisableReason name for triggers switched off by failures
DISABLED_BY_FAILURES = "successive_build_failures"


def builds_config() -> dict[str, Any]:
    return settings.MOORAGE["builds"]


# --- file drop --------------------------------------------------------------------------------


def filedrop_create(*, user: User | None) -> tuple[BuildContextUpload, str]:
    """A new upload slot: (row, signed token for the PUT URL). The slot expires unused."""
    upload = BuildContextUpload.objects.create(
        file_id=uuid.uuid4().hex, created_by=user, expires_at=timezone.now() + timedelta(seconds=builds_config()["filedrop_expiry_s"])
    )
    return upload, signing.dumps(upload.file_id, salt=_FILEDROP_SALT)


def _limited(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"the build context is larger than {limit} bytes (builds.max_context_bytes)", detail={"limit": limit})
        yield chunk


def filedrop_receive(*, file_id: str, token: str, chunks: Iterable[bytes], content_length: int | None) -> BuildContextUpload:
    """Stream the archive of a file-drop slot into storage (visible only when complete).

    Raises:
        UnauthorizedError: the token is not this slot's.
        NotFoundError: no such slot, or it expired.
        ConflictError: the slot already holds an archive.
        PayloadTooLargeError: larger than ``builds.max_context_bytes``.
    """
    try:
        signed_id = signing.loads(token, salt=_FILEDROP_SALT, max_age=builds_config()["filedrop_expiry_s"])
    except signing.BadSignature:
        raise UnauthorizedError("invalid or expired upload signature") from None
    if signed_id != file_id:
        raise UnauthorizedError("invalid upload signature")
    upload = BuildContextUpload.objects.filter(file_id=file_id, expires_at__gt=timezone.now()).first()
    if upload is None:
        raise NotFoundError("unknown or expired file drop", detail={"file_id": file_id})
    if upload.uploaded_at is not None:
        raise ConflictError("this file drop already holds an archive; ask for a new one", detail={"file_id": file_id})
    limit = builds_config()["max_context_bytes"]
    if content_length is not None and content_length > limit:
        raise PayloadTooLargeError(f"the build context is larger than {limit} bytes (builds.max_context_bytes)", detail={"limit": limit})
    location = preferred_location()
    path = build_context_path(file_id)
    size = location.write_atomic(path, _limited(chunks, limit))
    updated = BuildContextUpload.objects.filter(pk=upload.pk, uploaded_at__isnull=True).update(
        location=location.name, path=path, size=size, uploaded_at=timezone.now()
    )
    if not updated:
        raise ConflictError("this file drop already holds an archive; ask for a new one", detail={"file_id": file_id})
    upload.refresh_from_db()
    return upload


def filedrops_remove_expired(*, now: Any = None) -> int:
    """Delete expired uploads no unfinished build still needs (and their archives)."""
    now = now or timezone.now()
    removed = 0
    expired = BuildContextUpload.objects.filter(expires_at__lt=now).exclude(builds__phase__in=[BuildPhase.WAITING, BuildPhase.PULLING, BuildPhase.BUILDING])
    for upload in expired[:500]:
        if upload.path:
            try:
                get_location(upload.location).delete(upload.path)
            except Exception:  # noqa: BLE001 - gone already, or the location went away: the row goes anyway
                pass
        upload.delete()
        removed += 1
    return removed


# --- build requests ---------------------------------------------------------------------------


def _relative_path(value: str, what: str, *, allow_empty: bool) -> str:
    """A path inside the build context: relative, no ``..``, normalised (``""`` is the root)."""
    raw = (value or "").strip()
    if "\x00" in raw or "\\" in raw:
        raise InvalidRequestError(f"invalid {what}", detail={what: raw[:300]})
    if raw.startswith("/"):
        raw = raw.lstrip("/")  # Quay's subdirectories are written "/sub"; always relative to the context
    normal = posixpath.normpath(raw) if raw else ""
    if normal in (".", ""):
        normal = ""
    if normal.startswith("..") or "/../" in f"/{normal}/":
        raise InvalidRequestError(f"the {what} must stay inside the build context", detail={what: raw[:300]})
    if not normal and not allow_empty:
        raise InvalidRequestError(f"the {what} is required", detail={what: raw[:300]})
    return normal


def git_url_check(url: str) -> str:
    """A git URL the builders may clone: ``http(s)://`` or ``git://`` to an address the outbound
    policy allows. ``file://``, ``ssh`` and local paths are refused (they would read this host).

    Raises:
        InvalidRequestError: anything else.
    """
    url = (url or "").strip()
    if len(url) > 1024 or any(ord(c) < 33 for c in url):
        raise InvalidRequestError("invalid git URL", detail={"git_url": url[:300]})
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        check_url(url)
    elif scheme == "git":
        if not parts.hostname:
            raise InvalidRequestError("the git URL has no host", detail={"git_url": url[:300]})
        port = f":{parts.port}" if parts.port else ""
        try:
            check_url(f"http://{parts.hostname}{port}/")
        except OutboundURLError as exc:
            raise OutboundURLError(exc.message, detail=exc.detail) from None
    else:
        raise InvalidRequestError("git URLs must start with https://, http:// or git:// (file://, ssh and local paths are refused)", detail={"git_url": url[:300]})
    return url


def _tags(tags: list[str]) -> list[str]:
    if not tags:
        raise InvalidRequestError("at least one tag is required", detail={"docker_tags": []})
    if len(tags) > MAX_TAGS:
        raise InvalidRequestError(f"at most {MAX_TAGS} tags", detail={"docker_tags": len(tags)})
    cleaned: list[str] = []
    for tag in tags:
        validate_tag(tag)
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _build_args(args: dict[str, Any] | None) -> dict[str, str]:
    args = args or {}
    if not isinstance(args, dict) or len(args) > MAX_BUILD_ARGS:
        raise InvalidRequestError(f"build_args must be an object of at most {MAX_BUILD_ARGS} names", detail={"build_args": "invalid"})
    cleaned: dict[str, str] = {}
    for name, value in args.items():
        if not isinstance(name, str) or not _BUILD_ARG_NAME.match(name):
            raise InvalidRequestError("invalid build argument name", detail={"build_args": str(name)[:128]})
        if not isinstance(value, (str, int, float, bool)) or len(str(value)) > 4096 or "\x00" in str(value):
            raise InvalidRequestError("build argument values are strings of at most 4096 characters", detail={"build_args": name})
        cleaned[name] = str(value)
    return cleaned


@dataclass(frozen=True)
class BuildSpec:
    """What a build request asks for (validated by ``build_request``)."""

    tags: list[str]
    file_id: str | None = None
    git_url: str | None = None
    git_ref: str = ""
    context_subdir: str = ""
    dockerfile_path: str = "Dockerfile"
    build_args: dict[str, Any] = field(default_factory=dict)
    pull_robot: Robot | None = None


def _principal_user(principal: Principal) -> User | None:
    return User.objects.filter(pk=principal.id).first() if principal.kind == "user" and principal.id else None


def build_event_payload(build: RepositoryBuild, **extra: Any) -> dict[str, Any]:
    """Quay's build event data (``build_id``, ``build_name``, ``docker_tags``, trigger fields)."""
    payload: dict[str, Any] = {
        "build_id": build.uuid.hex,
        "build_name": display_name(build),
        "docker_tags": list(build.tags),
        "trigger_id": build.trigger.uuid.hex if build.trigger_id and build.trigger else None,
        "trigger_kind": build.trigger.service if build.trigger_id and build.trigger else None,
        "trigger_metadata": build.trigger_metadata or {},
    }
    payload.update(extra)
    return repository_event_data(build.repository.namespace.name, build.repository.name, payload)


def display_name(build: RepositoryBuild) -> str:
    if build.context_kind == RepositoryBuild.ContextKind.GIT:
        commit = (build.trigger_metadata or {}).get("commit", "")
        return commit[:7] if commit else build.git_ref or "git"
    return build.upload.file_id[:7] if build.upload_id and build.upload else "archive"


def _emit(event: str, build: RepositoryBuild, **extra: Any) -> None:
    repository = build.repository
    emit_registry_event(event, namespace_id=repository.namespace_id, repository_id=repository.pk, payload=build_event_payload(build, **extra))


def build_request(
    *, repository: Repository, spec: BuildSpec, requested_by: User | None, trigger: BuildTrigger | None = None, trigger_metadata: dict | None = None
) -> RepositoryBuild:
    """Queue a build of ``repository``; announces ``build_queued`` (event and task) after commit.

    Raises:
        InvalidRequestError: bad tags, paths, build arguments, git URL, or an unknown/unfinished upload.
    """
    tags = _tags(spec.tags)
    subdir = _relative_path(spec.context_subdir, "subdirectory", allow_empty=True)
    dockerfile = _relative_path(spec.dockerfile_path or "Dockerfile", "dockerfile_path", allow_empty=False)
    args = _build_args(spec.build_args)
    upload = None
    git_url = ""
    if spec.file_id:
        upload = BuildContextUpload.objects.filter(file_id=spec.file_id).first()
        if upload is None or upload.uploaded_at is None:
            raise InvalidRequestError("no uploaded build context with this file id (PUT the archive to the file drop URL first)", detail={"file_id": spec.file_id[:100]})
        kind = RepositoryBuild.ContextKind.ARCHIVE
    elif spec.git_url:
        git_url = git_url_check(spec.git_url)
        if not spec.git_ref or len(spec.git_ref) > 255 or spec.git_ref.startswith("-") or any(ord(c) < 33 for c in spec.git_ref):
            raise InvalidRequestError("a git ref (branch or tag) is required", detail={"ref": (spec.git_ref or "")[:255]})
        kind = RepositoryBuild.ContextKind.GIT
    else:
        raise InvalidRequestError("a build needs file_id (an uploaded archive) or git_url", detail={"file_id": None, "git_url": None})
    if spec.pull_robot is not None and spec.pull_robot.namespace_id != repository.namespace_id:
        raise InvalidRequestError("the pull robot must belong to the repository's namespace", detail={"pull_robot": spec.pull_robot.shortname})
    with transaction.atomic():
        build = RepositoryBuild.objects.create(
            repository=repository, requested_by=requested_by, requested_by_name=requested_by.username if requested_by else "",
            context_kind=kind, upload=upload, git_url=git_url, git_ref=spec.git_ref if git_url else "", context_subdir=subdir,
            dockerfile_path=dockerfile, tags=tags, build_args=args, pull_robot=spec.pull_robot, trigger=trigger,
            trigger_metadata=trigger_metadata or {},
        )
        build_log_append(build=build, entries=[log_entry("waiting", kind="phase", data={"phase": BuildPhase.WAITING})])
        _emit("build_queued", build)
        transaction.on_commit(lambda: build_queued.send(sender=None, build_id=build.pk))
    return build


def build_request_for(*, repository: Repository, spec: BuildSpec, principal: Principal) -> RepositoryBuild:
    """``build_request`` on behalf of an API caller (a user: builds push with a token minted
    for the requester's rights, never with their password)."""
    user = _principal_user(principal)
    if user is None:
        raise InvalidRequestError("builds are requested by users (robots pull base images through pull_robot)")
    return build_request(repository=repository, spec=spec, requested_by=user)


def build_cancel(*, build: RepositoryBuild) -> RepositoryBuild:
    """Cancel a build: a waiting one ends at once, a running one is stopped by its worker (which
    kills buildah) and then ends in ``cancelled``.

    Raises:
        InvalidRequestError: the build already finished (Quay: "Build cannot be cancelled").
    """
    with transaction.atomic():
        if RepositoryBuild.objects.filter(pk=build.pk, phase=BuildPhase.WAITING).update(
            phase=BuildPhase.CANCELLED, cancel_requested=True, finished_at=timezone.now()
        ):
            build.refresh_from_db()
            build_log_append(build=build, entries=[log_entry("cancelled", kind="phase", data={"phase": BuildPhase.CANCELLED})])
            _emit("build_cancelled", build)
            return build
        if not RepositoryBuild.objects.filter(pk=build.pk).exclude(phase__in=FINISHED_PHASES).update(cancel_requested=True):
            raise InvalidRequestError("Build cannot be cancelled: it already finished", detail={"phase": build.phase})
    build.refresh_from_db()
    return build


# --- transitions used by the runner -------------------------------------------------------------


def build_claim(*, build_id: int) -> RepositoryBuild | None:
    """Move a waiting build to ``pulling`` for this worker; None when another worker has it, it
    was cancelled meanwhile, or it finished (a task delivered twice runs once)."""
    now = timezone.now()
    if not RepositoryBuild.objects.filter(pk=build_id, phase=BuildPhase.WAITING, cancel_requested=False).update(phase=BuildPhase.PULLING, started_at=now):
        return None
    build = RepositoryBuild.objects.select_related("repository__namespace", "upload", "trigger", "pull_robot", "requested_by").get(pk=build_id)
    build_log_append(build=build, entries=[log_entry(BuildPhase.PULLING, kind="phase", data={"phase": BuildPhase.PULLING})])
    _emit("build_start", build)
    return build


def build_phase_set(*, build: RepositoryBuild, phase: str) -> bool:
    """Enter a running phase; False when the build was cancelled (the caller stops)."""
    if not RepositoryBuild.objects.filter(pk=build.pk, cancel_requested=False).exclude(phase__in=FINISHED_PHASES).update(phase=phase):
        return False
    build.phase = phase
    build_log_append(build=build, entries=[log_entry(phase, kind="phase", data={"phase": phase})])
    return True


def build_cancel_requested(*, build: RepositoryBuild) -> bool:
    return RepositoryBuild.objects.filter(pk=build.pk, cancel_requested=True).exists()


def build_finish(*, build: RepositoryBuild, phase: str, error: str = "", manifest_digest: str = "") -> RepositoryBuild:
    """End a running build in ``complete``, ``error`` or ``cancelled``: the row, a last log
    entry, the build_success/failure/cancelled event and the trigger's failure count."""
    assert phase in FINISHED_PHASES
    now = timezone.now()
    with transaction.atomic():
        RepositoryBuild.objects.filter(pk=build.pk).exclude(phase__in=FINISHED_PHASES).update(
            phase=phase, error=error[:4000], manifest_digest=manifest_digest, finished_at=now
        )
        build.refresh_from_db()
        entries = []
        if error:
            entries.append(log_entry(error, kind="error"))
        entries.append(log_entry(phase, kind="phase", data={"phase": phase}))
        build_log_append(build=build, entries=entries)
        if phase == BuildPhase.COMPLETE:
            _emit("build_success", build, image_id=manifest_digest, manifest_digests=[manifest_digest] if manifest_digest else [])
        elif phase == BuildPhase.ERROR:
            _emit("build_failure", build, error_message=error[:1000])
        else:
            _emit("build_cancelled", build)
        if build.trigger_id:
            _trigger_account(trigger_id=build.trigger_id, failed=phase == BuildPhase.ERROR, succeeded=phase == BuildPhase.COMPLETE)
    return build


def _trigger_account(*, trigger_id: int, failed: bool, succeeded: bool) -> None:
    trigger = BuildTrigger.objects.select_for_update().filter(pk=trigger_id).first()
    if trigger is None:
        return
    if succeeded:
        trigger.consecutive_failures = 0
        trigger.save(update_fields=["consecutive_failures"])
    elif failed:
        trigger.consecutive_failures += 1
        fields = ["consecutive_failures"]
        limit = builds_config()["trigger_failure_limit"]
        if trigger.enabled and trigger.consecutive_failures >= limit:
            trigger.enabled, trigger.disabled_reason, trigger.disabled_at = False, DISABLED_BY_FAILURES, timezone.now()
            fields += ["enabled", "disabled_reason", "disabled_at"]
        trigger.save(update_fields=fields)


# --- triggers -----------------------------------------------------------------------------------


def _trigger_fields(git_url: str, default_ref: str, context_subdir: str, dockerfile_path: str, tag_templates: list[str]) -> dict[str, Any]:
    if not default_ref or len(default_ref) > 255 or default_ref.startswith("-") or any(ord(c) < 33 for c in default_ref):
        raise InvalidRequestError("invalid default ref", detail={"ref": (default_ref or "")[:255]})
    for template in tag_templates:
        if not isinstance(template, str) or not template or len(template) > 128:
            raise InvalidRequestError("tag templates are non-empty strings", detail={"tag_templates": str(template)[:128]})
    return {
        "git_url": git_url_check(git_url),
        "default_ref": default_ref,
        "context_subdir": _relative_path(context_subdir, "subdirectory", allow_empty=True),
        "dockerfile_path": _relative_path(dockerfile_path or "Dockerfile", "dockerfile_path", allow_empty=False),
        "tag_templates": list(tag_templates)[:MAX_TAGS],
    }


def trigger_create(
    *, repository: Repository, created_by: User | None, git_url: str, default_ref: str = "main", context_subdir: str = "",
    dockerfile_path: str = "Dockerfile", tag_templates: list[str] | None = None, pull_robot: Robot | None = None,
) -> tuple[BuildTrigger, str]:
    """A custom git trigger: (trigger, webhook secret shown once)."""
    fields = _trigger_fields(git_url, default_ref, context_subdir, dockerfile_path, tag_templates or ["${branch}", "${short_sha}"])
    if pull_robot is not None and pull_robot.namespace_id != repository.namespace_id:
        raise InvalidRequestError("the pull robot must belong to the repository's namespace")
    secret = secrets.token_urlsafe(32)
    trigger = BuildTrigger.objects.create(repository=repository, created_by=created_by, pull_robot=pull_robot, secret_encrypted=secret_encrypt(secret), **fields)
    return trigger, secret


def trigger_activate(*, trigger: BuildTrigger, regenerate_secret: bool = False) -> tuple[BuildTrigger, str | None]:
    """Enable a trigger again (resets the failure count); optionally with a new secret."""
    trigger.enabled, trigger.consecutive_failures, trigger.disabled_reason, trigger.disabled_at = True, 0, "", None
    fields = ["enabled", "consecutive_failures", "disabled_reason", "disabled_at"]
    secret = None
    if regenerate_secret:
        secret = secrets.token_urlsafe(32)
        trigger.secret_encrypted = secret_encrypt(secret)
        fields.append("secret_encrypted")
    trigger.save(update_fields=fields)
    return trigger, secret


def trigger_set_enabled(*, trigger: BuildTrigger, enabled: bool) -> BuildTrigger:
    if enabled:
        return trigger_activate(trigger=trigger)[0]
    trigger.enabled, trigger.disabled_reason, trigger.disabled_at = False, "user_toggled", timezone.now()
    trigger.save(update_fields=["enabled", "disabled_reason", "disabled_at"])
    return trigger


def trigger_delete(*, trigger: BuildTrigger) -> None:
    trigger.delete()


def _branch_of(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _expand_tags(templates: list[str], branch: str, commit: str) -> list[str]:
    tags: list[str] = []
    for template in templates:
        tag = template.replace("${branch}", branch).replace("${short_sha}", commit[:7]).replace("${commit}", commit)
        tag = re.sub(r"[^A-Za-z0-9_.-]", "-", tag).lstrip(".-")[:128]
        if tag and tag not in tags:
            tags.append(tag)
    return tags or ["latest"]


def trigger_start(*, trigger: BuildTrigger, ref: str | None = None, commit: str = "", requested_by: User | None = None) -> RepositoryBuild:
    """Start a build of the trigger's git repository at ``ref`` (default: its default ref).

    Raises:
        ConflictError: the trigger is disabled.
    """
    if not trigger.enabled:
        raise ConflictError(f"the trigger is disabled ({trigger.disabled_reason or 'disabled'}); activate it first", detail={"disabled_reason": trigger.disabled_reason})
    branch = _branch_of(ref or trigger.default_ref)
    if commit and not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise InvalidRequestError("commit must be a hexadecimal git commit id", detail={"commit": commit[:64]})
    spec = BuildSpec(
        tags=_expand_tags(list(trigger.tag_templates or []), branch, commit), git_url=trigger.git_url, git_ref=branch,
        context_subdir=trigger.context_subdir, dockerfile_path=trigger.dockerfile_path, pull_robot=trigger.pull_robot,
    )
    metadata = {"ref": ref or f"refs/heads/{branch}", "commit": commit, "default_branch": trigger.default_ref, "git_url": trigger.git_url}
    return build_request(repository=trigger.repository, spec=spec, requested_by=requested_by or trigger.created_by, trigger=trigger, trigger_metadata=metadata)


def trigger_signature_valid(*, trigger: BuildTrigger, body: bytes, signature: str) -> bool:
    """``sha256=<hex HMAC-SHA256 of the body with the trigger secret>`` (GitHub's
    ``X-Hub-Signature-256`` form), compared in constant time."""
    scheme, _, value = (signature or "").strip().partition("=")
    if scheme.lower() != "sha256" or not value:
        return False
    expected = hmac.new(secret_decrypt(trigger.secret_encrypted).encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, value.strip().lower())


def trigger_webhook(*, trigger_uuid: str, body: bytes, signature: str, payload: dict[str, Any] | None) -> RepositoryBuild:
    """A push webhook (Quay's custom-git payload: ``commit``, ``ref``, ``default_branch``).

    Raises:
        NotFoundError: no such trigger.
        UnauthorizedError: missing or wrong signature.
        ConflictError: the trigger is disabled.
        InvalidRequestError: the payload is not a JSON object with ``ref`` or ``commit``.
    """
    try:
        key = uuid.UUID(str(trigger_uuid))
    except ValueError:
        raise NotFoundError("no such build trigger") from None
    trigger = BuildTrigger.objects.select_related("repository__namespace", "pull_robot", "created_by").filter(uuid=key).first()
    if trigger is None:
        raise NotFoundError("no such build trigger")
    if not trigger_signature_valid(trigger=trigger, body=body, signature=signature):
        raise UnauthorizedError("invalid webhook signature (X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body with the trigger secret>)")
    if not isinstance(payload, dict):
        raise InvalidRequestError("the webhook body must be a JSON object")
    ref = payload.get("ref") or (f"refs/heads/{payload['default_branch']}" if payload.get("default_branch") else None)
    commit = str(payload.get("commit") or payload.get("after") or "")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 255):
        raise InvalidRequestError("invalid ref", detail={"ref": str(ref)[:255]})
    return trigger_start(trigger=trigger, ref=ref, commit=commit)


__all__ = [
    "BuildSpec", "build_cancel", "build_claim", "build_finish", "build_phase_set", "build_request", "build_request_for",
    "filedrop_create", "filedrop_receive", "trigger_activate", "trigger_create", "trigger_delete", "trigger_start", "trigger_webhook",
]


def builds_waiting_overdue(*, older_than_s: int = 120) -> list[int]:
    """Waiting builds queued long ago (their task may have been lost with the broker)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(RepositoryBuild.objects.filter(phase=BuildPhase.WAITING, cancel_requested=False, created__lt=cutoff).values_list("pk", flat=True)[:100])


def builds_fail_stale() -> int:
    """End running builds whose worker died: past ``builds.timeout_s`` plus a grace period, no
    live worker would still be running them (the runner kills buildah at the time limit)."""
    cutoff = timezone.now() - timedelta(seconds=builds_config()["timeout_s"] + 300)
    stale = RepositoryBuild.objects.filter(phase__in=[BuildPhase.PULLING, BuildPhase.BUILDING, BuildPhase.PUSHING], started_at__lt=cutoff)
    count = 0
    for build in stale.select_related("repository", "trigger", "upload")[:100]:
        build_finish(build=build, phase=BuildPhase.ERROR, error="the build worker stopped before the build finished")
        count += 1
    return count
