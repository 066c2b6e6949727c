"""The values that pass between the indexer, the matcher and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field

#: ecosystems as OSV names them; a distribution package's ``ecosystem`` is the OSV distribution
#: ecosystem with its release, as OSV writes it ("Debian:12", "Ubuntu:22.04", "Alpine:v3.19",
#: "Rocky Linux:9", "AlmaLinux:9", "Red Hat:9" ...); language packages use "PyPI", "npm", "Go", "Maven".
LANGUAGE_ECOSYSTEMS = ("PyPI", "npm", "Go", "Maven")


@dataclass(frozen=True)
class Package:
    """One installed package found in an image."""

    name: str
    version: str
    #: OSV ecosystem, with the distribution release for OS packages (see above)
    ecosystem: str
    #: the source package for OS packages (dpkg ``Source:``, apk ``o:``, rpm source rpm name);
    #: OSV's distribution advisories are keyed by source package
    source_name: str = ""
    #: a path in the image where it was found (dpkg status file, METADATA, package.json, binary)
    path: str = ""
    #: the package-url (purl) for SBOMs, e.g. ``pkg:deb/debian/openssl@3.0.11-1?distro=debian-12``
    purl: str = ""
    #: license expression when the package database says it
    license: str = ""


@dataclass(frozen=True)
class Finding:
    """One vulnerability affecting one package."""

    vulnerability_id: str  # OSV id (DSA-..., CVE-..., GHSA-..., PYSEC-...)
    package: Package
    #: "Critical", "High", "Medium", "Low", "Negligible" or "Unknown" (Quay's names)
    severity: str
    summary: str = ""
    fixed_version: str = ""  # "" when no fix is known
    aliases: tuple[str, ...] = field(default_factory=tuple)
    links: tuple[str, ...] = field(default_factory=tuple)
