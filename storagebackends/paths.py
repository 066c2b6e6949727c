"""The only module that maps digests and upload ids to storage paths."""

from __future__ import annotations

import re

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def blob_path(digest: str) -> str:
    """``sha256:abcd…`` -> ``blobs/sha256/ab/abcd…`` (two-level fan-out keeps folders small)."""
    algorithm, _, encoded = digest.partition(":")
    return f"blobs/{algorithm}/{encoded[:2]}/{encoded}"


def upload_path(upload_id: str) -> str:
    if not _SAFE_ID.match(upload_id):
        raise ValueError(f"unsafe upload id {upload_id!r}")
    return f"uploads/{upload_id}/data"


def health_probe_path(token: str) -> str:
    if not _SAFE_ID.match(token):
        raise ValueError("unsafe probe token")
    return f"health/{token}"


def build_context_path(file_id: str) -> str:
    """A build context archive uploaded through the file drop."""
    if not _SAFE_ID.match(file_id):
        raise ValueError(f"unsafe file id {file_id!r}")
    return f"builds/contexts/{file_id}"


def build_log_path(build_uuid: str) -> str:
    """The archived log of one finished build (gzipped JSON lines)."""
    if not _SAFE_ID.match(build_uuid):
        raise ValueError(f"unsafe build id {build_uuid!r}")
    return f"builds/logs/{build_uuid[:2]}/{build_uuid}.jsonl.gz"


#: Top-level prefix of every upload's backend-side state (``uploads/<id>/...``).
UPLOADS_PREFIX = "uploads"


def upload_id_of(key: str) -> str | None:
    """The upload id of a path below ``uploads/<id>/``, or None for anything else."""
    head, _, rest = key.partition("/")
    upload_id, slash, _tail = rest.partition("/")
    if head != UPLOADS_PREFIX or not slash or not _SAFE_ID.match(upload_id):
        return None
    return upload_id
