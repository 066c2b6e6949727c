"""A forward-only tar reader over a (decompressed) byte stream.

``tarfile``'s stream mode parses each header through several layers of Python and copies its
buffer on every small read; an image layer has tens of thousands of members, most of which the
indexer skips. This reader parses the ustar header block directly (POSIX.1-2001 pax extended
headers and GNU long names included), hands out a bounded reader for the current member's
data, and skips the rest by reading it in large chunks. It never seeks, so any stream works.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import IO, Iterator

BLOCK = 512
_SKIP_CHUNK = 1024 * 1024
_REGULAR, _HARDLINK, _SYMLINK, _DIRECTORY = (b"0", b"\0", b"7"), b"1", b"2", b"5"
#: pax and GNU long-name records larger than this are not names (a hostile layer)
_MAX_META = 1024 * 1024


class TarFormatError(ValueError):
    """The stream is not a well-formed tar archive."""


@dataclass
class Member:
    name: str
    size: int
    mode: int
    kind: bytes
    linkname: str = ""

    def isreg(self) -> bool:
        return self.kind in _REGULAR

    def issym(self) -> bool:
        return self.kind == _SYMLINK

    def islnk(self) -> bool:
        return self.kind == _HARDLINK

    def isdir(self) -> bool:
        return self.kind == _DIRECTORY


def _number(field: bytes) -> int:
    if field[:1] in (b"\x80", b"\xff"):  # GNU base-256 for sizes past 8 GiB
        value = int.from_bytes(field[1:], "big")
        return -value if field[:1] == b"\xff" else value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) if text else 0
    except ValueError as exc:
        raise TarFormatError(f"bad octal number {text[:20]!r} in a tar header") from exc


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """``"<length> <key>=<value>\\n"`` records."""
    values: dict[str, str] = {}
    offset = 0
    while offset < len(data):
        space = data.find(b" ", offset)
        if space < 0:
            break
        try:
            length = int(data[offset:space])
        except ValueError as exc:
            raise TarFormatError("bad pax record length") from exc
        if length <= 0:
            break
        record = data[space + 1:offset + length - 1]
        key, _, value = record.partition(b"=")
        values[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        offset += length
    return values


class _MemberReader:
    """``read(n)`` of the current member's data, never past its end."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream, self.remaining = stream, size

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        wanted = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.read(wanted)
        if len(data) < wanted and not data:
            raise TarFormatError("tar stream ends inside a member")
        self.remaining -= len(data)
        return data

    def readable(self) -> bool:
        return True


class TarStream:
    """Iterate members of the tar in ``stream``; read the current one with :meth:`open`."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._current: _MemberReader | None = None
        self._padding = 0

    def _read_block(self) -> bytes:
        data = self._stream.read(BLOCK)
        while data and len(data) < BLOCK:
            more = self._stream.read(BLOCK - len(data))
            if not more:
                break
            data += more
        return data

    def _skip(self, count: int) -> None:
        while count > 0:
            data = self._stream.read(min(count, _SKIP_CHUNK))
            if not data:
                raise TarFormatError("tar stream ends inside a member")
            count -= len(data)

    def _finish_current(self) -> None:
        if self._current is not None:
            self._skip(self._current.remaining)
            self._current = None
        self._skip(self._padding)
        self._padding = 0

    def _read_data(self, size: int) -> bytes:
        if size > _MAX_META:
            raise TarFormatError("oversized tar metadata record")
        data = b""
        while len(data) < size:
            chunk = self._stream.read(size - len(data))
            if not chunk:
                raise TarFormatError("tar stream ends inside a metadata record")
            data += chunk
        self._skip(-size % BLOCK)
        return data

    def open(self) -> _MemberReader:
        """The data of the member last yielded (read before asking for the next member)."""
        if self._current is None:
            raise TarFormatError("no current member")
        return self._current

    def __iter__(self) -> Iterator[Member]:
        pax: dict[str, str] = {}
        global_pax: dict[str, str] = {}
        long_name = long_link = None
        while True:
            self._finish_current()
            header = self._read_block()
            if not header or header == b"\0" * BLOCK:
                return  # end-of-archive marker (or a stream without one)
            if len(header) < BLOCK:
                raise TarFormatError("truncated tar header")
            checksum = _number(header[148:156])
            computed = sum(header[:148]) + 256 + sum(header[156:])
            if checksum != computed:
                raise TarFormatError("tar header checksum mismatch")
            kind = header[156:157]
            size = _number(header[124:136])
            if size < 0:
                raise TarFormatError("negative member size")
            if kind in (b"x", b"g"):
                values = _pax(self._read_data(size))
                (pax if kind == b"x" else global_pax).update(values)
                continue
            if kind in (b"L", b"K"):
                value = self._read_data(size).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                if kind == b"L":
                    long_name = value
                else:
                    long_link = value
                continue
            name = _text(header[0:100])
            if header[257:262] == b"ustar":
                prefix = _text(header[345:500])
                if prefix and header[257:263] == b"ustar\0":  # POSIX prefix (not GNU's old format)
                    name = f"{prefix}/{name}"
            merged = {**global_pax, **pax}
            name = long_name or merged.get("path") or name
            linkname = long_link or merged.get("linkpath") or _text(header[157:257])
            if "size" in merged:
                try:
                    size = int(merged["size"])
                except ValueError as exc:
                    raise TarFormatError("bad pax size") from exc
            pax, long_name, long_link = {}, None, None
            member = Member(name=name, size=size, mode=_number(header[100:108]), kind=kind, linkname=linkname)
            data_size = size if kind not in (_HARDLINK, _SYMLINK, _DIRECTORY) else 0
            self._current = _MemberReader(self._stream, data_size)
            self._padding = -data_size % BLOCK
            yield member


class GzipReader:
    """A gzip (possibly multi-member) stream decompressed on the fly, never more than ``chunk``
    bytes of output at a time (a decompression bomb cannot blow up memory)."""

    def __init__(self, raw: IO[bytes], chunk: int = 1024 * 1024) -> None:
        self._raw, self._chunk = raw, chunk
        self._decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._input = b""
        self._buffer = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._done:
            decompressor = self._decompressor
            if decompressor.eof:
                rest = decompressor.unused_data or self._raw.read(self._chunk)
                if rest[:2] != b"\x1f\x8b":
                    self._done = True  # the end (trailing zero padding is ignored)
                    return
                self._decompressor, self._input = zlib.decompressobj(zlib.MAX_WBITS | 16), rest
                continue
            data = decompressor.unconsumed_tail or self._input or self._raw.read(self._chunk)
            self._input = b""
            if not data:
                raise TarFormatError("gzip stream is truncated")
            try:
                out = decompressor.decompress(data, self._chunk)
            except zlib.error as exc:
                raise TarFormatError(f"bad gzip data: {exc}") from exc
            if out:
                self._buffer, self._pos = out, 0
                return

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise ValueError("GzipReader reads bounded amounts only")
        out = []
        while size > 0:
            if self._pos >= len(self._buffer):
                self._fill()
                if self._pos >= len(self._buffer):
                    break
            piece = self._buffer[self._pos:self._pos + size]
            self._pos += len(piece)
            size -= len(piece)
            out.append(piece)
        return out[0] if len(out) == 1 else b"".join(out)
