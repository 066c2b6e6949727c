"""Vulnerability scanning of images: the per-layer index cache, the scan of each manifest, and
the findings the matcher reported for it (issue #8)."""

from __future__ import annotations

from django.db import models

from repositories.models.content import Manifest

__all__ = ["LayerIndex", "ManifestScan", "ManifestFinding"]


class LayerIndex(models.Model):
    """What the indexer found in one layer blob, by digest (layers are shared between images, so
    each is read once). ``content`` is :class:`repositories.scanning.indexer.LayerContent` as
    JSON: the interesting files with their package records, and the layer's whiteouts."""

    class Status(models.TextChoices):
        INDEXED = "indexed", "Indexed"
        UNSUPPORTED = "unsupported", "Unsupported"

    digest = models.CharField(max_length=150, unique=True)
    indexer_version = models.IntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INDEXED)
    reason = models.TextField(blank=True, default="")
    content = models.JSONField(default=dict, blank=True)
    package_count = models.IntegerField(default=0)
    size = models.BigIntegerField(default=0)
    duration_ms = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "layer index"
        verbose_name_plural = "layer index cache"

    def __str__(self) -> str:
        return f"{self.digest} ({self.status}, {self.package_count} packages)"


class ManifestScan(models.Model):
    """The scan state of one manifest (Quay's ``ManifestSecurityStatus``).

    ``queued`` rows are picked up most recently pushed first; a row ``in_progress`` longer than
    the configured lease is re-queued by the sweep (its worker died), so none stays stuck.
    A ``failed`` row is retried at ``next_attempt_at`` with exponential backoff until the
    configured attempts run out.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        SCANNED = "scanned", "Scanned"
        FAILED = "failed", "Failed"
        UNSUPPORTED = "unsupported", "Unsupported"

    manifest = models.OneToOneField(Manifest, on_delete=models.CASCADE, related_name="security_scan")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    reason = models.TextField(blank=True, default="")
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    indexer_version = models.IntegerField(default=0)
    #: the OSV ecosystem of the distribution ("Debian:12"), "" when none was found
    distro = models.CharField(max_length=64, blank=True, default="")
    #: the image's packages: Package fields plus ``layer`` (the digest of the layer that added it)
    packages = models.JSONField(default=list, blank=True)
    package_count = models.IntegerField(default=0)
    #: when the manifest was pushed (copied so the queue orders without a join)
    pushed_at = models.DateTimeField(db_index=True)
    queued_at = models.DateTimeField()
    scanned_at = models.DateTimeField(null=True, blank=True)
    matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "pushed_at"], name="manifest_scan_queue_idx")]

    def __str__(self) -> str:
        return f"scan of manifest {self.manifest_id}: {self.status}"


class ManifestFinding(models.Model):
    """One vulnerability the matcher reported for one package of a manifest; stored so that
    reports are read, not re-matched, on every request. Replaced on every re-match."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="security_findings")
    vulnerability_id = models.CharField(max_length=128)
    #: the Package fields and ``layer``
    package = models.JSONField(default=dict)
    package_name = models.CharField(max_length=255)
    package_version = models.CharField(max_length=255)
    ecosystem = models.CharField(max_length=64)
    severity = models.CharField(max_length=16)
    #: Quay's priority index of ``severity`` (0 Defcon1 ... 6 Unknown) for ordering and filters
    severity_index = models.SmallIntegerField(default=6)
    summary = models.TextField(blank=True, default="")
    fixed_version = models.CharField(max_length=255, blank=True, default="")
    aliases = models.JSONField(default=list, blank=True)
    links = models.JSONField(default=list, blank=True)
    first_seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["manifest", "severity_index"], name="manifest_finding_sev_idx")]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} in {self.package_name} {self.package_version}"
