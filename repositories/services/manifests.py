"""Manifest writes: validate, link blobs and children, tag, delete."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from common.errors import (
    DigestInvalidError,
    ManifestBlobUnknownError,
    ManifestInvalidError,
    ManifestUnknownError,
    RegistryError,
    SizeInvalidError,
    TagImmutableError,
)
from common.grammar import is_digest_reference, parse_digest, validate_tag
from repositories import signals
from repositories.media_types import (
    EMPTY_JSON_BYTES,
    EMPTY_JSON_DIGEST,
    Descriptor,
    ParsedManifest,
    parse_manifest,
)
from repositories.models import Blob, Manifest, ManifestBlob, ManifestChild, Repository, Tag, UploadedBlob
from repositories.selectors import manifest_find
from accounts.principals import Principal
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.labels import manifest_labels_on_push
from repositories.services.quotas import quota_check_manifest, usage_account_manifest
from repositories.services.repositories import repository_touch
from repositories.services.tags import tag_delete, tag_point
from repositories.services.uploads import blob_store_bytes


@dataclass(frozen=True)
class ManifestPutResult:
    manifest: Manifest
    tags: tuple[str, ...]
    subject_digest: str


def _blobs_in_repository(repository: Repository, digests: set[str]) -> dict[str, Blob]:
    """The blobs among ``digests`` visible in ``repository`` (``blob_find_in_repository`` for
    all of them in one query: a manifest's config and layers are checked together)."""
    if not digests:
        return {}
    linked = ManifestBlob.objects.filter(repository=repository, blob=OuterRef("pk"))
    uploaded = UploadedBlob.objects.filter(repository=repository, blob=OuterRef("pk"), expires_at__gt=timezone.now())
    visible = Blob.objects.filter(digest__in=digests).filter(Exists(linked) | Exists(uploaded))
    return {blob.digest: blob for blob in visible}


def _resolve_blob(repository: Repository, descriptor: Descriptor, visible: dict[str, Blob]) -> Blob | None:
    blob = visible.get(descriptor.digest)
    if blob is not None:
        return blob
    # Content the manifest itself carries can be stored without a round trip.
    if descriptor.digest == EMPTY_JSON_DIGEST and descriptor.size == len(EMPTY_JSON_BYTES):
        return blob_store_bytes(repository=repository, data=EMPTY_JSON_BYTES, digest=EMPTY_JSON_DIGEST)
    if descriptor.data is not None:
        return blob_store_bytes(repository=repository, data=descriptor.data, digest=descriptor.digest)
    return None


def _check_references(repository: Repository, parsed: ParsedManifest, sparse_children: frozenset[str] = frozenset()) -> tuple[list[Blob], list[Manifest]]:
    missing: list[RegistryError] = []
    blobs: list[Blob] = []
    children: list[Manifest] = []
    if parsed.is_index:
        for descriptor in parsed.children:
            child = manifest_find(repository=repository, digest=descriptor.digest)
            if child is None and descriptor.digest in sparse_children:
                continue  # left out on purpose (a mirror's architecture filter): a sparse index
            if child is None:
                missing.append(ManifestBlobUnknownError("index references a manifest unknown to this repository", detail={"digest": descriptor.digest}))
            elif child.size != descriptor.size:
                raise ManifestInvalidError("descriptor size does not match the manifest", detail={"digest": descriptor.digest, "size": child.size})
            else:
                children.append(child)
    else:
        descriptors = [d for d in (parsed.config, *parsed.layers) if d is not None and not d.is_foreign]
        visible = _blobs_in_repository(repository, {d.digest for d in descriptors})
        for descriptor in descriptors:
            blob = _resolve_blob(repository, descriptor, visible)
            if blob is None:
                missing.append(ManifestBlobUnknownError(detail={"digest": descriptor.digest}))
            elif blob.size != descriptor.size:
                raise ManifestInvalidError("descriptor size does not match the blob", detail={"digest": descriptor.digest, "size": blob.size})
            else:
                blobs.append(blob)
    if missing:
        first, *rest = missing
        first.siblings = rest
        raise first
    return blobs, children


def manifest_put(
    *, repository: Repository, reference: str, raw: bytes, content_type: str, extra_tags: tuple[str, ...] = (),
    actor: Principal | None = None, request: RequestInfo | None = None, sparse_children: frozenset[str] = frozenset(),
) -> ManifestPutResult:
    """Store a manifest under a tag or its digest, plus any ``extra_tags``.

    ``sparse_children``: digests an index may list without the repository holding them (the
    mirror's architecture filter keeps an index byte for byte but copies only some children).

    Raises MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN (one error per missing reference),
    DIGEST_INVALID (digest reference does not match the body), SIZE_INVALID (too large),
    TAG_INVALID and TAG_IMMUTABLE.
    """
    limit = settings.MOORAGE_LIMITS["max_manifest_bytes"]
    if len(raw) > limit:
        raise SizeInvalidError(f"manifest exceeds {limit} bytes", detail={"max_bytes": limit})
    algorithm = "sha256"
    tags: list[str] = []
    if is_digest_reference(reference):
        algorithm = parse_digest(reference).algorithm
    else:
        tags.append(validate_tag(reference))
    for extra in extra_tags:
        if validate_tag(extra) not in tags:
            tags.append(extra)
    parsed = parse_manifest(raw, content_type, algorithm)
    if is_digest_reference(reference) and parsed.digest != reference:
        raise DigestInvalidError("manifest digest does not match the reference", detail={"reference": reference, "actual": parsed.digest})

    blobs, children = _check_references(repository, parsed, sparse_children)
    quota_check_manifest(repository=repository, blobs=blobs)  # DENIED before anything is kept
    try:
        return _manifest_store(repository, parsed, blobs, children, tags, actor, request)
    except IntegrityError:
        # A referenced blob or child manifest was garbage-collected between the check and the
        # commit (the foreign key refused the link): nothing was stored. Check again: what is
        # gone raises MANIFEST_BLOB_UNKNOWN; if it came back meanwhile, store once more.
        blobs, children = _check_references(repository, parsed, sparse_children)
        return _manifest_store(repository, parsed, blobs, children, tags, actor, request)


def _manifest_store(
    repository: Repository, parsed: ParsedManifest, blobs: list[Blob], children: list[Manifest], tags: list[str],
    actor: Principal | None, request: RequestInfo | None,
) -> ManifestPutResult:
    with transaction.atomic():
        _hold_references(blobs, children)
        manifest = _manifest_get_or_create(repository, parsed)
        now = timezone.now()
        # Sorted: two pushes naming the same tags lock their rows in one order, so they cannot deadlock.
        pointed = [tag_point(repository=repository, name=name, manifest=manifest, now=now) for name in sorted(tags)]
        manifest_labels_on_push(manifest=manifest, parsed=parsed, blobs=blobs, children=children, tags=pointed, now=now)
        audit_log(
            kind="push_repo", principal=actor, repository=repository, request=request,
            metadata={"digest": manifest.digest, "tags": tags, "media_type": manifest.media_type},
        )
        # Last, because every push to the repository waits for its row and every push in the
        # namespace for the usage row until this transaction commits (taken first, the usage
        # lock serialized whole pushes: 41 % of a concurrent PUT's time went waiting for it).
        # The usage counts blobs new to the namespace, so it runs before the links are written.
        repository_touch(repository=repository)
        usage_account_manifest(repository=repository, blobs=blobs)  # quota usage, under the namespace's usage lock
        _link(repository, manifest, blobs, children)
        transaction.on_commit(
            lambda: signals.manifest_pushed.send(
                sender=Manifest, repository_id=repository.id, manifest_id=manifest.id, digest=manifest.digest, tags=tuple(tags)
            )
        )
    return ManifestPutResult(manifest=manifest, tags=tuple(tags), subject_digest=parsed.subject.digest if parsed.subject else "")


def _hold_references(blobs: list[Blob], children: list[Manifest]) -> None:
    """Share-lock the referenced blob and child-manifest rows until the push commits.

    The garbage collector deletes a row only under FOR UPDATE after checking nothing references
    it, so it waits for this push and then sees its links. A row already gone raises
    IntegrityError (the caller checks the references again). On SQLite the transaction holds
    the database's write lock (BEGIN IMMEDIATE), so the existence check is enough.
    """
    for model, rows in ((Blob, blobs), (Manifest, children)):
        ids = sorted({row.pk for row in rows})
        if not ids:
            continue
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM {model._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [ids]
                )
                found = {row[0] for row in cursor.fetchall()}
        else:
            found = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if len(found) != len(ids):
            raise IntegrityError(f"a referenced {model.__name__} was garbage-collected during the push")


def _manifest_get_or_create(repository: Repository, parsed: ParsedManifest) -> Manifest:
    """The manifest row, without its blob and child links (the caller writes them after the usage)."""
    existing = Manifest.objects.select_for_update().filter(repository=repository, digest=parsed.digest).first()
    if existing is not None:
        if existing.deleted_at is not None:
            existing.deleted_at = None
            existing.save(update_fields=["deleted_at"])
        return existing
    try:
        with transaction.atomic():
            manifest = Manifest.objects.create(
                repository=repository,
                digest=parsed.digest,
                media_type=parsed.media_type,
                content=parsed.raw,
                size=len(parsed.raw),
                config_media_type=parsed.config_media_type,
                artifact_type=parsed.artifact_type,
                subject_digest=parsed.subject.digest if parsed.subject else "",
                annotations=parsed.annotations,
            )
    except IntegrityError:  # the same manifest pushed at the same moment
        manifest = Manifest.objects.get(repository=repository, digest=parsed.digest)
    return manifest


def _link(repository: Repository, manifest: Manifest, blobs: list[Blob], children: list[Manifest]) -> None:
    ManifestBlob.objects.bulk_create(
        [ManifestBlob(repository=repository, manifest=manifest, blob=blob) for blob in {b.id: b for b in blobs}.values()],
        ignore_conflicts=True,
    )
    ManifestChild.objects.bulk_create(
        [ManifestChild(repository=repository, manifest=manifest, child=child) for child in {c.id: c for c in children}.values()],
        ignore_conflicts=True,
    )


def manifest_delete(*, repository: Repository, reference: str, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    """DELETE by tag removes only that tag; DELETE by digest removes the manifest and every tag on it.

    The rows stay (ended and marked deleted) for the time machine until garbage collection.
    """
    if not is_digest_reference(reference):
        with transaction.atomic():
            tag_delete(repository=repository, name=reference)
            repository_touch(repository=repository)
            audit_log(kind="delete_tag", principal=actor, repository=repository, request=request, metadata={"tag": reference})
        return
    parse_digest(reference)
    now = timezone.now()
    with transaction.atomic():
        manifest = Manifest.objects.select_for_update().filter(repository=repository, digest=reference, deleted_at__isnull=True).first()
        if manifest is None:
            raise ManifestUnknownError(detail={"name": repository.full_name, "digest": reference})
        live = list(Tag.objects.select_for_update().filter(manifest=manifest, lifetime_end__isnull=True))
        immutable = [t.name for t in live if t.immutable and not t.hidden]
        if immutable:
            raise TagImmutableError("manifest has immutable tags", detail={"tags": immutable})
        Tag.objects.filter(pk__in=[t.pk for t in live]).update(lifetime_end=now)
        manifest.deleted_at = now
        manifest.save(update_fields=["deleted_at"])
        repository_touch(repository=repository)
        audit_log(kind="delete_manifest", principal=actor, repository=repository, request=request, metadata={"digest": reference, "tags": [t.name for t in live if not t.hidden]})
        transaction.on_commit(
            lambda: signals.manifest_deleted.send(sender=Manifest, repository_id=repository.id, digest=reference)
        )
