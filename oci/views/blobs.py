"""``/v2/<name>/blobs/<digest>``: GET (with Range), HEAD, DELETE."""

from __future__ import annotations

import logging
from typing import BinaryIO, Iterator

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse

from common.errors import BlobUnknownError, RangeNotSatisfiableError, UnavailableError
from common.grammar import parse_byte_range, parse_digest
from oci import metrics
from oci.responses import empty, error_response
from oci.views.base import RegistryView
from repositories.access import Action
from repositories.lookup_cache import BlobLookup, blob_find_cached, blob_hold_cached, blob_lookup_cached
from repositories.models import Blob, Repository
from repositories.selectors_storage import blob_holding_locations
from repositories.services.proxy import ProxyBlob, proxy_blob_pending
from repositories.services.uploads import blob_delete
from storagebackends.base import ObjectNotFound, StorageBackend, StorageError
from storagebackends.paths import blob_path
from storagebackends.registry import get_location

REDIRECT_SECONDS = 300

logger = logging.getLogger(__name__)


def _blob_headers(response: HttpResponse, blob: Blob) -> None:
    response["Docker-Content-Digest"] = blob.digest
    response["ETag"] = f'"{blob.digest}"'
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "max-age=31536000"


def _holding_backends(blob: Blob) -> list[StorageBackend]:
    """The configured locations recorded as holding ``blob``, in preference order."""
    return [get_location(name) for name in blob_holding_locations(blob=blob)]


def _open_first(blob: Blob, backends: list[StorageBackend], offset: int) -> tuple[StorageBackend, BinaryIO]:
    """Open the blob in the first of ``backends`` that can serve it; a location that errors is
    logged and counted, and the next one is tried."""
    unreachable: StorageError | None = None
    for backend in backends:
        try:
            return backend, backend.open(blob_path(blob.digest), offset)
        except StorageError as exc:  # ObjectNotFound included: a copy that went missing
            logger.warning("blob %s: read from storage location %s failed (%s); trying the next", blob.digest, backend.name, exc)
            metrics.STORAGE_READ_FAILOVER.labels(location=backend.name).inc()
            if not isinstance(exc, ObjectNotFound):
                unreachable = exc
    if unreachable is not None:
        raise UnavailableError("no storage location holding the blob answered", detail={"digest": blob.digest}) from unreachable
    raise BlobUnknownError("blob content is missing from storage", detail={"digest": blob.digest})


def _redirect_url(blob: Blob, backends: list[StorageBackend]) -> str | None:
    """A signed URL of the first preferred location holding the blob, if it offers direct downloads.

    Only a location that holds the blob may answer with a redirect; otherwise the blob is streamed.
    """
    if not backends:
        return None
    try:
        return backends[0].redirect_url(blob_path(blob.digest), expires_in=REDIRECT_SECONDS)
    except StorageError as exc:
        logger.warning("blob %s: %s could not sign a URL (%s); streaming instead", blob.digest, backends[0].name, exc)
        return None


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


def _proxied(blob: ProxyBlob | None, missing: BlobUnknownError) -> HttpResponse:
    """A blob of a proxy cache's pending manifest (``missing`` is raised when there is none)."""
    if blob is None:
        raise missing
    response: HttpResponse
    if blob.chunks is None:
        response = HttpResponse(b"", content_type="application/octet-stream")
    else:
        response = StreamingHttpResponse(blob.chunks, content_type="application/octet-stream")
        metrics.BYTES_OUT.inc(blob.size)
    response["Content-Length"] = str(blob.size)
    response["Docker-Content-Digest"] = blob.digest
    response["ETag"] = f'"{blob.digest}"'
    return response


class BlobView(RegistryView):
    def _blob(self, request: HttpRequest, name: str, digest: str) -> Blob:
        return self._repository_and_blob(request, name, digest)[1]

    def _repository_and_blob(self, request: HttpRequest, name: str, digest: str, lookup: BlobLookup | None = None) -> tuple[Repository, Blob]:
        lookup = lookup or BlobLookup()
        repository = self.repository_for_read(request, name, found=lookup.repository)
        parse_digest(digest)
        blob = lookup.blob or blob_find_cached(repository=repository, digest=digest)  # no query when warm
        if blob is None:
            raise BlobUnknownError(detail={"digest": digest})
        return repository, blob

    def head(self, request: HttpRequest, name: str, digest: str) -> HttpResponse:
        lookup = blob_lookup_cached(name=name, digest=digest)  # warm: one cache round trip in all
        try:
            repository, blob = self._repository_and_blob(request, name, digest, lookup)
        except BlobUnknownError as missing:  # a pull-through cache may have it upstream
            return _proxied(proxy_blob_pending(name=name, digest=digest, stream=False), missing)
        # A client that sees 200 skips the upload: keep the blob from the collector until its push.
        if not lookup.held and not blob_hold_cached(repository=repository, blob=blob):
            raise BlobUnknownError(detail={"digest": digest})
        response = HttpResponse(b"", content_type="application/octet-stream")
        _blob_headers(response, blob)
        response["Content-Length"] = str(blob.size)
        return response

    def get(self, request: HttpRequest, name: str, digest: str) -> HttpResponse:
        try:
            blob = self._blob(request, name, digest)
        except BlobUnknownError as missing:  # a pull-through cache streams it from upstream while storing it
            return _proxied(proxy_blob_pending(name=name, digest=digest, stream=True), missing)

        byte_range = None
        range_header = request.headers.get("Range")
        # RFC 9110 14.2: a Range in a unit other than bytes MUST be ignored (full 200 response).
        if range_header and range_header.partition("=")[0].strip().lower() == "bytes":
            byte_range = parse_byte_range(range_header, blob.size)
            if byte_range is None:
                error = RangeNotSatisfiableError(detail={"range": range_header[:100], "size": blob.size})
                error.headers["Content-Range"] = f"bytes */{blob.size}"
                return error_response(error)

        backends = _holding_backends(blob)
        if byte_range is None:
            url = _redirect_url(blob, backends)
            if url:
                response = HttpResponseRedirect(url, status=307)
                response.status_code = 307
                _blob_headers(response, blob)
                return response

        start, end = byte_range if byte_range else (0, blob.size - 1)
        length = max(0, end - start + 1)
        _backend, handle = _open_first(blob, backends, start)
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
