"""The OCI distribution grammar: repository names, tags, digests and Content-Range."""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.errors import DigestInvalidError, NameInvalidError, TagInvalidError

# distribution-spec: <name> components joined by '/', each [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
# \Z, not $: "$" also matches before a trailing newline, which would let "latest\n" through.
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
MAX_NAME_LENGTH = 255

#: algorithm -> length of its lowercase hex encoding
SUPPORTED_DIGEST_ALGORITHMS = {"sha256": 64, "sha512": 128}

DEFAULT_NAMESPACE = "library"


def validate_repository_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else raise NAME_INVALID."""
    if not name or len(name) > MAX_NAME_LENGTH or not NAME_RE.match(name):
        raise NameInvalidError(detail={"name": name[:300]})
    return name


def split_repository_name(name: str) -> tuple[str, str]:
    """Split a full name into (namespace, repository path).

    A name without a namespace lives in ``library`` (as on Docker Hub and Quay).
    """
    validate_repository_name(name)
    if "/" not in name:
        if len(DEFAULT_NAMESPACE) + 1 + len(name) > MAX_NAME_LENGTH:  # the stored full name must fit too
            raise NameInvalidError(
                f"name is too long to live in {DEFAULT_NAMESPACE}/", detail={"name": name, "max_length": MAX_NAME_LENGTH - len(DEFAULT_NAMESPACE) - 1}
            )
        return DEFAULT_NAMESPACE, name
    namespace, _, rest = name.partition("/")
    return namespace, rest


def validate_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise TagInvalidError("invalid tag", detail={"tag": tag[:200]})
    return tag


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def parse_digest(value: str) -> Digest:
    """Parse and validate a digest string; raise DIGEST_INVALID for a bad or unsupported one."""
    if not value or len(value) > 300 or not DIGEST_RE.match(value):
        raise DigestInvalidError("invalid digest", detail={"digest": (value or "")[:300]})
    algorithm, _, encoded = value.partition(":")
    expected_length = SUPPORTED_DIGEST_ALGORITHMS.get(algorithm)
    if expected_length is None:
        raise DigestInvalidError(
            f"unsupported digest algorithm {algorithm!r}", detail={"digest": value, "supported": sorted(SUPPORTED_DIGEST_ALGORITHMS)}
        )
    if len(encoded) != expected_length or not all(c in "0123456789abcdef" for c in encoded):
        raise DigestInvalidError("invalid digest encoding", detail={"digest": value})
    return Digest(algorithm, encoded)


def is_digest_reference(reference: str) -> bool:
    """True when a manifest reference looks like a digest rather than a tag."""
    return ":" in reference


_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(\d{1,19}|\*))?\Z", re.ASCII)


def parse_content_range(value: str) -> tuple[int, int] | None:
    """Parse an upload ``Content-Range: <start>-<end>`` (inclusive). None when malformed."""
    match = _CONTENT_RANGE_RE.match(value.strip())
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        return None
    total = match.group(3)
    if total and total != "*" and int(total) <= end:
        return None  # RFC 9110: a complete length must exceed the last byte position
    return start, end


_RANGE_RE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})\Z", re.ASCII)


def parse_byte_range(value: str, size: int) -> tuple[int, int] | None:
    """Parse a single-range ``Range: bytes=a-b`` request header against a blob of ``size`` bytes.

    Returns the inclusive (start, end) to serve, or None when the range is unsatisfiable or
    malformed. Multi-range requests are treated as unsatisfiable, which RFC 9110 allows.
    """
    match = _RANGE_RE.match(value.strip())
    if not match:
        return None
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return None
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)
