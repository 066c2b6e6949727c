"""The periodic removal of upload state no session row owns, in every location: upload folders on
the filesystem, multipart uploads and tail objects in S3. Live sessions are never touched."""

from __future__ import annotations

import os
import time

import pytest

from repositories.models import BlobUpload
from repositories.services.uploads import blob_upload_append, blob_upload_complete, blob_upload_start
from tasks.storage import remove_upload_orphans
from tests.factories import digest_of
from tests.repositories.helpers import body
from tests.storage_ops.helpers import placements_of

pytestmark = pytest.mark.django_db(transaction=True)

DATA = os.urandom(6 * 1024 * 1024 + 100)  # more than one S3 part: a multipart upload is open


def s3_upload_keys(locations, upload_id: str) -> set[str]:
    client = locations.moto.client()
    prefix = f"{locations.prefix}/uploads/{upload_id}/"
    objects = {e["Key"] for e in client.list_objects_v2(Bucket=locations.moto.bucket, Prefix=prefix).get("Contents", ())}
    multipart = {e["Key"] for e in client.list_multipart_uploads(Bucket=locations.moto.bucket, Prefix=prefix).get("Uploads", ())}
    return objects | multipart


@pytest.mark.parametrize("preferred", ["local", "s3"])
def test_orphaned_upload_state_is_removed_and_live_sessions_survive(settings, locations, repository, preferred):
    locations.configure((preferred, "local" if preferred == "s3" else "s3"))
    live = blob_upload_append(upload=blob_upload_start(repository=repository), body=body(DATA[:5 * 1024 * 1024 + 1]))
    orphan = blob_upload_append(upload=blob_upload_start(repository=repository), body=body(DATA))
    BlobUpload.objects.filter(id=orphan.id).delete()  # the row is lost; its storage state stays
    if preferred == "local":
        assert (locations.root / "uploads" / orphan.id).exists()
    else:
        assert s3_upload_keys(locations, orphan.id)
    time.sleep(1.1)  # object stores keep modification times in whole seconds
    settings.MOORAGE_UPLOADS = {**settings.MOORAGE_UPLOADS, "stale_after_s": 0}

    result = remove_upload_orphans()

    assert result["removed"] == {"local": int(preferred == "local"), "s3": int(preferred == "s3")}
    assert result["errors"] == {}
    assert not (locations.root / "uploads" / orphan.id).exists()
    assert not s3_upload_keys(locations, orphan.id)
    live = blob_upload_append(upload=live, body=body(DATA[5 * 1024 * 1024 + 1 :]))
    blob = blob_upload_complete(upload=live, digest=digest_of(DATA))
    assert placements_of(blob.digest) == {preferred}


def test_a_location_that_is_down_is_reported_and_the_others_are_cleaned(settings, locations, repository):
    orphan = blob_upload_append(upload=blob_upload_start(repository=repository), body=body(b"partial"))
    BlobUpload.objects.filter(id=orphan.id).delete()
    locations.configure(("local", "s3"), s3_down=True)
    settings.MOORAGE_UPLOADS = {**settings.MOORAGE_UPLOADS, "stale_after_s": 0}
    time.sleep(0.05)

    result = remove_upload_orphans()

    assert result["removed"] == {"local": 1}
    assert set(result["errors"]) == {"s3"}
    assert not (locations.root / "uploads" / orphan.id).exists()
