"""``/v2/<name>/blobs/uploads/``: start (monolithic, session or mount), PATCH, PUT, status, cancel."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from common.errors import DigestInvalidError, RangeNotSatisfiableError, RegistryError
from common.grammar import parse_content_range, parse_digest, validate_repository_name
from oci import metrics
from oci.responses import empty, error_response
from oci.streams import has_body, request_body
from oci.views.base import RegistryView
from repositories.access import Action, is_allowed
from repositories.models import Blob, BlobUpload, Repository
from repositories.selectors import repository_find
from repositories.services.uploads import (
    blob_mount,
    blob_upload_append,
    blob_upload_cancel,
    blob_upload_claim,
    blob_upload_complete,
    blob_upload_get,
    blob_upload_monolithic,
    blob_upload_start,
)


def _upload_location(name: str, upload: BlobUpload) -> str:
    return f"/v2/{name}/blobs/uploads/{upload.id}"


def _range_value(upload: BlobUpload) -> str:
    # Distribution's convention: inclusive end, "0-0" for an empty upload.
    return f"0-{max(upload.byte_count - 1, 0)}"


def _session_headers(name: str, upload: BlobUpload) -> dict[str, str]:
    return {
        "Location": _upload_location(name, upload),
        "Range": _range_value(upload),
        "Docker-Upload-UUID": upload.id,
        "Blob-Upload-Session-ID": upload.id,
    }


def _created(name: str, blob: Blob) -> HttpResponse:
    return empty(201, {"Location": f"/v2/{name}/blobs/{blob.digest}", "Docker-Content-Digest": blob.digest})


def _readable_source(request: HttpRequest, principal, digest: str, source_name: str | None, target: Repository) -> list[Repository]:
    """Repositories the caller may read that could hold ``digest`` (``from``, or any when absent)."""
    if source_name:
        try:
            validate_repository_name(source_name)
        except RegistryError:
            return []
        source = repository_find(name=source_name)
        if source is None or not is_allowed(principal, Action.PULL, source, name=source_name):
            return []
        return [source]
    now = timezone.now()
    candidates = (
        Repository.objects.filter(
            Q(manifests__blob_links__blob__digest=digest) | Q(uploaded_blobs__blob__digest=digest, uploaded_blobs__expires_at__gt=now)
        )
        .exclude(pk=target.pk)
        .distinct()[:20]
    )
    return [repo for repo in candidates if is_allowed(principal, Action.PULL, repo)]


class UploadStartView(RegistryView):
    def post(self, request: HttpRequest, name: str) -> HttpResponse:
        mount = request.GET.get("mount")
        source_name = request.GET.get("from")
        extra_scopes = (f"repository:{source_name}:pull",) if mount and source_name and len(source_name) <= 255 else ()
        repository = self.repository_for_push(request, name, extra_scopes)
        if mount:
            try:
                parse_digest(mount)
                sources = _readable_source(request, self.principal(request), mount, source_name, repository)
            except DigestInvalidError:
                sources = []  # the spec: a failed mount falls back to a normal upload
            for source in sources:
                blob = blob_mount(repository=repository, digest=mount, source=source)
                if blob is not None:
                    return _created(name, blob)

        digest = request.GET.get("digest")
        if digest:
            blob = blob_upload_monolithic(repository=repository, digest=digest, body=request_body(request))
            metrics.BYTES_IN.inc(blob.size)
            return _created(name, blob)

        upload = blob_upload_start(repository=repository)
        if has_body(request):
            # Not in the spec, but some clients send the first chunk with the POST.
            upload = blob_upload_append(upload=upload, body=request_body(request))
        return empty(202, _session_headers(name, upload))


def _content_range(request: HttpRequest) -> tuple[int, int] | None:
    """The chunk's ``Content-Range``; a malformed one is a 416 (the caller adds the upload to it,
    so that the answer tells where the upload stands)."""
    if "Content-Range" not in request.headers:
        return None
    content_range = parse_content_range(request.headers["Content-Range"])
    if content_range is None:
        raise RangeNotSatisfiableError("malformed Content-Range")
    return content_range


class UploadView(RegistryView):
    def render_error(self, request: HttpRequest, error: RegistryError, head: bool) -> HttpResponse:
        # A rejected chunk tells the client where the upload stands so it can resume.
        upload = getattr(error, "upload", None)
        if isinstance(error, RangeNotSatisfiableError) and upload is not None:
            error.headers.update(_session_headers(self.kwargs["name"], upload))
        return error_response(error, head=head)

    def _upload(self, request: HttpRequest, name: str, upload_id: str, action: Action = Action.PUSH) -> BlobUpload:
        repository = self.repository_for_read(request, name, action)
        return blob_upload_get(repository=repository, upload_id=upload_id)

    def get(self, request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
        upload = self._upload(request, name, upload_id)
        return empty(204, _session_headers(name, upload))

    def patch(self, request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
        repository = self.repository_for_read(request, name, Action.PUSH)
        try:
            content_range = _content_range(request)
        except RangeNotSatisfiableError as error:
            error.upload = blob_upload_get(repository=repository, upload_id=upload_id)
            raise
        # The session is read and its writer lease taken in one statement.
        upload, token = blob_upload_claim(repository=repository, upload_id=upload_id)
        before = upload.byte_count
        upload = blob_upload_append(upload=upload, body=request_body(request), content_range=content_range, token=token)
        metrics.BYTES_IN.inc(upload.byte_count - before)
        return empty(202, _session_headers(name, upload))

    def put(self, request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
        upload = self._upload(request, name, upload_id)
        digest = request.GET.get("digest")
        if not digest:
            raise DigestInvalidError("the digest query parameter is required to complete an upload")
        parse_digest(digest)
        try:
            content_range = _content_range(request)
        except RangeNotSatisfiableError as error:
            error.upload = upload
            raise
        before = upload.byte_count
        body = request_body(request) if has_body(request) else None
        blob = blob_upload_complete(upload=upload, digest=digest, body=body, content_range=content_range)
        metrics.BYTES_IN.inc(max(0, blob.size - before))
        return _created(name, blob)

    def delete(self, request: HttpRequest, name: str, upload_id: str) -> HttpResponse:
        upload = self._upload(request, name, upload_id)
        blob_upload_cancel(upload=upload)
        return empty(204)
