"""``/v2/<name>/blobs/<digest>``: GET (with Range), HEAD, DELETE."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse

from common.errors import BlobUnknownError, RangeNotSatisfiableError
from common.grammar import parse_byte_range, parse_digest
from oci import metrics
from oci.responses import empty, error_response
from oci.views.base import RegistryView
from repositories.access import Action
from repositories.models import Blob
from repositories.selectors import blob_find_in_repository, blob_locations
from repositories.services.uploads import blob_delete
from storagebackends.base import ObjectNotFound, StorageBackend, StorageError
from storagebackends.paths import blob_path
from storagebackends.registry import locations_in_preference_order

REDIRECT_SECONDS = 300


def _blob_headers(response: HttpResponse, blob: Blob) -> None:
    response["Docker-Content-Digest"] = blob.digest
    response["ETag"] = f'"{blob.digest}"'
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "max-age=31536000"


def _open_first(blob: Blob, offset: int) -> tuple[StorageBackend, BinaryIO]:
    """Open the blob in the first preferred location that holds it, falling over on errors."""
    held = set(blob_locations(blob=blob))
    last_error: Exception | None = None
    for backend in locations_in_preference_order():
        if backend.name not in held:
            continue
        try:
            return backend, backend.open(blob_path(blob.digest), offset)
        except (ObjectNotFound, StorageError) as exc:
            last_error = exc
    if isinstance(last_error, StorageError) and not isinstance(last_error, ObjectNotFound):
        raise last_error
    raise BlobUnknownError("blob content is missing from storage", detail={"digest": blob.digest})


def _limited(handle: BinaryIO, length: int, chunk_size: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(chunk_size, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


class BlobView(RegistryView):
    def _blob(self, request: HttpRequest, name: str, digest: str) -> Blob:
        repository = self.repository_for_read(request, name)
        parse_digest(digest)
        blob = blob_find_in_repository(repository=repository, digest=digest)
        if blob is None:
            raise BlobUnknownError(detail={"digest": digest})
        return blob

    def head(self, request: HttpRequest, name: str, digest: str) -> HttpResponse:
        blob = self._blob(request, name, digest)
        response = HttpResponse(b"", content_type="application/octet-stream")
        _blob_headers(response, blob)
        response["Content-Length"] = str(blob.size)
        return response

    def get(self, request: HttpRequest, name: str, digest: str) -> HttpResponse:
        blob = self._blob(request, name, digest)

        byte_range = None
        range_header = request.headers.get("Range")
        # RFC 9110 14.2: a Range in a unit other than bytes MUST be ignored (full 200 response).
        if range_header and range_header.partition("=")[0].strip().lower() == "bytes":
            byte_range = parse_byte_range(range_header, blob.size)
            if byte_range is None:
                error = RangeNotSatisfiableError(detail={"range": range_header[:100], "size": blob.size})
                error.headers["Content-Range"] = f"bytes */{blob.size}"
                return error_response(error)

        if byte_range is None:
            for backend in locations_in_preference_order():
                url = backend.redirect_url(blob_path(blob.digest), expires_in=REDIRECT_SECONDS)
                if url:
                    response = HttpResponseRedirect(url, status=307)
                    response.status_code = 307
                    _blob_headers(response, blob)
                    return response

        start, end = byte_range if byte_range else (0, blob.size - 1)
        length = max(0, end - start + 1)
        _backend, handle = _open_first(blob, start)
        if end == blob.size - 1:
            # The rest of the file: FileResponse lets the server use sendfile (zero copy).
            response: HttpResponse = FileResponse(handle, content_type="application/octet-stream")
        else:
            response = StreamingHttpResponse(
                _limited(handle, length, settings.MOORAGE_UPLOADS["chunk_bytes"]), content_type="application/octet-stream"
            )
        response["Content-Length"] = str(length)
        _blob_headers(response, blob)
        if byte_range:
            response.status_code = 206
            response["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
        metrics.BYTES_OUT.inc(length)
        return response

    def delete(self, request: HttpRequest, name: str, digest: str) -> HttpResponse:
        repository = self.repository_for_read(request, name, Action.DELETE)
        blob_delete(repository=repository, digest=digest)
        return empty(202)
