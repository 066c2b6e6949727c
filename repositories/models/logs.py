"""Audit-log archives and exports, and pull statistics per tag and per manifest."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models import User
from repositories.models.content import Repository

__all__ = ["AuditLogArchive", "LogExport", "TagPullStatistic", "ManifestPullStatistic"]


class AuditLogArchive(models.Model):
    """One gzip'd JSON-lines file of audit-log entries moved out of the database by rotation.

    The row is created (``complete=False``) before the file is written and completed in the same
    transaction that deletes the entries it holds, so an entry is either in the database or in
    exactly one complete archive, never both and never neither. An incomplete row left by a
    rotation that died names the file to remove."""

    path = models.CharField(max_length=512, unique=True)
    location = models.CharField(max_length=64, help_text="Storage location (its name in the storage config).")
    first_id = models.BigIntegerField(help_text="Smallest audit-log id in the file.")
    last_id = models.BigIntegerField(help_text="Largest audit-log id in the file.")
    start = models.DateTimeField(db_index=True, help_text="Time of the oldest entry in the file.")
    end = models.DateTimeField(db_index=True, help_text="Time of the newest entry in the file.")
    count = models.PositiveIntegerField()
    size = models.BigIntegerField(help_text="Bytes of the compressed file.")
    complete = models.BooleanField(default=False, db_index=True, help_text="False while written (or left by a rotation that died).")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        verbose_name = "audit-log archive"

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d}..{self.end:%Y-%m-%d} ({self.count} entries)"


class LogExport(models.Model):
    """An export of a date range of the audit log (Quay's ``exportlogs``), asked through the API or
    ``manage.py export_logs``; written to storage as one JSON document."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    export_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_name = models.CharField(max_length=255, blank=True, default="")
    #: the scope, as selectors_logs.LogScope: one repository, one namespace, a user's own, or all
    repository = models.ForeignKey(Repository, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    repository_name = models.CharField(max_length=255, blank=True, default="")
    namespace_name = models.CharField(max_length=255, blank=True, default="")
    user_id_scope = models.BigIntegerField(null=True, blank=True, help_text="A user's own entries (the user API).")
    everything = models.BooleanField(default=False)
    start = models.DateTimeField()
    end = models.DateTimeField()
    callback_url = models.URLField(max_length=2048, blank=True, default="")
    callback_email = models.EmailField(blank=True, default="")
    #: the absolute download URL, known when the API request came in
    download_url = models.URLField(max_length=2048, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    path = models.CharField(max_length=512, blank=True, default="")
    location = models.CharField(max_length=64, blank=True, default="")
    count = models.PositiveIntegerField(default=0)
    size = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    delivery = models.TextField(blank=True, default="", help_text="What happened to the callback / e-mail.")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"export {self.export_id} ({self.state})"


class TagPullStatistic(models.Model):
    """How often a tag name was pulled (``GET /v2/<name>/manifests/<tag>``), and when last.
    Kept by name: the tag's lifetimes (moves, deletes, restores) share one counter."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    tag_name = models.CharField(max_length=255)
    pull_count = models.BigIntegerField(default=0)
    last_pulled = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "tag_name"], name="tagpullstat_repo_tag_uniq")]
        ordering = ["repository_id", "tag_name"]

    def __str__(self) -> str:
        return f"{self.tag_name}: {self.pull_count}"


class ManifestPullStatistic(models.Model):
    """How often a manifest was pulled, by tag or by digest, and when last (the served manifest:
    for an index a client cannot read, the platform child it got instead)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    manifest_digest = models.CharField(max_length=255)
    pull_count = models.BigIntegerField(default=0)
    last_pulled = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "manifest_digest"], name="manifestpullstat_repo_digest_uniq")]
        ordering = ["repository_id", "manifest_digest"]

    def __str__(self) -> str:
        return f"{self.manifest_digest}: {self.pull_count}"
