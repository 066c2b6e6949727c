"""dpkg's status database (``/var/lib/dpkg/status``, distroless ``status.d/*``): deb822 stanzas."""

from __future__ import annotations

import re

_SOURCE_RE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?")


def stanzas(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs as dicts (continuation lines are folded into their field)."""
    result: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                result.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t":
            if last:
                current[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        current[last] = value.strip()
    if current:
        result.append(current)
    return result


def parse(data: bytes) -> list[dict[str, str]]:
    """Installed packages: ``name``, ``version``, ``source_name`` (+ ``source_version`` when the
    source was built at another version), ``arch``. Packages only half there (removed with their
    configuration kept, half-installed) are left out."""
    records = []
    for stanza in stanzas(data.decode("utf-8", "replace")):
        name, version = stanza.get("Package", ""), stanza.get("Version", "")
        if not name or not version:
            continue
        status = stanza.get("Status", "install ok installed").split()
        if len(status) == 3 and status[2] not in ("installed", "triggers-pending", "triggers-awaited"):
            continue
        record = {"name": name, "version": version, "source_name": name, "arch": stanza.get("Architecture", "")}
        match = _SOURCE_RE.match(stanza.get("Source", ""))
        if match:
            record["source_name"] = match.group("name")
            if match.group("version"):
                record["source_version"] = match.group("version")
        records.append(record)
    return records
