"""Seed a large registry for benchmarks (``manage.py bench_seed``): bulk inserts, no bytes in storage.

The rows look like what pushes leave behind: blobs (with a placement in the first storage
location), image manifests whose JSON names a config and layers among those blobs (with their
``ManifestBlob`` links), tags pointing at the manifests, and many small repositories for the
catalog. Blob bytes are not written: the scale figures (listing, catalog, manifest lookups, GC)
are about rows, and a blob read of a seeded digest fails like a missing copy would.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Namespace
from common.errors import InvalidRequestError
from repositories.models import Blob, BlobPlacement, Manifest, ManifestBlob, Repository, Tag

Progress = Callable[[str, int, int], None]
BATCH = 5000
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class SeedReport:
    repository: str
    catalog_namespace: str
    blobs: int
    manifests: int
    tags: int
    repositories: int
    manifest_blob_links: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def seed_blob_digest(index: int, salt: str = "") -> str:
    """The digest of seeded blob ``index`` (deterministic, so a re-seed under another salt differs)."""
    return "sha256:" + hashlib.sha256(f"moorage-seed-blob:{salt}:{index}".encode()).hexdigest()


def seed_manifest(config_digest: str, layer_digests: list[str], index: int) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": 1024},
        "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": 4096} for d in layer_digests],
        "annotations": {"org.moorage.seed": str(index)},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _chunks(total: int) -> list[range]:
    return [range(start, min(start + BATCH, total)) for start in range(0, total, BATCH)]


def registry_seed(
    *,
    namespace: Namespace,
    repository_name: str = "tags",
    catalog_namespace: Namespace | None = None,
    blobs: int,
    manifests: int,
    tags: int,
    repositories: int,
    salt: str = "",
    progress: Progress | None = None,
) -> SeedReport:
    """Bulk-insert a registry of the given size into ``namespace``.

    ``manifests`` image manifests go into ``<namespace>/<repository_name>``; each names a config and
    layers among the ``blobs`` (evenly spread, so every blob is referenced when there are at least
    as many blob slots as blobs); ``tags`` tags point at the manifests round-robin; ``repositories``
    empty repositories ``<catalog_namespace>/r00000...`` fill the catalog.

    Raises:
        InvalidRequestError: a negative count, tags without manifests, or manifests without blobs,
            or a repository of that name already exists (seed into a fresh database).
    """
    if min(blobs, manifests, tags, repositories) < 0:
        raise InvalidRequestError("counts must not be negative")
    if tags and not manifests:
        raise InvalidRequestError("tags need at least one manifest")
    if manifests and blobs < 2:
        raise InvalidRequestError("manifests need at least two blobs (a config and a layer)")
    catalog_namespace = catalog_namespace or namespace
    full_name = f"{namespace.name}/{repository_name}"
    if Repository.all_objects.filter(full_name=full_name).exists():
        raise InvalidRequestError(f"repository {full_name} exists already; seed into a fresh database")
    location = next(iter(settings.MOORAGE_STORAGE_LOCATIONS))
    now = timezone.now()
    report = lambda phase, done, total: progress(phase, done, total) if progress else None  # noqa: E731

    with transaction.atomic():
        repository = Repository.objects.create(namespace=namespace, name=repository_name, full_name=full_name)

    blob_ids: list[int] = []
    for part in _chunks(blobs):
        with transaction.atomic():
            rows = Blob.objects.bulk_create([Blob(digest=seed_blob_digest(i, salt), size=4096) for i in part])
            if rows and rows[0].pk is None:  # backends that do not return ids (none we support, but be exact)
                rows = list(Blob.objects.filter(digest__in=[r.digest for r in rows]).order_by("id"))
            BlobPlacement.objects.bulk_create([BlobPlacement(blob=row, location=location) for row in rows])
            blob_ids.extend(row.pk for row in rows)
        report("blobs", len(blob_ids), blobs)

    manifest_rows: list[Manifest] = []
    links = 0
    per_manifest = max(2, min(11, blobs // max(1, manifests))) if manifests else 0
    for part in _chunks(manifests):
        pending: list[tuple[Manifest, list[int]]] = []
        for i in part:
            picks = [(i * per_manifest + k) % blobs for k in range(per_manifest)]
            picks = list(dict.fromkeys(picks))
            digests = [seed_blob_digest(p, salt) for p in picks]
            raw = seed_manifest(digests[0], digests[1:], i)
            manifest = Manifest(
                repository=repository, digest="sha256:" + hashlib.sha256(raw).hexdigest(), media_type=MANIFEST_TYPE,
                content=raw, size=len(raw), config_media_type=CONFIG_TYPE,
            )
            pending.append((manifest, [blob_ids[p] for p in picks]))
        with transaction.atomic():
            created = Manifest.objects.bulk_create([m for m, _ in pending])
            link_rows = [
                ManifestBlob(repository=repository, manifest=m, blob_id=blob_id) for m, (_, ids) in zip(created, pending) for blob_id in ids
            ]
            ManifestBlob.objects.bulk_create(link_rows)
        links += len(link_rows)
        manifest_rows.extend(created)
        report("manifests", len(manifest_rows), manifests)

    done = 0
    for part in _chunks(tags):
        with transaction.atomic():
            Tag.objects.bulk_create(
                [Tag(repository=repository, name=f"v{i:06d}", manifest=manifest_rows[i % len(manifest_rows)], lifetime_start=now) for i in part]
            )
        done += len(part)
        report("tags", done, tags)

    done = 0
    for part in _chunks(repositories):
        with transaction.atomic():
            Repository.objects.bulk_create(
                [Repository(namespace=catalog_namespace, name=f"r{i:05d}", full_name=f"{catalog_namespace.name}/r{i:05d}") for i in part],
            )
        done += len(part)
        report("repositories", done, repositories)

    return SeedReport(
        repository=full_name, catalog_namespace=catalog_namespace.name, blobs=blobs, manifests=manifests, tags=tags,
        repositories=repositories, manifest_blob_links=links,
    )
