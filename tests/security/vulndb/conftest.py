"""Fixtures for the vulnerability-database tests: this machine's own installed packages (the dpkg
status file, the Python distributions of the running interpreter) and OSV records written for
exactly those versions, as a folder or a zip archive."""

from __future__ import annotations

import json
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from repositories.scanning.types import Package

DPKG_STATUS = Path("/var/lib/dpkg/status")
#: packages present on every Debian machine, one with a Source: field that differs (libssl3 ->
#: openssl) and one with an epoch (zlib1g)
DPKG_NAMES = ("bash", "coreutils", "libssl3", "zlib1g")
PYTHON_NAMES = ("Django", "PyYAML", "packaging")


def os_release() -> dict[str, str]:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value.strip().strip('"')
    return values


def read_dpkg_status(names: tuple[str, ...] = DPKG_NAMES) -> dict[str, Package]:
    """The named packages of this machine's dpkg status file, as the indexer reports them."""
    release = os_release()
    ecosystem = f"{release.get('NAME', 'Debian').split()[0]}:{release.get('VERSION_ID', '')}"
    found: dict[str, Package] = {}
    for paragraph in DPKG_STATUS.read_text(errors="replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name = fields.get("Package")
        if name in names and "installed" in fields.get("Status", "").split():
            source = fields.get("Source", name).split(" ")[0]
            found[name] = Package(name=name, version=fields["Version"], ecosystem=ecosystem, source_name=source,
                                  path="var/lib/dpkg/status", purl=f"pkg:deb/debian/{name}@{fields['Version']}")
    return found


@pytest.fixture
def dpkg_packages() -> dict[str, Package]:
    if not DPKG_STATUS.exists():
        pytest.skip("no dpkg status file on this machine")
    found = read_dpkg_status()
    if not found.get("bash") or not found.get("libssl3"):
        pytest.skip("bash/libssl3 are not installed here")
    return found


@pytest.fixture
def python_packages() -> dict[str, Package]:
    found = {}
    for name in PYTHON_NAMES:
        dist = metadata.distribution(name)
        found[name] = Package(name=dist.metadata["Name"], version=dist.version, ecosystem="PyPI",
                              path=f"site-packages/{name}.dist-info/METADATA", license=dist.metadata.get("License-Expression") or "")
    return found


def osv_record(osv_id: str, ecosystem: str, name: str, events: list[dict[str, str]] | None = None, *,
               modified: str = "2026-01-01T00:00:00Z", versions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"schema_version": "1.6.0", "id": osv_id, "modified": modified, "affected": [affected], **extra}


def write_folder(folder: Path, records: list[dict[str, Any]]) -> Path:
    """One JSON file per record, spread over nested folders (the import searches recursively)."""
    for i, record in enumerate(records):
        target = folder / f"part{i % 3}" / ("deep" if i % 2 else "") / f"{record['id']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))
    return folder


def write_zip(path: Path, records: list[dict[str, Any]], extra_members: dict[str, bytes] | None = None) -> Path:
    """An archive laid out like OSV's ``<Ecosystem>/all.zip``: one ``<id>.json`` member per record."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
        for name, data in (extra_members or {}).items():
            archive.writestr(name, data)
    return path
