"""Package extractors: which files of a layer the indexer reads, and what they hold.

Each extractor turns the bytes of one file into raw package records (plain dicts, so a layer's
result can be cached as JSON). Records of distribution packages carry no ecosystem: the release
comes from ``/etc/os-release``, which may sit in another layer, so the image view
(:mod:`repositories.scanning.indexer`) completes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from repositories.scanning.extractors import apk, dpkg, java, npm, os_release, python, rpm

#: what an extractor returns: raw records, each with at least ``name`` and ``version``
Records = list[dict[str, str]]


@dataclass(frozen=True)
class Extractor:
    """How one kind of file is read: the most bytes read, and the parser."""

    kind: str
    max_bytes: int
    parse: Callable[[bytes], Records]
    #: the parser needs a real file (the rpm SQLite database); spooled to a bounded temp file
    needs_file: bool = False


OS_RELEASE = Extractor("os-release", 64 * 1024, os_release.parse)
DPKG = Extractor("dpkg", 64 * 1024 * 1024, dpkg.parse)
APK = Extractor("apk", 64 * 1024 * 1024, apk.parse)
RPM = Extractor("rpm", 512 * 1024 * 1024, rpm.parse_path, needs_file=True)
PYTHON = Extractor("python", 256 * 1024, python.parse)
NPM = Extractor("npm", 1024 * 1024, npm.parse)
JAVA = Extractor("maven", 256 * 1024 * 1024, java.parse_path, needs_file=True)


def extractor_for(path: str) -> Extractor | None:
    """The extractor of the file at ``path`` (normalised: no leading ``/`` or ``./``), if any."""
    if path in ("etc/os-release", "usr/lib/os-release"):
        return OS_RELEASE
    if path == "var/lib/dpkg/status":
        return DPKG
    if path.startswith("var/lib/dpkg/status.d/"):
        leaf = path[len("var/lib/dpkg/status.d/"):]
        # distroless keeps one stanza file per package, next to ``<name>.md5sums``
        return DPKG if leaf and "/" not in leaf and not leaf.endswith(".md5sums") else None
    if path == "lib/apk/db/installed":
        return APK
    if path in ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"):
        return RPM
    parts = path.split("/")
    leaf = parts[-1]
    if len(parts) >= 2 and ((leaf == "METADATA" and parts[-2].endswith(".dist-info")) or (leaf == "PKG-INFO" and parts[-2].endswith(".egg-info"))):
        return PYTHON
    if leaf.endswith(".egg-info") and ("site-packages" in parts or "dist-packages" in parts):
        return PYTHON  # an egg-info written as a single file holds the PKG-INFO text itself
    if leaf == "package.json" and len(parts) >= 3:
        if parts[-3] == "node_modules" and not parts[-2].startswith("@"):
            return NPM
        if len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@"):
            return NPM
        return None
    if leaf.endswith((".jar", ".war", ".ear")):
        return JAVA
    return None


__all__ = ["Extractor", "Records", "extractor_for", "OS_RELEASE", "DPKG", "APK", "RPM", "PYTHON", "NPM", "JAVA"]
