"""Manifest services: linking, unknown references, deletion by tag and by digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import DigestInvalidError, ManifestBlobUnknownError, ManifestInvalidError, ManifestUnknownError, TagImmutableError
from repositories.media_types import EMPTY_JSON_DIGEST, OCI_INDEX, OCI_MANIFEST
from repositories.models import Blob, Manifest, ManifestBlob, ManifestChild, Tag, UploadedBlob
from repositories.selectors import blob_find_in_repository, manifest_resolve
from repositories.services.manifests import manifest_delete, manifest_put
from storagebackends.paths import blob_path
from tests.factories import RepositoryFactory, digest_of, image_manifest, index_manifest
from tests.repositories.helpers import push_blob

pytestmark = pytest.mark.django_db

CONFIG = b'{"architecture": "amd64", "os": "linux"}'
LAYERS = [b"layer one" * 100, b"layer two" * 100]


@pytest.fixture
def image(repository, storage) -> bytes:
    """An image manifest whose config and layers are uploaded to ``repository``."""
    for data in (CONFIG, *LAYERS):
        push_blob(repository=repository, data=data)
    return image_manifest(config=CONFIG, layers=LAYERS)


def put(repository, reference: str, raw: bytes, content_type: str = OCI_MANIFEST, **kwargs):
    return manifest_put(repository=repository, reference=reference, raw=raw, content_type=content_type, **kwargs)


def test_manifest_put_stores_the_exact_bytes_under_their_digest(repository, image):
    result = put(repository, "latest", image)

    manifest = Manifest.objects.get(pk=result.manifest.pk)
    assert bytes(manifest.content) == image
    assert (manifest.digest, manifest.size, manifest.media_type) == (digest_of(image), len(image), OCI_MANIFEST)


def test_manifest_put_links_its_config_and_layers(repository, image):
    result = put(repository, "latest", image)

    linked = set(ManifestBlob.objects.filter(manifest=result.manifest).values_list("blob__digest", flat=True))
    assert linked == {digest_of(CONFIG), *(digest_of(layer) for layer in LAYERS)}


def test_a_blob_referenced_by_a_manifest_stays_visible_after_its_upload_link_expires(repository, image):
    put(repository, "latest", image)

    UploadedBlob.objects.filter(repository=repository).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert blob_find_in_repository(repository=repository, digest=digest_of(LAYERS[0])) is not None


def test_manifest_put_by_digest_stores_the_manifest_without_a_tag(repository, image):
    put(repository, digest_of(image), image)

    assert manifest_resolve(repository=repository, reference=digest_of(image)).digest == digest_of(image)
    assert not Tag.objects.exists()


def test_manifest_put_by_a_digest_that_does_not_match_the_body_is_refused(repository, image):
    with pytest.raises(DigestInvalidError):
        put(repository, digest_of(b"other"), image)

    assert not Manifest.objects.exists()


def test_manifest_put_with_extra_tags_points_every_tag_at_the_manifest(repository, image):
    put(repository, "latest", image, extra_tags=("1.0", "1"))

    assert set(Tag.objects.filter(lifetime_end__isnull=True).values_list("name", flat=True)) == {"latest", "1.0", "1"}


def test_an_index_links_its_child_manifests(repository, image):
    child = put(repository, digest_of(image), image).manifest
    index = index_manifest(image)

    result = put(repository, "multi", index, OCI_INDEX)

    assert list(ManifestChild.objects.filter(manifest=result.manifest).values_list("child", flat=True)) == [child.pk]


def test_manifest_blob_unknown_reports_one_error_per_missing_blob(repository, storage):
    push_blob(repository=repository, data=CONFIG)
    missing = [b"never uploaded 1", b"never uploaded 2"]

    with pytest.raises(ManifestBlobUnknownError) as raised:
        put(repository, "latest", image_manifest(config=CONFIG, layers=missing))

    errors = raised.value.as_dicts()
    assert [e["code"] for e in errors] == ["MANIFEST_BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"]
    assert [e["detail"]["digest"] for e in errors] == [digest_of(m) for m in missing]
    assert not Manifest.objects.exists()


def test_an_index_of_unknown_manifests_reports_each_one(repository, storage):
    children = [image_manifest(config=CONFIG, layers=[b"a"]), image_manifest(config=CONFIG, layers=[b"b"])]

    with pytest.raises(ManifestBlobUnknownError) as raised:
        put(repository, "multi", index_manifest(*children), OCI_INDEX)

    assert [e["detail"]["digest"] for e in raised.value.as_dicts()] == [digest_of(c) for c in children]


def test_a_blob_whose_upload_link_expired_is_unknown_to_a_manifest(repository, image):
    UploadedBlob.objects.filter(repository=repository, blob__digest=digest_of(LAYERS[1])).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    with pytest.raises(ManifestBlobUnknownError) as raised:
        put(repository, "latest", image)

    assert [e["detail"]["digest"] for e in raised.value.as_dicts()] == [digest_of(LAYERS[1])]


def test_a_blob_of_another_repository_is_unknown_to_a_manifest(repository, storage):
    push_blob(repository=RepositoryFactory(), data=CONFIG)

    with pytest.raises(ManifestBlobUnknownError):
        put(repository, "latest", image_manifest(config=CONFIG))


def test_a_descriptor_size_that_disagrees_with_the_blob_is_refused(repository, image):
    lying = image.replace(f'"size": {len(LAYERS[0])}'.encode(), f'"size": {len(LAYERS[0]) + 1}'.encode())

    with pytest.raises(ManifestInvalidError):
        put(repository, "latest", lying)


def test_the_empty_json_config_is_stored_without_an_upload(repository, storage):
    raw = image_manifest(config=b"{}")

    put(repository, "latest", raw)

    blob = Blob.objects.get(digest=EMPTY_JSON_DIGEST)
    with storage.open(blob_path(blob.digest)) as handle:
        assert handle.read() == b"{}"


def test_manifest_delete_by_tag_ends_only_that_tag(repository, image):
    result = put(repository, "latest", image, extra_tags=("stable",))

    manifest_delete(repository=repository, reference="latest")

    assert list(Tag.objects.filter(lifetime_end__isnull=True).values_list("name", flat=True)) == ["stable"]
    assert Tag.objects.get(name="latest").lifetime_end is not None
    assert manifest_resolve(repository=repository, reference=result.manifest.digest) == result.manifest


def test_manifest_delete_by_digest_keeps_the_row_marked_deleted(repository, image):
    result = put(repository, "latest", image)

    manifest_delete(repository=repository, reference=result.manifest.digest)

    manifest = Manifest.objects.get(pk=result.manifest.pk)
    assert manifest.deleted_at is not None
    with pytest.raises(ManifestUnknownError):
        manifest_resolve(repository=repository, reference=manifest.digest)


def test_manifest_delete_by_digest_ends_every_tag_on_it_and_keeps_their_history(repository, image):
    result = put(repository, "latest", image, extra_tags=("stable",))

    manifest_delete(repository=repository, reference=result.manifest.digest)

    deleted_at = Manifest.objects.get(pk=result.manifest.pk).deleted_at
    assert sorted(Tag.objects.filter(manifest=result.manifest).values_list("name", "lifetime_end")) == [
        ("latest", deleted_at),
        ("stable", deleted_at),
    ]
    with pytest.raises(ManifestUnknownError):
        manifest_resolve(repository=repository, reference="latest")


def test_manifest_delete_of_an_unknown_digest_is_manifest_unknown(repository, storage):
    with pytest.raises(ManifestUnknownError):
        manifest_delete(repository=repository, reference=digest_of(b"nothing"))


def test_manifest_delete_by_digest_is_refused_while_an_immutable_tag_points_at_it(repository, image):
    result = put(repository, "latest", image)
    Tag.objects.filter(name="latest").update(immutable=True)

    with pytest.raises(TagImmutableError):
        manifest_delete(repository=repository, reference=result.manifest.digest)

    assert Manifest.objects.get(pk=result.manifest.pk).deleted_at is None
    assert Tag.objects.get(name="latest").lifetime_end is None


def test_pushing_a_deleted_manifest_again_brings_it_back(repository, image):
    result = put(repository, "latest", image)
    manifest_delete(repository=repository, reference=result.manifest.digest)

    again = put(repository, "latest", image)

    assert again.manifest.pk == result.manifest.pk
    assert Manifest.objects.get(pk=result.manifest.pk).deleted_at is None
    assert manifest_resolve(repository=repository, reference="latest") == result.manifest
