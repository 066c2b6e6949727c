"""Java archives: ``META-INF/maven/<group>/<artifact>/pom.properties`` in a jar (a zip file),
and in the jars a jar carries (Spring Boot's ``BOOT-INF/lib``, a war's ``WEB-INF/lib``), one level
deep."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from typing import IO

#: a nested jar larger than this is skipped (it is spooled to a temp file to be opened)
MAX_NESTED_BYTES = 64 * 1024 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024


def _properties(data: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        for separator in ("=", ":"):
            if separator in line:
                key, _, value = line.partition(separator)
                values[key.strip()] = value.strip()
                break
    return values


def _from_zip(archive: zipfile.ZipFile, depth: int) -> list[dict[str, str]]:
    records = []
    for info in archive.infolist():
        name = info.filename
        if name.startswith("META-INF/maven/") and name.endswith("/pom.properties") and info.file_size <= 64 * 1024:
            values = _properties(archive.read(info))
            group, artifact, version = values.get("groupId", ""), values.get("artifactId", ""), values.get("version", "")
            if group and artifact and version:
                records.append({"name": f"{group}:{artifact}", "version": version, "group": group, "artifact": artifact})
        elif depth == 0 and name.endswith(".jar") and 0 < info.file_size <= MAX_NESTED_BYTES:
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
                with archive.open(info) as member:
                    shutil.copyfileobj(member, spool, 1024 * 1024)
                spool.seek(0)
                try:
                    with zipfile.ZipFile(spool) as nested:
                        records.extend(dict(found, nested=name) for found in _from_zip(nested, depth + 1))
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
                    continue
    return records


def parse_path(path: str | IO[bytes]) -> list[dict[str, str]]:
    """The Maven artifacts a jar (a path or a seekable file) says it holds."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _from_zip(archive, 0)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        return []
