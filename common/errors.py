"""The single exception tree of Moorage.

Services raise only these. The /v2 layer renders them as OCI error JSON
(``{"errors": [{"code", "message", "detail"}]}``); the REST API renders the same tree.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base of every error a service may raise on purpose."""

    code = "UNKNOWN"
    http_status = 500
    default_message = "unknown error"

    def __init__(
        self,
        message: str | None = None,
        detail: Any = None,
        *,
        headers: dict[str, str] | None = None,
        siblings: list["RegistryError"] | None = None,
    ):
        self.message = message or self.default_message
        self.detail = detail
        self.headers = headers or {}
        #: further errors reported in the same response (one per unknown blob, say)
        self.siblings = siblings or []
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}

    def as_dicts(self) -> list[dict[str, Any]]:
        return [self.as_dict(), *(s.as_dict() for s in self.siblings)]


class BlobUnknownError(RegistryError):
    code, http_status, default_message = "BLOB_UNKNOWN", 404, "blob unknown to registry"


class BlobUploadInvalidError(RegistryError):
    code, http_status, default_message = "BLOB_UPLOAD_INVALID", 400, "blob upload invalid"


class BlobUploadUnknownError(RegistryError):
    code, http_status, default_message = "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"


class DigestInvalidError(RegistryError):
    code, http_status, default_message = "DIGEST_INVALID", 400, "provided digest did not match uploaded content"


class ManifestBlobUnknownError(RegistryError):
    code, http_status, default_message = "MANIFEST_BLOB_UNKNOWN", 404, "manifest references a manifest or blob unknown to registry"


class ManifestInvalidError(RegistryError):
    code, http_status, default_message = "MANIFEST_INVALID", 400, "manifest invalid"


class ManifestUnknownError(RegistryError):
    code, http_status, default_message = "MANIFEST_UNKNOWN", 404, "manifest unknown to registry"


class NameInvalidError(RegistryError):
    code, http_status, default_message = "NAME_INVALID", 400, "invalid repository name"


class NameUnknownError(RegistryError):
    code, http_status, default_message = "NAME_UNKNOWN", 404, "repository name not known to registry"


class SizeInvalidError(RegistryError):
    code, http_status, default_message = "SIZE_INVALID", 400, "provided length did not match content length"


class TagInvalidError(RegistryError):
    code, http_status, default_message = "TAG_INVALID", 400, "manifest tag did not match URI"


class TagImmutableError(RegistryError):
    code, http_status, default_message = "TAG_IMMUTABLE", 409, "tag is immutable"


class UnauthorizedError(RegistryError):
    code, http_status, default_message = "UNAUTHORIZED", 401, "authentication required"


class DeniedError(RegistryError):
    code, http_status, default_message = "DENIED", 403, "requested access to the resource is denied"


class UnsupportedError(RegistryError):
    code, http_status, default_message = "UNSUPPORTED", 405, "the operation is unsupported"


class MethodNotAllowedError(UnsupportedError):
    default_message = "method not allowed"


class RangeNotSatisfiableError(RegistryError):
    """A blob Range or an upload Content-Range the server cannot satisfy (416)."""

    code, http_status, default_message = "RANGE_INVALID", 416, "requested range not satisfiable"


class InvalidRequestError(RegistryError):
    code, http_status, default_message = "INVALID_REQUEST", 400, "invalid request"


class RequestBodyTimeoutError(RegistryError):
    """The client stopped sending its request body (``server.body_idle_timeout_s``) or closed the
    connection before its end (408, RFC 9110 §15.5.9); nothing of the body was kept."""

    code, http_status, default_message = "BLOB_UPLOAD_INVALID", 408, "request body not received in time"


class PayloadTooLargeError(RegistryError):
    code, http_status, default_message = "SIZE_INVALID", 413, "payload too large"


class TooManyRequestsError(RegistryError):
    code, http_status, default_message = "TOOMANYREQUESTS", 429, "too many requests"


class NotFoundError(RegistryError):
    """An unknown route under /v2 (the spec has no code for it; Distribution answers NOT_FOUND)."""

    code, http_status, default_message = "NOT_FOUND", 404, "not found"


class UnavailableError(RegistryError):
    """A backend (database, storage) is temporarily unavailable; clients should retry."""

    code, http_status, default_message = "UNAVAILABLE", 503, "service temporarily unavailable"

    def __init__(self, message: str | None = None, detail: Any = None, *, retry_after: int = 5):
        super().__init__(message, detail, headers={"Retry-After": str(retry_after)})


class ConflictError(RegistryError):
    """The request conflicts with the current state (a name in use, something still referenced)."""

    code, http_status, default_message = "CONFLICT", 409, "the request conflicts with the current state"
