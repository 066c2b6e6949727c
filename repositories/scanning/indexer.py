"""The layer indexer: one streaming pass over a layer's tar, and the image's file system view.

A layer blob is read once, front to back, as a stream: gzip is undone on the fly (zstd too
when a zstd module is installed), a forward-only tar reader walks it (:mod:`.tarstream`), nothing is extracted
to disk and no layer is held in memory. Only the files an extractor wants are read, each up to
its extractor's bound; the rpm database and jars are spooled to a bounded temp file because
SQLite and zip need to seek.

What one layer holds (:class:`LayerContent`) is plain JSON, cached by layer digest (layers are
shared between images). :func:`image_packages` then lays the layers over each other in order,
applying OCI whiteouts (``.wh.<name>`` removes a path of the layers below, ``.wh..wh..opq``
empties a directory of the layers below), so a package database replaced or removed by a later
layer wins.
"""

from __future__ import annotations

import io
import posixpath
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Iterable
from urllib.parse import quote

from repositories.scanning.extractors import JAVA, RPM, Extractor, extractor_for, golang, os_release
from repositories.scanning.extractors.python import canonical_name
from repositories.scanning.tarstream import GzipReader, TarFormatError, TarStream
from repositories.scanning.types import Package

#: bumped whenever what the indexer finds changes: cached layers and scans of an older version
#: are indexed again
INDEXER_VERSION = 1

#: Go binaries larger than this are not searched for build info
MAX_BINARY_BYTES = 512 * 1024 * 1024
_ELF = b"\x7fELF"
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"

#: layer media types that are not tar streams of a file system
_NON_TAR_MARKERS = ("+json", "helm", "wasm", "in-toto", "spdx", "cyclonedx", "sigstore", "cosign")

try:  # zstd layers need a zstd module; without one they are "unsupported", never guessed at
    import zstandard as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    _zstd = None


class LayerUnsupported(Exception):
    """The layer cannot be indexed by this indexer (its compression or format); not retried."""


class LayerDamaged(Exception):
    """The layer's bytes are not a readable (compressed) tar; the scan fails with the reason."""


@dataclass
class LayerContent:
    """What the indexer found in one layer (JSON-able, cached by layer digest)."""

    #: normalised path -> {"kind": extractor kind, "records": [...]} (+ "skipped": reason)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: paths removed from the layers below (``.wh.<name>``)
    whiteouts: list[str] = field(default_factory=list)
    #: directories whose content in the layers below is hidden (``.wh..wh..opq``)
    opaque: list[str] = field(default_factory=list)
    members: int = 0
    bytes_read: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "whiteouts": self.whiteouts, "opaque": self.opaque, "members": self.members}

    @property
    def package_count(self) -> int:
        return sum(len(entry.get("records", [])) for entry in self.entries.values() if entry.get("kind") != "os-release")


class _Prefixed(io.RawIOBase):
    """A stream that yields ``prefix`` then the rest of ``raw`` (to sniff magic bytes of a
    non-seekable stream), counting the bytes read."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        self._prefix, self._raw, self.count = prefix, raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            size = min(len(view), len(self._prefix))
            view[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
        else:
            data = self._raw.read(len(view))
            size = len(data)
            view[:size] = data
        self.count += size
        return size


def _normalise(name: str) -> str:
    path = posixpath.normpath("/" + name).lstrip("/")
    return "" if path == "." else path


def _read_exactly(handle: IO[bytes], prefix: int) -> bytes:
    data = b""
    while len(data) < prefix:
        chunk = handle.read(prefix - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _tar_stream(raw: IO[bytes], media_type: str) -> tuple[TarStream, _Prefixed]:
    """``raw`` (a layer blob) as a forward-only tar reader, whatever its compression."""
    if any(marker in media_type for marker in _NON_TAR_MARKERS):
        raise LayerUnsupported(f"layer media type {media_type} is not a file system tar")
    magic = _read_exactly(raw, 4)
    counted = _Prefixed(magic, raw)
    buffered = io.BufferedReader(counted, 1024 * 1024)
    stream: IO[bytes]
    if magic.startswith(_ZSTD):
        if _zstd is None:
            raise LayerUnsupported("zstd-compressed layer and no zstd module is installed")
        stream = _zstd.ZstdDecompressor().stream_reader(buffered)
    elif magic.startswith(_GZIP):
        stream = GzipReader(buffered)  # type: ignore[assignment]
    elif magic.startswith((b"BZh", b"\xfd7zXZ")):
        raise LayerUnsupported("bzip2/xz-compressed layers are not indexed")
    else:
        stream = buffered
    return TarStream(stream), counted


def _extract(handle: IO[bytes], extractor: Extractor) -> list[dict[str, str]]:
    if not extractor.needs_file:
        return extractor.parse(handle.read(extractor.max_bytes))
    if extractor is RPM:  # SQLite opens a path: a bounded named temp file, removed at once
        with tempfile.NamedTemporaryFile(prefix="moorage-rpmdb-", suffix=".sqlite") as spool:
            shutil.copyfileobj(handle, spool, 1024 * 1024)
            spool.flush()
            return RPM.parse(spool.name)  # type: ignore[arg-type]
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, prefix="moorage-jar-") as spool:
        shutil.copyfileobj(handle, spool, 1024 * 1024)
        spool.seek(0)
        return JAVA.parse(spool)  # type: ignore[arg-type]


def index_layer(raw: IO[bytes], *, media_type: str = "") -> LayerContent:
    """Read one layer blob (an open, possibly compressed, tar stream) once, front to back.

    Raises:
        LayerUnsupported: a compression or format the indexer cannot read (not worth retrying).
        LayerDamaged: the bytes are not a complete, readable tar stream.
    """
    tar, counted = _tar_stream(raw, media_type)
    content = LayerContent()
    try:
        for member in tar:
            content.members += 1
            path = _normalise(member.name)
            if not path:
                continue
            directory, leaf = posixpath.split(path)
            if leaf.startswith(_WHITEOUT):
                if leaf == _OPAQUE:
                    content.opaque.append(directory)
                else:
                    content.whiteouts.append(posixpath.join(directory, leaf[len(_WHITEOUT):]))
                continue
            if member.issym() and path in ("etc/os-release", "usr/lib/os-release"):
                content.entries[path] = {"kind": "os-release", "records": [], "link": member.linkname}
                continue
            if not member.isreg():
                continue
            extractor = extractor_for(path)
            if extractor is not None:
                if member.size > extractor.max_bytes:
                    content.entries[path] = {"kind": extractor.kind, "records": [], "skipped": f"larger than {extractor.max_bytes} bytes"}
                    continue
                content.entries[path] = {"kind": extractor.kind, "records": _extract(tar.open(), extractor)}  # type: ignore[arg-type]
            elif member.mode & 0o111 and 1024 <= member.size <= MAX_BINARY_BYTES:
                handle = tar.open()
                head = _read_exactly(handle, 4)  # type: ignore[arg-type]
                if head != _ELF:
                    continue
                records = golang.scan(_BufferedPrefix(head, handle), member.size)  # type: ignore[arg-type]
                if records:
                    content.entries[path] = {"kind": "go", "records": records}
    except (TarFormatError, OSError, EOFError, zlib.error) as exc:
        raise LayerDamaged(f"layer stream broke off after {content.members} entries: {exc}") from exc
    content.bytes_read = counted.count
    return content


class _BufferedPrefix:
    """``read(n)`` over ``prefix`` + ``handle`` (for the Go scanner after the ELF sniff)."""

    def __init__(self, prefix: bytes, handle: IO[bytes]) -> None:
        self._prefix, self._handle = prefix, handle

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data + (self._handle.read(size - len(data)) if size > len(data) else b"")
        return self._handle.read(size)


# --- the image view ------------------------------------------------------------------------
@dataclass(frozen=True)
class ImagePackages:
    """The packages of an image (in its final file system view), each with the layer that
    added it, and the distribution release found in ``/etc/os-release``."""

    packages: tuple[tuple[Package, str], ...]
    release: dict[str, str]
    distro: str


def _remove_under(view: dict[str, Any], prefix: str, *, include_self: bool) -> None:
    if prefix == "":
        view.clear()
        return
    for path in [p for p in view if p.startswith(prefix + "/") or (include_self and p == prefix)]:
        del view[path]


def file_view(layers: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """path -> (layer digest, entry) of the interesting files left after laying ``layers``
    (``(digest, LayerContent.as_json())`` bottom first) over each other."""
    view: dict[str, tuple[str, dict[str, Any]]] = {}
    for digest, content in layers:
        # a layer's whiteouts hide what the layers *below* hold, never its own files
        for path in content.get("whiteouts", []):
            _remove_under(view, path, include_self=True)
        for directory in content.get("opaque", []):
            _remove_under(view, directory, include_self=False)
        for path, entry in content.get("entries", {}).items():
            view[path] = (digest, entry)
    return view


def _purl(kind: str, namespace: str, name: str, version: str, qualifiers: dict[str, str] | None = None) -> str:
    segments = [*(namespace.split("/") if namespace else []), name]
    path = "/".join(quote(part, safe="") for part in segments if part)
    result = f"pkg:{kind}/{path}@{quote(version, safe='+~')}"
    wanted = {key: value for key, value in (qualifiers or {}).items() if value}
    if wanted:
        result += "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in sorted(wanted.items()))
    return result


def _package(kind: str, record: dict[str, str], path: str, release: dict[str, str]) -> Package | None:
    name, version = record.get("name", ""), record.get("version", "")
    if not name or not version:
        return None
    distro_id = (release.get("ID") or "").lower()
    distro_q = os_release.purl_distro(release)
    if kind == "dpkg":
        ecosystem = os_release.ecosystem(release, "Debian")
        purl = _purl("deb", distro_id or "debian", name, version, {"arch": record.get("arch", ""), "distro": distro_q})
        return Package(name, version, ecosystem, record.get("source_name", name), path, purl, record.get("license", ""))
    if kind == "apk":
        ecosystem = os_release.ecosystem(release, "Alpine")
        purl = _purl("apk", distro_id or "alpine", name, version, {"arch": record.get("arch", ""), "distro": distro_q})
        return Package(name, version, ecosystem, record.get("source_name", name), path, purl, record.get("license", ""))
    if kind == "rpm":
        ecosystem = os_release.ecosystem(release, "Red Hat")
        plain = version.split(":", 1)[1] if record.get("epoch") else version
        purl = _purl("rpm", distro_id or "redhat", name, plain, {"arch": record.get("arch", ""), "epoch": record.get("epoch", ""), "distro": distro_q})
        return Package(name, version, ecosystem, record.get("source_name", name), path, purl, record.get("license", ""))
    if kind == "python":
        return Package(name, version, "PyPI", "", path, _purl("pypi", "", canonical_name(name), version), record.get("license", ""))
    if kind == "npm":
        scope, _, bare = name.rpartition("/")
        return Package(name, version, "npm", "", path, _purl("npm", scope, bare, version), record.get("license", ""))
    if kind == "go":
        namespace, _, bare = name.rpartition("/")
        return Package(name, version, "Go", "", path, _purl("golang", namespace, bare, version))
    if kind == "maven":
        group, artifact = record.get("group", ""), record.get("artifact", "")
        where = f"{path}!{record['nested']}" if record.get("nested") else path
        return Package(name, version, "Maven", "", where, _purl("maven", group, artifact, version))
    return None


def image_packages(layers: Iterable[tuple[str, dict[str, Any]]]) -> ImagePackages:
    """The packages of the image made of ``layers`` (bottom first), after whiteouts."""
    view = file_view(layers)
    release: dict[str, str] = {}
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        found = view.get(candidate)
        if found and found[1].get("records"):
            release = found[1]["records"][0]
            break
    seen: set[tuple[str, str, str, str]] = set()
    packages: list[tuple[Package, str]] = []
    for path in sorted(view):
        digest, entry = view[path]
        kind = entry.get("kind", "")
        if kind == "os-release":
            continue
        for record in entry.get("records", []):
            package = _package(kind, record, "/" + path, release)
            if package is None:
                continue
            key = (package.ecosystem, package.name, package.version, package.path)
            if key not in seen:
                seen.add(key)
                packages.append((package, digest))
    distro = os_release.ecosystem(release, "") if release else ""
    return ImagePackages(tuple(packages), release, distro)
