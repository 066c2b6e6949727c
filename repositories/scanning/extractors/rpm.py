"""The rpm database of current RHEL, Fedora, Rocky and Alma (``rpmdb.sqlite``).

Each row of its ``Packages`` table is one package's header blob in rpm's header format
(rpm.org "RPM Package Header format"): a big-endian ``il`` (index entries) and ``dl`` (data
bytes), ``il`` 16-byte entries ``(tag, type, offset, count)``, then the data store; strings are
NUL-terminated at their offset. The blob in the database has no leading header magic.
"""

from __future__ import annotations

import sqlite3
import struct

NAME, VERSION, RELEASE, EPOCH, LICENSE, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1014, 1022, 1044
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
#: a header larger than this is not a package header (rpm itself caps headers at 256 MB; real
#: ones are kilobytes)
_MAX_INDEX_ENTRIES = 100_000


class HeaderError(ValueError):
    """The blob is not a well-formed rpm header."""


def header_fields(blob: bytes, wanted: frozenset[int] = frozenset({NAME, VERSION, RELEASE, EPOCH, LICENSE, ARCH, SOURCERPM})) -> dict[int, str | int]:
    """The ``wanted`` tags of one header blob: strings, or an int for INT32 tags."""
    if len(blob) < 8:
        raise HeaderError("header shorter than its preamble")
    entries, data_length = struct.unpack_from(">iI", blob, 0)
    if entries < 0 or entries > _MAX_INDEX_ENTRIES:
        raise HeaderError(f"implausible index entry count {entries}")
    data_start = 8 + 16 * entries
    if data_start + data_length > len(blob):
        raise HeaderError("header data runs past the blob")
    store = blob[data_start:data_start + data_length]
    result: dict[int, str | int] = {}
    for index in range(entries):
        tag, kind, offset, count = struct.unpack_from(">iIiI", blob, 8 + 16 * index)
        if tag not in wanted or offset < 0 or offset >= len(store):
            continue
        if kind == _INT32 and count >= 1 and offset + 4 <= len(store):
            result[tag] = struct.unpack_from(">i", store, offset)[0]
        elif kind in (_STRING, _STRING_ARRAY, _I18NSTRING):
            end = store.find(b"\0", offset)
            result[tag] = store[offset:end if end >= 0 else len(store)].decode("utf-8", "replace")
    return result


def source_name(source_rpm: str) -> str:
    """``openssl-3.0.7-24.el9.src.rpm`` -> ``openssl`` (name-version-release.src.rpm)."""
    stem = source_rpm.removesuffix(".rpm").rsplit(".", 1)[0]  # drop ``.src``/``.nosrc``
    parts = stem.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else ""


def record(fields: dict[int, str | int]) -> dict[str, str] | None:
    """A package record of one header's fields; None for rpm's ``gpg-pubkey`` pseudo packages."""
    name = str(fields.get(NAME, ""))
    if not name or name == "gpg-pubkey" or VERSION not in fields:
        return None
    version = f"{fields[VERSION]}-{fields[RELEASE]}" if fields.get(RELEASE) else str(fields[VERSION])
    epoch = fields.get(EPOCH)
    result = {
        "name": name, "version": f"{epoch}:{version}" if epoch else version,
        "source_name": source_name(str(fields.get(SOURCERPM, ""))) or name,
        "license": str(fields.get(LICENSE, "")), "arch": str(fields.get(ARCH, "")),
    }
    if epoch:
        result["epoch"] = str(epoch)
    return result


def parse_path(path: str) -> list[dict[str, str]]:
    """Packages of the SQLite rpmdb at ``path`` (opened read-only, never written)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        rows = connection.execute("SELECT blob FROM Packages")
        records = []
        for (blob,) in rows:
            try:
                found = record(header_fields(bytes(blob)))
            except (HeaderError, struct.error):
                continue  # one damaged header does not hide the others
            if found is not None:
                records.append(found)
        return records
    finally:
        connection.close()
