"""Python distributions: ``*.dist-info/METADATA`` and ``*.egg-info/PKG-INFO`` (core metadata,
an RFC 822 header block; only the headers are read)."""

from __future__ import annotations

import re


def canonical_name(name: str) -> str:
    """PEP 503 normalisation (``Foo_Bar.baz`` -> ``foo-bar-baz``), as purls and PyPI use it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(data: bytes) -> list[dict[str, str]]:
    """The distribution's ``Name``, ``Version`` and licence (``License-Expression``, else a
    one-line ``License``)."""
    headers: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break  # the description body follows the headers
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep and key not in headers:
            headers[key] = value.strip()
    name, version = headers.get("Name", ""), headers.get("Version", "")
    if not name or not version:
        return []
    license_ = headers.get("License-Expression") or headers.get("License", "")
    if license_ in ("UNKNOWN",) or len(license_) > 200:
        license_ = ""  # a whole licence text pasted into the header says nothing useful here
    return [{"name": name, "version": version, "license": license_}]
