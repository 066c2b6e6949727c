"""Reads of the repositories domain."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from common.errors import ManifestUnknownError, NameUnknownError
from common.grammar import is_digest_reference, parse_digest, split_repository_name, validate_tag
from repositories.models import Blob, BlobPlacement, Manifest, ManifestBlob, Repository, Tag, UploadedBlob


def repository_find(*, name: str) -> Repository | None:
    namespace, path = split_repository_name(name)
    return Repository.objects.select_related("namespace").filter(full_name=f"{namespace}/{path}").first()


def repository_get(*, name: str) -> Repository:
    repository = repository_find(name=name)
    if repository is None:
        raise NameUnknownError(detail={"name": name})
    return repository


def live_tags() -> "Q":
    """Tags a client can see: not ended, not expired, not hidden."""
    now = timezone.now()
    return Q(lifetime_end__isnull=True, hidden=False) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def blob_find_in_repository(*, repository: Repository, digest: str) -> Blob | None:
    """The blob if it is visible in ``repository``: referenced by a manifest there, or recently
    uploaded or mounted into it."""
    blob = Blob.objects.filter(digest=digest).first()
    if blob is None:
        return None
    if ManifestBlob.objects.filter(repository=repository, blob=blob).exists():
        return blob
    if UploadedBlob.objects.filter(repository=repository, blob=blob, expires_at__gt=timezone.now()).exists():
        return blob
    return None


def blob_locations(*, blob: Blob) -> list[str]:
    return list(BlobPlacement.objects.filter(blob=blob).values_list("location", flat=True))


def manifest_resolve(*, repository: Repository, reference: str) -> Manifest:
    """The manifest a tag points at, or the manifest with that digest; MANIFEST_UNKNOWN otherwise."""
    if is_digest_reference(reference):
        parse_digest(reference)
        manifest = Manifest.objects.filter(repository=repository, digest=reference, deleted_at__isnull=True).first()
    else:
        validate_tag(reference)
        tag = Tag.objects.filter(live_tags(), repository=repository, name=reference).select_related("manifest").first()
        manifest = tag.manifest if tag else None
    if manifest is None:
        raise ManifestUnknownError(detail={"name": repository.full_name, "reference": reference})
    return manifest


def manifest_find(*, repository: Repository, digest: str) -> Manifest | None:
    return Manifest.objects.filter(repository=repository, digest=digest, deleted_at__isnull=True).first()


@dataclass(frozen=True)
class Page:
    items: list[str]
    has_more: bool


def tag_names_page(*, repository: Repository, n: int | None, last: str | None) -> Page:
    """Live tag names after ``last`` in the spec's "lexical order (i.e. case-insensitive
    alphanumeric order)": by lower-cased name, ties broken by the name itself; keyset pagination
    on that pair."""
    query = Tag.objects.filter(live_tags(), repository=repository).annotate(folded=Lower("name"))
    if last:
        # (folded, name) > (last.lower(), last), written so the index can range-scan on folded
        query = query.filter(folded__gte=last.lower()).exclude(folded=last.lower(), name__lte=last)
    names = query.order_by("folded", "name").values_list("name", flat=True)
    if n is None:
        return Page(list(names), False)
    fetched = list(names[: n + 1])
    return Page(fetched[:n], len(fetched) > n)


def catalog_page(*, n: int, last: str | None, repository_filter: Q | None = None) -> Page:
    query = Repository.objects.all()
    if repository_filter is not None:
        # No DISTINCT: ``readable_repositories`` matches each row once (subqueries, no joins), so the
        # page walks the full_name index and stops after n + 1 rows.
        query = query.filter(repository_filter)
    if last:
        query = query.filter(full_name__gt=last)
    fetched = list(query.order_by("full_name").values_list("full_name", flat=True)[: n + 1])
    return Page(fetched[:n], len(fetched) > n)


def referrer_manifests(*, repository: Repository, digest: str) -> list[Manifest]:
    """Manifests in ``repository`` whose ``subject`` is ``digest``, oldest first."""
    return list(
        Manifest.objects.filter(repository=repository, subject_digest=digest, deleted_at__isnull=True)
        .only("digest", "media_type", "size", "artifact_type", "config_media_type", "annotations")
        .order_by("created", "id")
    )


def referrers_fallback_tag(digest: str) -> str:
    """The tag-schema fallback name ``<alg>-<ref>``: ``sha256:abc…`` -> ``sha256-abc…``, where the
    spec limits ``<ref>`` to 64 characters (a sha512 subject keeps the first half of its hex)."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}-{encoded[:64]}"
