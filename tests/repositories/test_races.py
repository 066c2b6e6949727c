"""Races on the real database: threads, each with its own connection, released at once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from common.errors import BlobUploadInvalidError, BlobUploadUnknownError, RangeNotSatisfiableError, RegistryError
from repositories.media_types import OCI_MANIFEST
from repositories.models import Blob, BlobPlacement, BlobUpload, Manifest, ManifestBlob, Tag, UploadedBlob
from repositories.services.manifests import manifest_put
from repositories.services.uploads import BodyStream, blob_upload_append, blob_upload_complete, blob_upload_get, blob_upload_start
from storagebackends.paths import blob_path
from tests.factories import RepositoryFactory, digest_of, image_manifest
from tests.repositories.helpers import body, files_under, push_blob, race, slow

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8
TAG_WRITERS = 16  # more than the 5 retries tag_point once had
LAYER = bytes(range(256)) * 4096  # 1 MiB


def sha256_of_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_concurrent_completions_of_the_same_blob_all_succeed_and_store_it_once(storage, storage_root):
    repositories = [RepositoryFactory(), RepositoryFactory()]
    uploads = []
    for i in range(4):
        upload = blob_upload_start(repository=repositories[i % 2])
        uploads.append(blob_upload_append(upload=upload, body=body(LAYER)))

    outcomes = race(lambda u=u: blob_upload_complete(upload=u, digest=digest_of(LAYER)) for u in uploads)

    assert [o.error for o in outcomes] == [None] * 4
    assert Blob.objects.filter(digest=digest_of(LAYER)).count() == 1
    assert BlobPlacement.objects.count() == 1
    assert UploadedBlob.objects.count() == 2
    assert not BlobUpload.objects.exists()
    assert files_under(storage_root) == [storage_root / blob_path(digest_of(LAYER))]
    assert sha256_of_file(storage_root / blob_path(digest_of(LAYER))) == digest_of(LAYER)


def test_concurrent_completions_of_one_session_let_exactly_one_finish_it(repository, storage, storage_root):
    upload = blob_upload_append(upload=blob_upload_start(repository=repository), body=body(LAYER))

    def complete() -> Blob:
        # As the view does: look the session up by id, then complete it.
        return blob_upload_complete(upload=blob_upload_get(repository=repository, upload_id=upload.id), digest=digest_of(LAYER))

    outcomes = race(complete for _ in range(4))

    winners = [o for o in outcomes if o.ok]
    losers = [o.error for o in outcomes if not o.ok]
    assert len(winners) == 1
    assert all(isinstance(e, (BlobUploadInvalidError, BlobUploadUnknownError)) for e in losers), losers
    assert Blob.objects.filter(digest=digest_of(LAYER)).count() == 1
    assert sha256_of_file(storage_root / blob_path(digest_of(LAYER))) == digest_of(LAYER)


def test_concurrent_chunks_at_one_offset_let_exactly_one_writer_win_each_round(repository, storage):
    upload = blob_upload_start(repository=repository)
    expected = b""
    for round_number in range(3):
        chunks = [f"round {round_number} writer {w} ".encode() * 2000 for w in range(4)]
        offset = BlobUpload.objects.get(id=upload.id).byte_count

        def append(chunk: bytes) -> BlobUpload:
            current = BlobUpload.objects.get(id=upload.id)
            pieces = slow(chunk, pieces=8, pause=lambda: time.sleep(0.005))
            return blob_upload_append(upload=current, body=BodyStream(pieces, len(chunk)), content_range=(offset, offset + len(chunk) - 1))

        outcomes = race(lambda c=c: append(c) for c in chunks)

        won = [chunks[i] for i, o in enumerate(outcomes) if o.ok]
        refused = [o.error for o in outcomes if not o.ok]
        assert len(won) == 1, [o.error for o in outcomes]
        assert all(isinstance(e, (BlobUploadInvalidError, RangeNotSatisfiableError)) for e in refused), refused
        expected += won[0]

    blob = blob_upload_complete(upload=BlobUpload.objects.get(id=upload.id), digest=digest_of(expected))
    with storage.open(blob_path(blob.digest)) as handle:
        assert handle.read() == expected


def _images(repository, count: int) -> list[bytes]:
    """``count`` different image manifests over blobs already uploaded to ``repository``."""
    layer = b"shared layer" * 1000
    push_blob(repository=repository, data=layer)
    images = []
    for i in range(count):
        config = f'{{"created": "{i}"}}'.encode()
        push_blob(repository=repository, data=config)
        images.append(image_manifest(config=config, layers=[layer]))
    return images


def test_concurrent_pushes_of_one_tag_all_succeed(repository, storage):
    images = _images(repository, TAG_WRITERS)

    outcomes = race(
        lambda raw=raw: manifest_put(repository=repository, reference="latest", raw=raw, content_type=OCI_MANIFEST) for raw in images
    )

    assert [o.error for o in outcomes] == [None] * TAG_WRITERS


def test_concurrent_pushes_of_one_tag_leave_exactly_one_live_row(repository, storage):
    images = _images(repository, TAG_WRITERS)

    outcomes = race(
        lambda raw=raw: manifest_put(repository=repository, reference="latest", raw=raw, content_type=OCI_MANIFEST) for raw in images
    )

    assert all(o.ok or isinstance(o.error, RegistryError) for o in outcomes), [o.error for o in outcomes]
    live = Tag.objects.filter(repository=repository, name="latest", lifetime_end__isnull=True)
    assert live.count() == 1
    assert live.get().manifest.digest in {digest_of(images[i]) for i, o in enumerate(outcomes) if o.ok}


def test_concurrent_pushes_of_one_tag_keep_an_unbroken_history(repository, storage):
    images = _images(repository, TAG_WRITERS)

    outcomes = race(
        lambda raw=raw: manifest_put(repository=repository, reference="latest", raw=raw, content_type=OCI_MANIFEST) for raw in images
    )

    history = list(Tag.objects.filter(repository=repository, name="latest").order_by("lifetime_start", "id"))
    assert len(history) == sum(o.ok for o in outcomes)
    assert [t.lifetime_end is None for t in history] == [False] * (len(history) - 1) + [True]
    for ended, following in zip(history, history[1:]):
        assert ended.lifetime_start <= ended.lifetime_end == following.lifetime_start


def test_concurrent_puts_of_the_same_manifest_store_it_once(repository, storage):
    raw = _images(repository, 1)[0]

    outcomes = race(
        lambda: manifest_put(repository=repository, reference="latest", raw=raw, content_type=OCI_MANIFEST) for _ in range(WRITERS)
    )

    assert [o.error for o in outcomes] == [None] * WRITERS
    assert {o.value.manifest.pk for o in outcomes} == {Manifest.objects.get(digest=digest_of(raw)).pk}
    assert ManifestBlob.objects.count() == 2
    assert list(Tag.objects.values_list("name", "lifetime_end")) == [("latest", None)]
