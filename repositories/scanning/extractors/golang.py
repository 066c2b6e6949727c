"""Go binaries: the module build info the linker embeds (``runtime/debug.BuildInfo``).

Format (Go's ``debug/buildinfo``): a 32-byte header that starts with the magic
``"\\xff Go buildinf:"`` at a 16-byte aligned offset, then one byte of pointer size and one of
flags. Since Go 1.18 (flag bit 2) the Go version and the module information follow the header
inline as two uvarint-length-prefixed strings; the module string is wrapped in 16 sentinel bytes
on each side. Older binaries keep pointers into the data segment instead; they are reported with
their presence only (no modules).
"""

from __future__ import annotations

from typing import BinaryIO

MAGIC = b"\xff Go buildinf:"
_ALIGN = 16
_HEADER = 32
_FLAG_INLINE = 0x2
_CHUNK = 1024 * 1024
#: the build info strings of a real binary are kilobytes; anything past this is not one
_MAX_INFO = 1024 * 1024


def _uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while offset < len(data):
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad uvarint")


def _strings(data: bytes) -> tuple[str, str] | None:
    """(Go version, module info) from the bytes starting at the header; None if incomplete."""
    if len(data) < _HEADER or not data[15] & _FLAG_INLINE:
        return None
    try:
        length, offset = _uvarint(data, _HEADER)
        version = data[offset:offset + length]
        if offset + length > len(data):
            return None
        mod_length, mod_offset = _uvarint(data, offset + length)
        if mod_offset + mod_length > len(data):
            return None
        module = data[mod_offset:mod_offset + mod_length]
    except ValueError:
        return None
    if len(module) >= 33 and module[-17:-16] == b"\n":
        module = module[16:-16]
    return version.decode("utf-8", "replace"), module.decode("utf-8", "replace")


def parse_build_info(go_version: str, module_info: str) -> list[dict[str, str]]:
    """Records of the main module, its dependencies (after ``=>`` replacements) and the Go
    standard library (``stdlib``, as OSV's Go ecosystem names it)."""
    records: list[dict[str, str]] = []
    for line in module_info.splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            records.append({"name": fields[1], "version": fields[2], "role": "main" if fields[0] == "mod" else "dep"})
        elif fields[0] == "=>" and len(fields) >= 2 and records:
            if len(fields) >= 3 and fields[2] not in ("", "(devel)"):  # replaced by another module version: that one is in the binary
                records[-1] = {**records[-1], "name": fields[1], "version": fields[2], "replaces": records[-1]["name"]}
            else:  # replaced by a local directory: the required version is the best that is known
                records[-1] = {**records[-1], "replaced_by": fields[1]}
    if go_version.startswith("go"):
        records.append({"name": "stdlib", "version": go_version[2:].split()[0].split("-")[0], "role": "stdlib"})
    return [record for record in records if record["version"] and record["version"] != "(devel)" or record.get("role") == "main"]


def scan(handle: BinaryIO, limit: int) -> list[dict[str, str]] | None:
    """Search the first ``limit`` bytes of a binary for the build info, reading it in chunks
    (never whole); the records, or None when it is not a Go binary."""
    buffer = b""
    consumed = 0  # absolute offset of buffer[0]
    while consumed + len(buffer) < limit:
        chunk = handle.read(min(_CHUNK, limit - consumed - len(buffer)))
        if not chunk:
            break
        buffer += chunk
        start = 0
        while True:
            at = buffer.find(MAGIC, start)
            if at < 0:
                break
            if (consumed + at) % _ALIGN == 0:
                return _finish(handle, buffer[at:], limit - consumed - at)
            start = at + 1
        keep = len(MAGIC) - 1
        consumed += len(buffer) - keep
        buffer = buffer[-keep:]
    return None


def _finish(handle: BinaryIO, data: bytes, remaining: int) -> list[dict[str, str]]:
    while len(data) < _HEADER + _MAX_INFO and len(data) < remaining:
        found = _strings(data)
        if found is not None:
            return parse_build_info(*found)
        if len(data) >= _HEADER and not data[15] & _FLAG_INLINE:
            return []  # pre-1.18 pointer format: the strings live elsewhere in the binary
        chunk = handle.read(min(64 * 1024, remaining - len(data)))
        if not chunk:
            break
        data += chunk
    found = _strings(data)
    return parse_build_info(*found) if found is not None else []
