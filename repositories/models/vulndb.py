"""The vulnerability database: OSV records imported offline by ``manage.py vulndb_import``.

A :class:`Vulnerability` is one OSV record; each of its ``affected`` entries becomes an
:class:`AffectedPackage` row keyed by (ecosystem, package name) for the matcher's lookups; each
import is a :class:`VulnerabilityImport` so the age of the database can be shown.
"""

from __future__ import annotations

from django.db import models

__all__ = ["AffectedPackage", "Vulnerability", "VulnerabilityImport"]


class Vulnerability(models.Model):
    """One OSV record (``DSA-5532-1``, ``GHSA-...``, ``PYSEC-...``, ``CVE-...``, ``ALSA-...``)."""

    osv_id = models.CharField(max_length=200, unique=True)
    aliases = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True, default="")
    details = models.TextField(blank=True, default="")
    #: Quay's severity name: Critical, High, Medium, Low, Negligible or Unknown
    severity = models.CharField(max_length=16, default="Unknown")
    cvss_vector = models.CharField(max_length=200, blank=True, default="")
    cvss_score = models.FloatField(null=True, blank=True)
    published = models.DateTimeField(null=True, blank=True)
    #: OSV ``modified``: an import skips a record whose ``modified`` has not changed
    modified = models.DateTimeField()
    #: OSV ``references``: ``[{"type": "ADVISORY", "url": "..."}, ...]``
    references = models.JSONField(default=list, blank=True)
    #: where it was imported from (the archive or folder name), for the admin and pruning
    source = models.CharField(max_length=200, blank=True, default="")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["osv_id"]
        verbose_name_plural = "vulnerabilities"

    def __str__(self) -> str:
        return self.osv_id


class AffectedPackage(models.Model):
    """One ``affected`` entry of an OSV record: a package of an ecosystem (with its release for
    distributions) and the versions it is affected in."""

    vulnerability = models.ForeignKey(Vulnerability, on_delete=models.CASCADE, related_name="affected")
    #: the matcher's key: OSV ecosystem with its release, normalised ("Debian:12", "Ubuntu:22.04",
    #: "Alpine:v3.19", "Red Hat:9", "PyPI" ...)
    ecosystem = models.CharField(max_length=100)
    #: the ecosystem exactly as the record says it ("Ubuntu:22.04:LTS", "Red Hat:enterprise_linux:9::appstream")
    ecosystem_raw = models.CharField(max_length=200, blank=True, default="")
    #: normalised package name (PEP 503 for PyPI; source package for distributions)
    name = models.CharField(max_length=300)
    purl = models.CharField(max_length=500, blank=True, default="")
    #: OSV ranges of type ECOSYSTEM or SEMVER: ``[{"type": ..., "events": [{"introduced": "0"}, {"fixed": "1.2"}]}]``
    ranges = models.JSONField(default=list, blank=True)
    #: OSV ``versions``: explicitly affected versions
    versions = models.JSONField(default=list, blank=True)
    #: the lowest fixed version named by the ranges ("" when no fix is known)
    fixed_version = models.CharField(max_length=200, blank=True, default="")
    #: a severity of this package's own when the record gives one per package (Ubuntu, Debian urgency)
    severity = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["ecosystem", "name"], name="vulndb_affected_eco_name")]

    def __str__(self) -> str:
        return f"{self.ecosystem}/{self.name}"


class VulnerabilityImport(models.Model):
    """One run of ``manage.py vulndb_import``: what was read and what changed."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=1000)
    started = models.DateTimeField()
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    records = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    withdrawn = models.PositiveIntegerField(default=0)
    malformed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="records of ecosystems not imported")
    #: the first malformed records: ``[{"file": ..., "error": ...}]``
    errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started"]
        indexes = [models.Index(fields=["status", "-finished"], name="vulndb_import_status_fin")]

    def __str__(self) -> str:
        return f"{self.source} ({self.status}, {self.started:%Y-%m-%d %H:%M})"
