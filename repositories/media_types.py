"""Manifest media types and parsing of manifest bodies (pure functions, no database)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from common.errors import ManifestInvalidError, RegistryError
from common.grammar import parse_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES

OCI_EMPTY_JSON = "application/vnd.oci.empty.v1+json"
EMPTY_JSON_BYTES = b"{}"
EMPTY_JSON_DIGEST = "sha256:" + hashlib.sha256(EMPTY_JSON_BYTES).hexdigest()

#: Layers clients must not expect the registry to hold (they are fetched from ``urls``).
_FOREIGN_LAYER_PREFIXES = (
    "application/vnd.oci.image.layer.nondistributable.",
    "application/vnd.docker.image.rootfs.foreign.",
)


class UnsupportedMediaTypeError(RegistryError):
    code, http_status, default_message = "MANIFEST_INVALID", 415, "unsupported manifest media type"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    data: bytes | None = None
    urls: tuple[str, ...] = ()
    platform: dict[str, Any] | None = None
    artifact_type: str = ""
    annotations: dict[str, str] | None = None

    @property
    def is_foreign(self) -> bool:
        """Non-distributable layers need not be in the registry."""
        return self.media_type.startswith(_FOREIGN_LAYER_PREFIXES)


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    raw: bytes
    digest: str
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    artifact_type: str = ""
    annotations: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def config_media_type(self) -> str:
        return self.config.media_type if self.config else ""

    @property
    def effective_artifact_type(self) -> str:
        """What the referrers API reports: ``artifactType``, else the config's media type."""
        return self.artifact_type or self.config_media_type


def compute_digest(raw: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}"


def _invalid(message: str, **detail: Any) -> ManifestInvalidError:
    return ManifestInvalidError(message, detail=detail or None)


#: RFC 6838 caps type and subtype names at 127 characters each.
MAX_MEDIA_TYPE_LENGTH = 255


def _check_media_type(value: str, where: str) -> None:
    """Media types end up in database columns: bounded, printable (no NUL, no lone surrogate)."""
    if len(value) > MAX_MEDIA_TYPE_LENGTH or not value.isprintable():
        raise _invalid(f"{where} is not a valid media type", value=value[:300].encode("utf-8", "backslashreplace").decode())


def _storable(text: str) -> bool:
    """JSON strings may hold NUL and lone surrogates; databases (PostgreSQL jsonb) refuse both."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}.mediaType is required")
    _check_media_type(media_type, f"{where}.mediaType")
    if not isinstance(digest, str):
        raise _invalid(f"{where}.digest is required")
    try:
        parse_digest(digest)
    except RegistryError:
        raise _invalid(f"{where}.digest is not a valid digest", digest=digest[:200]) from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}.size must be a non-negative integer")
    data = None
    if "data" in value:
        if not isinstance(value["data"], str):
            raise _invalid(f"{where}.data must be base64")
        try:
            data = base64.b64decode(value["data"], validate=True)
        except ValueError:
            raise _invalid(f"{where}.data is not valid base64") from None
        algorithm = digest.partition(":")[0]
        if len(data) != size or compute_digest(data, algorithm) != digest:
            raise _invalid(f"{where}.data does not match its digest and size", digest=digest)
    urls = value.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise _invalid(f"{where}.urls must be a list of strings")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise _invalid(f"{where}.platform must be an object")
    annotations = value.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise _invalid(f"{where}.annotations must be an object")
    artifact_type = value.get("artifactType", "")
    if not isinstance(artifact_type, str):
        raise _invalid(f"{where}.artifactType must be a string")
    _check_media_type(artifact_type, f"{where}.artifactType")
    return Descriptor(media_type, digest, size, data, tuple(urls), platform, artifact_type, annotations)


def parse_manifest(raw: bytes, content_type: str, digest_algorithm: str = "sha256") -> ParsedManifest:
    """Validate a manifest body; raise MANIFEST_INVALID (400) or unsupported type (415).

    The media type comes from the body's ``mediaType``; ``Content-Type`` must agree with it.
    OCI manifests may omit ``mediaType``, in which case ``Content-Type`` decides.
    """
    content_type = (content_type or "").split(";")[0].strip().lower()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        raise _invalid("manifest is nested too deeply") from None
    if not isinstance(body, dict):
        raise _invalid("manifest must be a JSON object")

    declared = body.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    if declared and content_type and content_type not in (declared, "application/json"):
        raise _invalid("Content-Type does not match the manifest's mediaType", content_type=content_type, media_type=declared)
    media_type = declared or content_type
    if not media_type or media_type == "application/json":
        # Neither says: infer from the shape, as the image spec suggests.
        media_type = OCI_INDEX if "manifests" in body else OCI_MANIFEST
    if media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
        raise UnsupportedMediaTypeError("Docker schema 1 manifests are not supported; push with schema 2 or OCI", detail={"mediaType": media_type})
    if media_type not in MANIFEST_TYPES:
        raise UnsupportedMediaTypeError(detail={"mediaType": media_type[:200]})

    if body.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    digest = compute_digest(raw, digest_algorithm)

    subject = _descriptor(body["subject"], "subject") if body.get("subject") is not None else None
    annotations = body.get("annotations")
    if annotations is not None and (not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values())):
        raise _invalid("annotations must be an object of strings")
    if annotations and not all(_storable(k) and _storable(v) for k, v in annotations.items()):
        raise _invalid("annotations must not contain NUL characters or unpaired surrogates")
    artifact_type = body.get("artifactType", "")
    if not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    _check_media_type(artifact_type, "artifactType")

    if media_type in INDEX_TYPES:
        manifests = body.get("manifests")
        if not isinstance(manifests, list):
            raise _invalid("manifests must be a list")
        children = tuple(_descriptor(m, f"manifests[{i}]") for i, m in enumerate(manifests))
        return ParsedManifest(media_type, raw, digest, children=children, subject=subject, artifact_type=artifact_type, annotations=annotations)

    if "config" not in body:
        raise _invalid("config is required")
    config = _descriptor(body["config"], "config")
    layers_value = body.get("layers")
    if layers_value is None and media_type == OCI_MANIFEST:
        raise _invalid("layers is required")
    if not isinstance(layers_value, list):
        raise _invalid("layers must be a list")
    layers = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers_value))
    return ParsedManifest(
        media_type, raw, digest, config=config, layers=layers, subject=subject, artifact_type=artifact_type, annotations=annotations
    )


def platform_matches(platform: dict[str, Any] | None, os_name: str, architecture: str) -> bool:
    return bool(platform) and platform.get("os") == os_name and platform.get("architecture") == architecture
