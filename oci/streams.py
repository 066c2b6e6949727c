"""Reading request bodies as a stream of chunks, without ever buffering a whole blob."""

from __future__ import annotations

from typing import Iterator

from django.conf import settings
from django.http import HttpRequest

from repositories.services.uploads import BodyStream


def _chunk_size() -> int:
    return settings.MOORAGE_UPLOADS["chunk_bytes"]


def declared_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def has_body(request: HttpRequest) -> bool:
    length = declared_length(request)
    return bool(length) or (length is None and is_chunked(request))


def request_body(request: HttpRequest) -> BodyStream:
    """The body as chunks. With ``Transfer-Encoding: chunked`` Django sees no CONTENT_LENGTH and
    would read nothing, so we read the server's (already de-chunked) input stream directly."""
    length = declared_length(request)
    size = _chunk_size()
    if length is None and is_chunked(request):
        source = request.META["wsgi.input"]

        def chunked() -> Iterator[bytes]:
            while True:
                chunk = source.read(size)
                if not chunk:
                    return
                yield chunk

        return BodyStream(chunked(), None)

    readinto = getattr(request.META.get("wsgi.input"), "readinto", None)  # gunicorn_conf._DirectLengthInput
    if readinto is not None and length:

        def direct() -> Iterator[memoryview]:
            # One buffer for the whole body, refilled in place: each chunk is a view of it, valid
            # until the next one is asked for. The consumers (hash, file write, the object stores'
            # part buffers) are done with a chunk or have copied it by then; read_limited copies.
            buffer = memoryview(bytearray(min(size, length)))
            remaining = length
            while remaining > 0:
                count = readinto(buffer[: min(size, remaining)])
                if not count:
                    return  # client went away; the length check reports it
                remaining -= count
                yield buffer[:count]

        return BodyStream(direct(), length)

    def limited() -> Iterator[bytes]:
        remaining = length or 0
        while remaining > 0:
            chunk = request.read(min(size, remaining))
            if not chunk:
                return  # client went away; the length check reports it
            remaining -= len(chunk)
            yield chunk

    return BodyStream(limited(), length or 0)


def read_limited(request: HttpRequest, limit: int) -> bytes | None:
    """Read a small body (a manifest) fully; None when it is larger than ``limit`` (at once,
    without reading, when its Content-Length already says so)."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        return None
    parts: list[bytes] = []
    total = 0
    for chunk in request_body(request).chunks:
        total += len(chunk)
        if total > limit:
            return None
        parts.append(bytes(chunk))  # the chunk may be a view of a buffer that the next read refills
    return b"".join(parts)
