"""Matching installed packages against the vulnerability database.

Distribution packages are looked up within their ecosystem and release ("Debian:12") by source
package name — the name distribution advisories (DSA, USN, ALSA ...) use — and by binary name;
language packages by their name as the ecosystem spells it (PEP 503-normalised for PyPI, the
module path for Go, ``group:artifact`` for Maven). The versions are then compared with the
ecosystem's own ordering against the OSV ``ranges`` and ``versions`` of each affected entry.

The database is read with one query per ecosystem and batch of names (never one per package).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from repositories.models import AffectedPackage
from repositories.scanning.cvss import SEVERITY_RANK
from repositories.scanning.osv import is_affected, normalize_ecosystem, normalize_name
from repositories.scanning.types import LANGUAGE_ECOSYSTEMS, Finding, Package
from repositories.scanning.versions import ecosystem_base

#: names per query: well below SQLite's bound-parameter limit
NAME_BATCH = 500


def _lookup_names(package: Package, ecosystem: str) -> set[str]:
    names = {normalize_name(ecosystem, package.name)}
    if package.source_name and ecosystem_base(ecosystem) not in LANGUAGE_ECOSYSTEMS:
        names.add(normalize_name(ecosystem, package.source_name))
    return {n for n in names if n}


def _match_version(package: Package) -> str:
    # dpkg/rpm "source version" differs from the binary one rarely; the binary's is what is installed
    return package.version.strip()


def match_packages(packages: Iterable[Package]) -> list[Finding]:
    """The vulnerabilities of the database affecting ``packages``.

    Args:
        packages: installed packages (from the indexer); ecosystems as OSV names them, with the
            release for distribution packages.

    Returns:
        One :class:`Finding` per (vulnerability, package), most severe first, then by package
        name and vulnerability id. A package of an ecosystem or release the database has no
        data for simply has no findings.
    """
    by_ecosystem: dict[str, dict[str, list[Package]]] = defaultdict(lambda: defaultdict(list))
    for package in packages:
        if not package.version or not package.ecosystem:
            continue
        ecosystem = normalize_ecosystem(package.ecosystem)
        for name in _lookup_names(package, ecosystem):
            by_ecosystem[ecosystem][name].append(package)

    findings: dict[tuple[str, Package], Finding] = {}
    for ecosystem, by_name in by_ecosystem.items():
        names = sorted(by_name)
        for start in range(0, len(names), NAME_BATCH):
            rows = (
                AffectedPackage.objects.filter(ecosystem=ecosystem, name__in=names[start : start + NAME_BATCH])
                .select_related("vulnerability")
                .only("name", "ranges", "versions", "severity", "vulnerability__osv_id", "vulnerability__aliases",
                      "vulnerability__summary", "vulnerability__severity", "vulnerability__references")
            )
            for row in rows:
                vuln = row.vulnerability
                for package in by_name[row.name]:
                    affected, fixed = is_affected(ecosystem, _match_version(package), row.ranges, row.versions)
                    if not affected:
                        continue
                    key = (vuln.osv_id, package)
                    severity = row.severity if row.severity and vuln.severity == "Unknown" else vuln.severity
                    previous = findings.get(key)
                    if previous is not None:
                        # the same record twice for one package (by source and binary name, or two
                        # affected entries): keep the worse severity and a known fix
                        if SEVERITY_RANK.get(previous.severity, 0) >= SEVERITY_RANK.get(severity, 0):
                            severity = previous.severity
                        fixed = previous.fixed_version or fixed
                    findings[key] = Finding(
                        vulnerability_id=vuln.osv_id, package=package, severity=severity, summary=vuln.summary,
                        fixed_version=fixed, aliases=tuple(vuln.aliases or ()),
                        links=tuple(r["url"] for r in vuln.references or () if isinstance(r, dict) and r.get("url")),
                    )
    return sorted(findings.values(), key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.package.name, f.package.version,
                                                     f.vulnerability_id))
