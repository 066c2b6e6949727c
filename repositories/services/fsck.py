"""The registry's consistency checker: the database against itself and against storage.

What is checked (``registry_fsck``):

* **Manifests** (live: not deleted, in a live repository): the stored bytes parse, have the
  recorded digest and size; every blob a live image manifest references (config and
  distributable layers) has a ``Blob`` row of the descriptor's size and a link row; every child
  an index lists is a live manifest of the same repository with a link row.
* **Blobs** referenced by live manifests or by unexpired upload links: at least one placement,
  and each recorded placement holds the blob's exact bytes (the storage service's verification,
  ``blob_placements_verify``; ``quick`` checks existence and size only).
* **Tags**: a tag points to a manifest of its own repository; a live tag points to a live
  manifest; at most one live row per name; names follow the grammar; lifetimes are ordered;
  an immutable tag has no expiry.
* **Usage**: the cached namespace and repository usage rows equal a recomputation.
* **Uploads**: every upload session's location is configured and its backend state exists.

``repair`` fixes only what is safe: a missing or corrupt placement is copied again from a good
copy (the storage service; a blob's last record is never dropped), missing manifest→blob and
index→child link rows are recreated (they keep referenced content alive), usage is recomputed,
and upload sessions whose state is gone are forgotten. Nothing referenced is ever deleted; the
rest is reported as unresolved.

Concurrent pushes, deletes and garbage collection may run meanwhile: each finding is checked
once more against the current rows before it is reported, so a row that went away during the
run is not a problem.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from common.errors import NotFoundError, RegistryError
from common.grammar import TAG_RE
from repositories.media_types import ParsedManifest, compute_digest, parse_manifest
from repositories.models import Blob, BlobUpload, Manifest, ManifestBlob, ManifestChild, Repository, Tag, UploadedBlob
from repositories.models.lifecycle import NamespaceUsage, RepositoryUsage
from repositories.models.mirror import RepositoryMirror
from repositories.selectors_usage import namespace_size_computed, repository_size_computed
from repositories.services.quotas import namespace_usage_recompute
from repositories.services.storage import REMOVED, REPAIRED, VerifyReport, blob_placements_verify
from storagebackends.base import StorageError
from storagebackends.paths import upload_path
from storagebackends.registry import get_location

#: Rows fetched per query while walking manifests, blobs and tags (keeps memory flat).
BATCH = 500

# Problem kinds. Placement kinds mirror the storage service's problems.
PLACEMENT_MISSING = "placement_missing"
PLACEMENT_SIZE = "placement_wrong_size"
PLACEMENT_DIGEST = "placement_wrong_digest"
PLACEMENT_UNREACHABLE = "placement_unreachable"
PLACEMENT_UNCONFIGURED = "placement_unconfigured"
BLOB_UNPLACED = "blob_without_placement"
BLOB_MISSING = "blob_missing"
BLOB_SIZE = "blob_size_mismatch"
BLOB_LINK_MISSING = "blob_link_missing"
CHILD_MISSING = "child_manifest_missing"
CHILD_LINK_MISSING = "child_link_missing"
MANIFEST_UNPARSEABLE = "manifest_unparseable"
MANIFEST_DIGEST = "manifest_digest_mismatch"
MANIFEST_SIZE = "manifest_size_mismatch"
TAG_CROSS_REPOSITORY = "tag_cross_repository"
TAG_DELETED_MANIFEST = "tag_points_to_deleted_manifest"
TAG_DUPLICATE_LIVE = "tag_duplicate_live_rows"
TAG_MALFORMED = "tag_malformed"
USAGE_NAMESPACE = "namespace_usage_mismatch"
USAGE_REPOSITORY = "repository_usage_mismatch"
UPLOAD_UNCONFIGURED = "upload_location_unconfigured"
UPLOAD_STATE_MISSING = "upload_state_missing"

KINDS = (
    PLACEMENT_MISSING, PLACEMENT_SIZE, PLACEMENT_DIGEST, PLACEMENT_UNREACHABLE, PLACEMENT_UNCONFIGURED, BLOB_UNPLACED,
    BLOB_MISSING, BLOB_SIZE, BLOB_LINK_MISSING, CHILD_MISSING, CHILD_LINK_MISSING, MANIFEST_UNPARSEABLE,
    MANIFEST_DIGEST, MANIFEST_SIZE, TAG_CROSS_REPOSITORY, TAG_DELETED_MANIFEST, TAG_DUPLICATE_LIVE, TAG_MALFORMED,
    USAGE_NAMESPACE, USAGE_REPOSITORY, UPLOAD_UNCONFIGURED, UPLOAD_STATE_MISSING,
)

_PLACEMENT_KINDS = {
    "missing": PLACEMENT_MISSING,
    "wrong size": PLACEMENT_SIZE,
    "wrong digest": PLACEMENT_DIGEST,
    "unreachable": PLACEMENT_UNREACHABLE,
    "unconfigured": PLACEMENT_UNCONFIGURED,
}

#: Actions taken by ``repair``.
FIXED, NOT_FIXED = "fixed", "not fixed"


@dataclass(frozen=True)
class FsckProblem:
    """One inconsistency. ``subject`` names the row or object (a digest, ``repo:tag``, an upload id)."""

    kind: str
    subject: str
    repository: str = ""
    detail: str = ""
    action: str = ""  # "" (not repairing), FIXED or NOT_FIXED
    action_detail: str = ""

    @property
    def resolved(self) -> bool:
        return self.action == FIXED

    def as_dict(self) -> dict:
        return {
            "kind": self.kind, "subject": self.subject, "repository": self.repository, "detail": self.detail,
            "action": self.action, "action_detail": self.action_detail,
        }


@dataclass(frozen=True)
class FsckReport:
    """What ``registry_fsck`` found: ``counts`` of what was examined, the problems, and notes
    (findings that are not problems, e.g. the sparse children of a mirrored index)."""

    counts: dict[str, int]
    problems: tuple[FsckProblem, ...]
    notes: tuple[str, ...] = ()
    repair: bool = False
    quick: bool = False
    repository: str = ""

    @property
    def unresolved(self) -> tuple[FsckProblem, ...]:
        return tuple(problem for problem in self.problems if not problem.resolved)

    @property
    def clean(self) -> bool:
        """True when no problem remains (none found, or every one repaired)."""
        return not self.unresolved

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(problem.kind for problem in self.problems).items()))

    def as_dict(self) -> dict:
        return {
            "clean": self.clean,
            "repair": self.repair,
            "quick": self.quick,
            "repository": self.repository or None,
            "counts": self.counts,
            "problems_by_kind": self.by_kind(),
            "problems": [problem.as_dict() for problem in self.problems],
            "fixed": sum(problem.action == FIXED for problem in self.problems),
            "unresolved": len(self.unresolved),
            "notes": list(self.notes),
        }


#: ``progress(phase, done, total)``: called as each phase advances.
Progress = Callable[[str, int, int], None]


@dataclass
class _Run:
    repair: bool
    quick: bool
    repository: Repository | None
    progress: Progress | None
    counts: Counter = field(default_factory=Counter)
    problems: list[FsckProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: blob ids that live manifests or upload links reference (placements are checked for these)
    blob_ids: set[int] = field(default_factory=set)

    def add(self, kind: str, subject: str, repository: str = "", detail: str = "", fix: Callable[[], str] | None = None) -> None:
        """Record a problem; with ``repair`` and a ``fix`` (returns what it did, raises
        _NotFixed), try it."""
        action = action_detail = ""
        if self.repair:
            if fix is None:
                action, action_detail = NOT_FIXED, "not repairable automatically"
            else:
                try:
                    action, action_detail = FIXED, fix()
                except _NotFixed as exc:
                    action, action_detail = NOT_FIXED, str(exc)
        self.problems.append(FsckProblem(kind, subject, repository, detail, action, action_detail))

    def tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)


class _NotFixed(Exception):
    """A repair that could not be done safely (the message says why)."""


def registry_fsck(*, repair: bool = False, quick: bool = False, repository: str | None = None, progress: Progress | None = None) -> FsckReport:
    """Check the registry's consistency (see the module docstring); with ``repair`` fix what is safe.

    Args:
        repair: fix what can be fixed without deleting referenced content.
        quick: check placements by existence and size only (no digest re-hashing).
        repository: ``namespace/name`` to limit the manifest, tag, upload and usage checks to one
            repository (and the placement checks to the blobs it references).
        progress: ``progress(phase, done, total)`` as each phase advances.

    Raises:
        NotFoundError: ``repository`` does not exist.
    """
    target = None
    if repository:
        target = Repository.objects.filter(full_name=repository).first()
        if target is None:
            raise NotFoundError(f"no repository named {repository!r}", detail={"repository": repository})
    run = _Run(repair=repair, quick=quick, repository=target, progress=progress)
    _check_manifests(run)
    _check_tags(run)
    _check_blobs(run)
    _check_usage(run)
    _check_uploads(run)
    return FsckReport(
        counts=dict(run.counts), problems=tuple(run.problems), notes=tuple(run.notes), repair=repair, quick=quick,
        repository=target.full_name if target else "",
    )


# -- manifests -------------------------------------------------------------------------------------
def _live_manifests(run: _Run) -> QuerySet[Manifest]:
    queryset = Manifest.objects.filter(deleted_at__isnull=True, repository__deleted_at__isnull=True)
    if run.repository is not None:
        queryset = queryset.filter(repository=run.repository)
    return queryset


def _batched(queryset: QuerySet, *, only: tuple[str, ...] = ()) -> Iterator:
    """Rows of ``queryset`` by id in batches (keyset pagination: flat memory, no long cursor)."""
    queryset = queryset.order_by("id")
    if only:
        queryset = queryset.only(*only)
    last_id = 0
    while True:
        batch = list(queryset.filter(id__gt=last_id)[:BATCH])
        if not batch:
            return
        last_id = batch[-1].id
        yield from batch


def _check_manifests(run: _Run) -> None:
    manifests = _live_manifests(run)
    total = manifests.count()
    mirrored = set(RepositoryMirror.objects.values_list("repository_id", flat=True))
    done = 0
    for manifest in _batched(manifests.select_related("repository")):
        done += 1
        run.counts["manifests"] += 1
        sparse_allowed = manifest.repository_id in mirrored or manifest.repository.state == Repository.State.MIRROR
        _check_manifest(run, manifest, sparse_allowed=sparse_allowed)
        if done % 100 == 0 or done == total:
            run.tick("manifests", done, total)
    uploaded = UploadedBlob.objects.filter(expires_at__gt=timezone.now(), repository__deleted_at__isnull=True)
    if run.repository is not None:
        uploaded = uploaded.filter(repository=run.repository)
    run.blob_ids.update(uploaded.values_list("blob_id", flat=True))


def _still_live(manifest: Manifest) -> bool:
    return Manifest.objects.filter(pk=manifest.pk, deleted_at__isnull=True, repository__deleted_at__isnull=True).exists()


def _check_manifest(run: _Run, manifest: Manifest, *, sparse_allowed: bool) -> None:
    repo = manifest.repository.full_name
    raw = bytes(manifest.content)
    algorithm = manifest.digest.partition(":")[0]
    try:
        actual = compute_digest(raw, algorithm)
    except ValueError:
        actual = ""
    if actual != manifest.digest:
        run.add(MANIFEST_DIGEST, manifest.digest, repo, f"stored bytes have digest {actual or '(unknown algorithm)'}")
    if manifest.size != len(raw):
        run.add(MANIFEST_SIZE, manifest.digest, repo, f"recorded size {manifest.size}, stored bytes {len(raw)}")
    try:
        parsed = parse_manifest(raw, manifest.media_type, algorithm if actual else "sha256")
    except RegistryError as exc:
        run.add(MANIFEST_UNPARSEABLE, manifest.digest, repo, exc.message)
        return
    if parsed.is_index:
        _check_children(run, manifest, parsed, repo, sparse_allowed=sparse_allowed)
    else:
        _check_blob_references(run, manifest, parsed, repo)


def _check_blob_references(run: _Run, manifest: Manifest, parsed: ParsedManifest, repo: str) -> None:
    descriptors = [d for d in (parsed.config, *parsed.layers) if d is not None and not d.is_foreign]
    linked = dict(ManifestBlob.objects.filter(manifest=manifest).values_list("blob__digest", "blob_id"))
    run.blob_ids.update(linked.values())
    for descriptor in {d.digest: d for d in descriptors}.values():
        run.counts["blob_references"] += 1
        if descriptor.digest in linked:
            blob = Blob.objects.filter(pk=linked[descriptor.digest]).first()
        else:
            blob = Blob.objects.filter(digest=descriptor.digest).first()
        if blob is None:
            if _still_live(manifest):
                run.add(BLOB_MISSING, descriptor.digest, repo, f"referenced by manifest {manifest.digest}; no blob row")
            continue
        run.blob_ids.add(blob.pk)
        if blob.size != descriptor.size:
            run.add(BLOB_SIZE, descriptor.digest, repo, f"manifest {manifest.digest} says {descriptor.size} bytes, the blob has {blob.size}")
        if descriptor.digest not in linked and _still_live(manifest):
            run.add(
                BLOB_LINK_MISSING, descriptor.digest, repo, f"manifest {manifest.digest} has no link row to it",
                fix=lambda blob=blob: _relink_blob(manifest, blob),
            )


def _relink_blob(manifest: Manifest, blob: Blob) -> str:
    try:
        with transaction.atomic():
            if not Blob.objects.select_for_update().filter(pk=blob.pk).exists():
                raise _NotFixed("the blob row is gone")
            ManifestBlob.objects.get_or_create(repository_id=manifest.repository_id, manifest=manifest, blob=blob)
    except IntegrityError as exc:
        raise _NotFixed(f"could not link: {exc}") from exc
    return "link row recreated"


def _check_children(run: _Run, manifest: Manifest, parsed: ParsedManifest, repo: str, *, sparse_allowed: bool) -> None:
    links = {
        digest: (child_id, deleted_at)
        for digest, child_id, deleted_at in ManifestChild.objects.filter(manifest=manifest).values_list(
            "child__digest", "child_id", "child__deleted_at"
        )
    }
    for descriptor in {d.digest: d for d in parsed.children}.values():
        run.counts["child_references"] += 1
        link = links.get(descriptor.digest)
        if link is not None:
            if link[1] is not None and _still_live(manifest):
                run.add(CHILD_MISSING, descriptor.digest, repo, f"index {manifest.digest} links a deleted manifest")
            continue
        child = Manifest.objects.filter(repository_id=manifest.repository_id, digest=descriptor.digest, deleted_at__isnull=True).first()
        if child is None:
            if sparse_allowed:
                # A mirror's architecture filter keeps an index byte for byte but copies only some children.
                run.counts["sparse_children"] += 1
                continue
            if _still_live(manifest):
                run.add(CHILD_MISSING, descriptor.digest, repo, f"listed by index {manifest.digest}; not in the repository")
            continue
        if _still_live(manifest):
            run.add(
                CHILD_LINK_MISSING, descriptor.digest, repo, f"index {manifest.digest} has no link row to it",
                fix=lambda child=child: _relink_child(manifest, child),
            )


def _relink_child(manifest: Manifest, child: Manifest) -> str:
    try:
        with transaction.atomic():
            if not Manifest.objects.select_for_update().filter(pk=child.pk, deleted_at__isnull=True).exists():
                raise _NotFixed("the child manifest is gone")
            ManifestChild.objects.get_or_create(repository_id=manifest.repository_id, manifest=manifest, child=child)
    except IntegrityError as exc:
        raise _NotFixed(f"could not link: {exc}") from exc
    return "link row recreated"


# -- tags ------------------------------------------------------------------------------------------
def _check_tags(run: _Run) -> None:
    tags = Tag.objects.filter(repository__deleted_at__isnull=True)
    if run.repository is not None:
        tags = tags.filter(repository=run.repository)
    total = tags.count()
    done = 0
    for tag in _batched(tags.select_related("repository", "manifest")):
        done += 1
        run.counts["tags"] += 1
        _check_tag(run, tag)
        if done % 500 == 0 or done == total:
            run.tick("tags", done, total)
    duplicates = tags.filter(lifetime_end__isnull=True).values("repository__full_name", "name").annotate(n=Count("id")).filter(n__gt=1)
    for row in duplicates:
        run.add(TAG_DUPLICATE_LIVE, f"{row['repository__full_name']}:{row['name']}", row["repository__full_name"], f"{row['n']} live rows")


def _check_tag(run: _Run, tag: Tag) -> None:
    repo = tag.repository.full_name
    subject = f"{repo}:{tag.name}"
    if tag.manifest.repository_id != tag.repository_id:
        run.add(TAG_CROSS_REPOSITORY, subject, repo, f"points to {tag.manifest.digest} of another repository")
    if tag.lifetime_end is None and tag.manifest.deleted_at is not None:
        if Tag.objects.filter(pk=tag.pk, lifetime_end__isnull=True, manifest__deleted_at__isnull=False).exists():
            run.add(TAG_DELETED_MANIFEST, subject, repo, f"live tag on deleted manifest {tag.manifest.digest}")
    malformed = []
    if not TAG_RE.match(tag.name):
        malformed.append("the name does not follow the tag grammar")
    if tag.lifetime_end is not None and tag.lifetime_end < tag.lifetime_start:
        malformed.append("its lifetime ends before it starts")
    if tag.immutable and tag.expires_at is not None:
        malformed.append("an immutable tag has an expiry")
    if malformed:
        run.add(TAG_MALFORMED, subject, repo, "; ".join(malformed))


# -- blobs and placements --------------------------------------------------------------------------
def _check_blobs(run: _Run) -> None:
    ids = sorted(run.blob_ids)
    verify = VerifyReport(repair=run.repair)
    for start in range(0, len(ids), BATCH):
        for blob in Blob.objects.filter(id__in=ids[start:start + BATCH]).order_by("id").prefetch_related("placements"):
            run.counts["blobs"] += 1
            if not blob.placements.all():
                if Blob.objects.filter(pk=blob.pk, placements__isnull=True).exists():
                    run.add(BLOB_UNPLACED, blob.digest, detail="no storage location is recorded to hold it (its bytes are lost)")
                continue
            for problem in blob_placements_verify(blob=blob, repair=run.repair, quick=run.quick, report=verify):
                action = action_detail = ""
                if run.repair:
                    action = FIXED if problem.action in (REPAIRED, REMOVED) else NOT_FIXED
                    action_detail = f"{problem.action}: {problem.action_detail}" if problem.action else "not repairable"
                run.problems.append(
                    FsckProblem(_PLACEMENT_KINDS.get(problem.problem, problem.problem), f"{blob.digest} @ {problem.location}",
                                detail=problem.detail, action=action, action_detail=action_detail)
                )
        run.tick("blobs", min(start + BATCH, len(ids)), len(ids))
    run.counts["placements"] = verify.placements_checked
    run.counts["bytes_read"] = verify.bytes_read


# -- usage -----------------------------------------------------------------------------------------
def _check_usage(run: _Run) -> None:
    if run.repository is not None:
        namespace_ids = [run.repository.namespace_id]
    else:
        namespace_ids = sorted(
            set(NamespaceUsage.objects.values_list("namespace_id", flat=True))
            | set(RepositoryUsage.objects.values_list("repository__namespace_id", flat=True))
        )
    for done, namespace_id in enumerate(namespace_ids, start=1):
        run.counts["namespaces"] += 1
        _check_namespace_usage(run, namespace_id)
        run.tick("usage", done, len(namespace_ids))


def _check_namespace_usage(run: _Run, namespace_id: int) -> None:
    def recompute() -> str:
        return f"recomputed: {namespace_usage_recompute(namespace_id=namespace_id)} bytes"

    # Under the usage row's lock: a push accounts its blobs under the same lock, so the cached
    # value and the recomputation see the same pushes.
    with transaction.atomic():
        row = NamespaceUsage.objects.select_for_update().select_related("namespace").filter(namespace_id=namespace_id).first()
        mismatches = []
        if row is not None:
            computed = namespace_size_computed(namespace_id=namespace_id)
            if row.size_bytes != computed:
                mismatches.append((USAGE_NAMESPACE, row.namespace.name, "", f"cached {row.size_bytes} bytes, actual {computed}"))
        repo_rows = RepositoryUsage.objects.filter(repository__namespace_id=namespace_id).select_related("repository")
        if run.repository is not None:
            repo_rows = repo_rows.filter(repository=run.repository)
        for repo_row in repo_rows:
            computed = repository_size_computed(repository_id=repo_row.repository_id)
            if repo_row.size_bytes != computed:
                name = repo_row.repository.full_name
                mismatches.append((USAGE_REPOSITORY, name, name, f"cached {repo_row.size_bytes} bytes, actual {computed}"))
    for index, (kind, subject, repo, detail) in enumerate(mismatches):
        # One recomputation fixes the namespace and all its repositories.
        run.add(kind, subject, repo, detail, fix=recompute if index == 0 else (lambda: "recomputed with its namespace"))


# -- uploads ---------------------------------------------------------------------------------------
def _check_uploads(run: _Run) -> None:
    uploads = BlobUpload.objects.all()
    if run.repository is not None:
        uploads = uploads.filter(repository=run.repository)
    total = uploads.count()
    now = timezone.now()
    for done, upload in enumerate(uploads.select_related("repository").order_by("id").iterator(chunk_size=BATCH), start=1):
        run.counts["uploads"] += 1
        _check_upload(run, upload, now)
        if done % 100 == 0 or done == total:
            run.tick("uploads", done, total)


def _writing(upload: BlobUpload, now: datetime) -> bool:
    """A request holds the session (it may be completing it this very moment)."""
    return bool(upload.writer_token) and upload.writer_expires_at is not None and upload.writer_expires_at > now


def _check_upload(run: _Run, upload: BlobUpload, now: datetime) -> None:
    repo = upload.repository.full_name
    if upload.location not in settings.MOORAGE_STORAGE_LOCATIONS:
        run.add(UPLOAD_UNCONFIGURED, upload.id, repo, f"location {upload.location!r} is not configured")
        return
    if _writing(upload, now):
        return
    try:
        present = get_location(upload.location).exists(upload_path(upload.id))
    except (StorageError, ValueError) as exc:
        run.add(UPLOAD_STATE_MISSING, upload.id, repo, f"could not look at the upload's state: {exc}")
        return
    if present or not BlobUpload.objects.filter(id=upload.id).exists():
        return
    run.add(
        UPLOAD_STATE_MISSING, upload.id, repo, f"no upload state in {upload.location}; the session cannot continue",
        fix=lambda: _upload_forget(upload),
    )


def _upload_forget(upload: BlobUpload) -> str:
    now = timezone.now()
    gone = BlobUpload.objects.filter(id=upload.id).filter(Q(writer_token="") | Q(writer_expires_at__lt=now)).delete()[0]
    if not gone:
        raise _NotFixed("a request holds the session now")
    return "session row removed (it referenced nothing)"
