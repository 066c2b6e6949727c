"""``manage.py bench_seed``: a consistent registry of the requested size, and a GC pass over it."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from repositories.models import Blob, BlobPlacement, Manifest, ManifestBlob, Repository, Tag
from repositories.selectors import manifest_resolve, tag_names_page

pytestmark = pytest.mark.django_db


def seed(*args: str) -> dict:
    out = io.StringIO()
    call_command("bench_seed", *args, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_seeding_creates_the_requested_rows_with_every_blob_referenced_and_gc_deleting_nothing():
    result = seed("--namespace", "seeded", "--blobs", "300", "--manifests", "30", "--tags", "250", "--repositories", "40", "--gc")
    repository = Repository.objects.get(full_name="seeded/tags")
    assert Blob.objects.count() == BlobPlacement.objects.count() == 300
    assert Manifest.objects.filter(repository=repository).count() == 30
    assert Tag.objects.filter(repository=repository, lifetime_end__isnull=True).count() == 250
    assert Repository.objects.filter(namespace__name="seeded").count() == 41
    # every blob is named by some manifest, and the manifests' JSON names exactly their linked blobs
    assert ManifestBlob.objects.values("blob").distinct().count() == 300
    manifest = manifest_resolve(repository=repository, reference="v000007")
    named = {d["digest"] for d in json.loads(bytes(manifest.content))["layers"]} | {json.loads(bytes(manifest.content))["config"]["digest"]}
    assert named == set(Blob.objects.filter(manifest_links__manifest=manifest).values_list("digest", flat=True))
    assert tag_names_page(repository=repository, n=3, last=None).items == ["v000000", "v000001", "v000002"]
    assert result["gc"]["blobs_examined"] == 300 and result["gc"]["blobs_deleted"] == 0
    assert result["gc"]["manifests_deleted"] == 0 and "gc_seconds" in result


def test_seeding_the_same_repository_twice_is_refused():
    seed("--blobs", "4", "--manifests", "2", "--tags", "2", "--repositories", "0")
    with pytest.raises(CommandError, match="exists already"):
        seed("--blobs", "4", "--manifests", "2", "--tags", "2", "--repositories", "0")
