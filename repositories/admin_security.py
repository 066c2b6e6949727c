"""Vulnerability scanning in the admin console: scans per manifest and the layer index cache
(read-only; a rescan is the manifest admin's "Rescan" action), then the vulnerability database."""

# -- scans and the layer index cache --------------------------------------------------------------

from django.contrib import admin as _scan_admin
from django.http import HttpRequest as _ScanRequest
from django.urls import reverse as _scan_reverse
from django.utils.html import format_html as _scan_html
from django.utils.safestring import SafeString as _ScanSafe

from accounts.admin import ConsoleModelAdmin as _ScanModelAdmin
from accounts.admin import ReadOnlyMixin as _ScanReadOnly
from repositories.models.scans import LayerIndex, ManifestFinding, ManifestScan


@_scan_admin.register(ManifestFinding)
class ManifestFindingAdmin(_ScanReadOnly, _ScanModelAdmin):
    list_display = ("vulnerability_id", "severity", "package_name", "package_version", "ecosystem", "fixed_version", "manifest", "first_seen")
    list_filter = ("severity", "ecosystem")
    search_fields = ("^vulnerability_id", "package_name", "^manifest__digest")
    ordering = ("severity_index", "-first_seen")
    list_select_related = ("manifest__repository",)
    readonly_fields = (
        "manifest", "vulnerability_id", "severity", "package_name", "package_version", "ecosystem", "fixed_version",
        "summary", "aliases", "links", "package", "first_seen",
    )
    fields = readonly_fields
    show_full_result_count = False


@_scan_admin.register(ManifestScan)
class ManifestScanAdmin(_ScanReadOnly, _ScanModelAdmin):
    list_display = ("manifest_link", "status", "distro", "package_count", "attempts", "next_attempt_at", "scanned_at", "pushed_at")
    list_filter = ("status", "distro")
    search_fields = ("^manifest__digest", "manifest__repository__full_name")
    ordering = ("-pushed_at",)
    list_select_related = ("manifest__repository",)
    fields = (
        "manifest_link", "status", "reason", "attempts", "next_attempt_at", "started_at", "indexer_version", "distro",
        "package_count", "pushed_at", "queued_at", "scanned_at", "matched_at", "package_table",
    )
    readonly_fields = fields
    show_full_result_count = False

    @_scan_admin.display(description="manifest", ordering="manifest__digest")
    def manifest_link(self, scan: ManifestScan) -> _ScanSafe:
        manifest = scan.manifest
        return _scan_html(
            '<a href="{}">{}@{}</a>', _scan_reverse("admin:repositories_manifest_change", args=[manifest.pk]),
            manifest.repository.full_name, manifest.digest[:19],
        )

    @_scan_admin.display(description="packages")
    def package_table(self, scan: ManifestScan) -> _ScanSafe:
        rows = "".join(
            str(_scan_html("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", p.get("name"), p.get("version"), p.get("ecosystem"), p.get("path")))
            for p in scan.packages[:2000]
        )
        more = f"<p>… and {len(scan.packages) - 2000} more</p>" if len(scan.packages) > 2000 else ""
        return _scan_html(
            '<table><tr><th>name</th><th>version</th><th>ecosystem</th><th>found in</th></tr>{}</table>{}',
            _ScanSafe(rows), _ScanSafe(more),
        )



@_scan_admin.register(LayerIndex)
class LayerIndexAdmin(_ScanReadOnly, _ScanModelAdmin):
    list_display = ("digest", "status", "package_count", "size", "duration_ms", "indexer_version", "updated")
    list_filter = ("status", "indexer_version")
    search_fields = ("^digest",)
    ordering = ("-updated",)
    fields = ("digest", "status", "reason", "indexer_version", "package_count", "size", "duration_ms", "created", "updated", "files")
    readonly_fields = fields
    show_full_result_count = False

    @_scan_admin.display(description="package files found")
    def files(self, row: LayerIndex) -> _ScanSafe:
        entries = (row.content or {}).get("entries", {})
        items = "".join(
            str(_scan_html("<li>/{} ({}, {} records)</li>", path, entry.get("kind"), len(entry.get("records", []))))
            for path, entry in sorted(entries.items())[:1000]
        )
        whiteouts = (row.content or {}).get("whiteouts", [])
        return _scan_html("<ul>{}</ul><p>whiteouts: {}</p>", _ScanSafe(items), ", ".join(whiteouts[:50]) or "none")


# -- vulnerability database (OSV imports) ----------------------------------------------------------
# Filled by ``manage.py vulndb_import`` only: the admin shows records and import runs, read-only.

from django.contrib import admin as _vulndb_admin  # noqa: E402
from django.http import HttpRequest as _VulnDbRequest  # noqa: E402

from accounts.admin import ConsoleModelAdmin as _VulnDbModelAdmin  # noqa: E402
from accounts.admin import ConsoleTabularInline as _VulnDbInline  # noqa: E402
from repositories.models.vulndb import AffectedPackage, Vulnerability, VulnerabilityImport  # noqa: E402


class _ReadOnlyVulnDb:
    def has_add_permission(self, request: _VulnDbRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: _VulnDbRequest, obj: object = None) -> bool:
        return False


class AffectedPackageInline(_ReadOnlyVulnDb, _VulnDbInline):
    model = AffectedPackage
    extra = 0
    can_delete = False
    fields = ("ecosystem", "ecosystem_raw", "name", "fixed_version", "ranges", "versions", "severity")
    readonly_fields = fields


@_vulndb_admin.register(Vulnerability)
class VulnerabilityAdmin(_ReadOnlyVulnDb, _VulnDbModelAdmin):
    list_display = ("osv_id", "severity", "cvss_score", "summary", "modified", "source")
    list_filter = ("severity", "source")
    search_fields = ("osv_id", "summary", "affected__name")
    date_hierarchy = "modified"
    fields = ("osv_id", "aliases", "summary", "details", "severity", "cvss_vector", "cvss_score", "published", "modified",
              "references", "source", "imported_at")
    readonly_fields = fields
    inlines = [AffectedPackageInline]


@_vulndb_admin.register(VulnerabilityImport)
class VulnerabilityImportAdmin(_ReadOnlyVulnDb, _VulnDbModelAdmin):
    list_display = ("source", "status", "started", "finished", "records", "added", "updated", "unchanged", "withdrawn", "malformed")
    list_filter = ("status",)
    fields = ("source", "status", "started", "finished", "records", "added", "updated", "unchanged", "withdrawn", "skipped",
              "malformed", "errors", "error")
    readonly_fields = fields
