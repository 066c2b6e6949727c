"""Reads of scan results: a manifest's packages, its report in Quay's security API shape, and a
repository's per-tag summary. Reports are built from stored findings, never re-matched."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from django.db.models import Count

from repositories.media_types import INDEX_TYPES
from repositories.models import Manifest, ManifestChild, ManifestFinding, ManifestScan, Repository, Tag
from repositories.scanning.types import Package
from repositories.selectors import live_tags

#: Quay's severity names, most severe first (Defcon1 never comes from OSV data)
SEVERITIES = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")
#: the API's status of each scan state (Quay says "queued" while a manifest is being indexed)
API_STATUS = {"queued": "queued", "in_progress": "queued", "scanned": "scanned", "failed": "failed", "unsupported": "unsupported"}
_PACKAGE_FIELDS = ("name", "version", "ecosystem", "source_name", "path", "purl", "license")
#: the version ordering each ecosystem's versions follow (Clair's ``VersionFormat``)
_VERSION_FORMATS = {"Debian": "dpkg", "Ubuntu": "dpkg", "Alpine": "apk", "PyPI": "pypi", "npm": "semver", "Go": "semver", "Maven": "maven"}


def manifest_scan_find(*, manifest: Manifest) -> ManifestScan | None:
    """The scan row of ``manifest``, if it was ever queued."""
    return ManifestScan.objects.filter(manifest=manifest).first()


def _package(data: dict[str, Any]) -> Package:
    return Package(**{key: str(data.get(key, "")) for key in _PACKAGE_FIELDS})


def manifest_packages(manifest: Manifest) -> list[Package] | None:
    """The packages the indexer found in an image manifest's final file system view; None when
    it has not been scanned (yet), is not an image, or is an index (ask each child)."""
    scan = manifest_scan_find(manifest=manifest)
    if scan is None or scan.status != ManifestScan.Status.SCANNED or manifest.media_type in INDEX_TYPES:
        return None
    return [_package(data) for data in scan.packages]


def _version_format(ecosystem: str) -> str:
    base = ecosystem.split(":", 1)[0]
    return _VERSION_FORMATS.get(base, "rpm" if base in ("Red Hat", "Rocky Linux", "AlmaLinux", "CentOS", "Fedora") else "")


def _vulnerability(row: ManifestFinding, distro: str) -> dict[str, Any]:
    distro_name, _, distro_version = distro.partition(":")
    link = " ".join(row.links) if row.links else ""
    return {
        "Name": row.vulnerability_id,
        "NamespaceName": row.ecosystem,
        "Description": row.summary,
        "Link": link,
        "Severity": row.severity,
        "FixedBy": row.fixed_version,
        "Metadata": {
            "UpdatedBy": row.ecosystem,
            "RepoName": None,
            "RepoLink": None,
            "DistroName": distro_name or None,
            "DistroVersion": distro_version or None,
            "Aliases": list(row.aliases),
        },
    }


def _image_report(manifest: Manifest, scan: ManifestScan | None, vulnerabilities: bool) -> dict[str, Any]:
    if scan is None:
        return {"status": "queued", "data": None}
    status = API_STATUS[scan.status]
    if status != "scanned":
        return {"status": status, "data": None, "reason": scan.reason or None}
    findings: dict[tuple[str, str, str, str], list[ManifestFinding]] = defaultdict(list)
    if vulnerabilities:
        for row in ManifestFinding.objects.filter(manifest=manifest).order_by("severity_index", "vulnerability_id"):
            package = row.package
            findings[(package.get("ecosystem", ""), package.get("name", ""), package.get("version", ""), package.get("path", ""))].append(row)
    features = []
    for package in scan.packages:
        key = (package.get("ecosystem", ""), package.get("name", ""), package.get("version", ""), package.get("path", ""))
        feature: dict[str, Any] = {
            "Name": package.get("name", ""),
            "VersionFormat": _version_format(package.get("ecosystem", "")),
            "NamespaceName": package.get("ecosystem", ""),
            "AddedBy": package.get("layer", ""),
            "Version": package.get("version", ""),
            "BaseScores": [],
            "CVEIds": [],
        }
        if vulnerabilities:
            rows = findings.get(key, [])
            feature["Vulnerabilities"] = [_vulnerability(row, scan.distro) for row in rows]
            feature["CVEIds"] = sorted({alias for row in rows for alias in [row.vulnerability_id, *row.aliases] if alias.startswith("CVE-")})
        features.append(feature)
    return {
        "status": "scanned",
        "data": {"Layer": {"Name": manifest.digest, "ParentName": "", "NamespaceName": scan.distro, "IndexedByVersion": scan.indexer_version, "Features": features}},
    }


def _platform(manifest: Manifest, child_digest: str) -> dict[str, Any] | None:
    try:
        document = json.loads(bytes(manifest.content))
    except ValueError:
        return None
    for entry in document.get("manifests", []) if isinstance(document, dict) else []:
        if isinstance(entry, dict) and entry.get("digest") == child_digest:
            platform = entry.get("platform")
            return platform if isinstance(platform, dict) else None
    return None


def _aggregate(statuses: list[str]) -> str:
    if not statuses:
        return "unsupported"
    if "queued" in statuses:
        return "queued"
    if "failed" in statuses:
        return "failed"
    if all(status == "unsupported" for status in statuses):
        return "unsupported"
    return "scanned"


def manifest_security_report(*, manifest: Manifest, vulnerabilities: bool) -> dict[str, Any]:
    """Quay's ``GET .../manifest/<digest>/security`` body: ``status`` (queued, scanned, failed,
    unsupported) and ``data.Layer.Features``; for an index, ``platforms`` holds one report per
    listed manifest and ``status`` sums them up."""
    if manifest.media_type not in INDEX_TYPES:
        return _image_report(manifest, manifest_scan_find(manifest=manifest), vulnerabilities)
    children = list(Manifest.objects.filter(parent_links__manifest=manifest).select_related("security_scan").order_by("id"))
    platforms = []
    for child in children:
        scan = getattr(child, "security_scan", None)  # RelatedObjectDoesNotExist is an AttributeError
        report = _image_report(child, scan, vulnerabilities)
        platforms.append({"digest": child.digest, "platform": _platform(manifest, child.digest), **report})
    return {"status": _aggregate([p["status"] for p in platforms]), "data": None, "platforms": platforms}


def _counts(manifest_ids: list[int]) -> dict[int, Counter]:
    result: dict[int, Counter] = defaultdict(Counter)
    rows = ManifestFinding.objects.filter(manifest_id__in=manifest_ids).values("manifest_id", "severity").annotate(n=Count("id"))
    for row in rows:
        result[row["manifest_id"]][row["severity"]] += row["n"]
    return result


def manifest_vulnerability_counts(*, manifest: Manifest) -> dict[str, Any]:
    """``{"status": ..., "counts": {"Critical": n, ...}, "total": n, "fixable": n}`` of a manifest
    (an index: of all its children) for summaries and the web UI."""
    ids = [manifest.id]
    if manifest.media_type in INDEX_TYPES:
        ids = list(ManifestChild.objects.filter(manifest=manifest).values_list("child_id", flat=True))
    scans = {scan.manifest_id: scan.status for scan in ManifestScan.objects.filter(manifest_id__in=ids)}
    statuses = [API_STATUS.get(scans.get(i, "queued"), "queued") for i in ids]
    counts = Counter()
    for counter in _counts(ids).values():
        counts.update(counter)
    fixable = ManifestFinding.objects.filter(manifest_id__in=ids).exclude(fixed_version="").count()
    return {
        "status": _aggregate(statuses) if manifest.media_type in INDEX_TYPES else statuses[0],
        "counts": {severity: counts.get(severity, 0) for severity in SEVERITIES},
        "total": sum(counts.values()),
        "fixable": fixable,
    }


def repository_security_summary(*, repository: Repository) -> list[dict[str, Any]]:
    """Per live tag: its manifest's scan status and finding counts by severity."""
    tags = list(Tag.objects.filter(live_tags(), repository=repository).select_related("manifest").order_by("name"))
    manifests = {tag.manifest_id: tag.manifest for tag in tags}
    child_ids: dict[int, list[int]] = defaultdict(list)
    for link in ManifestChild.objects.filter(manifest_id__in=list(manifests)).values("manifest_id", "child_id"):
        child_ids[link["manifest_id"]].append(link["child_id"])
    all_ids = set(manifests) | {child for children in child_ids.values() for child in children}
    scans = dict(ManifestScan.objects.filter(manifest_id__in=all_ids).values_list("manifest_id", "status"))
    counts = _counts(list(all_ids))
    fixable = dict(
        ManifestFinding.objects.filter(manifest_id__in=all_ids).exclude(fixed_version="").values("manifest_id").annotate(n=Count("id")).values_list("manifest_id", "n")
    )
    result = []
    for tag in tags:
        manifest = manifests[tag.manifest_id]
        ids = child_ids.get(manifest.id, []) if manifest.media_type in INDEX_TYPES else [manifest.id]
        statuses = [API_STATUS.get(scans.get(i, "queued"), "queued") for i in ids]
        total = Counter()
        for i in ids:
            total.update(counts.get(i, Counter()))
        result.append({
            "name": tag.name,
            "manifest_digest": manifest.digest,
            "status": _aggregate(statuses) if manifest.media_type in INDEX_TYPES else statuses[0],
            "counts": {severity: total.get(severity, 0) for severity in SEVERITIES},
            "total": sum(total.values()),
            "fixable": sum(fixable.get(i, 0) for i in ids),
        })
    return result


def manifest_security_overview(*, manifest: Manifest) -> dict[str, Any] | None:
    """What the web UI's manifest page shows: :func:`manifest_vulnerability_counts`, or None when
    the manifest (an image, or none of an index's children) was never queued for a scan."""
    ids = [manifest.id]
    if manifest.media_type in INDEX_TYPES:
        ids = list(ManifestChild.objects.filter(manifest=manifest).values_list("child_id", flat=True))
    if not ManifestScan.objects.filter(manifest_id__in=ids).exists():
        return None
    return manifest_vulnerability_counts(manifest=manifest)
