"""Repository mirroring (Quay's ``RepoMirrorConfig``): a repository kept as a copy of a repository
on another registry, synchronised on a schedule by ``repositories.services.mirror``."""

from __future__ import annotations

from django.db import models

from accounts.models import Robot
from repositories.models.content import Repository

__all__ = ["MirrorStatus", "RepositoryMirror"]


class MirrorStatus(models.TextChoices):
    """Quay's ``RepoMirrorStatus`` names (the API shows them as they are)."""

    NEVER_RUN = "NEVER_RUN", "Never run"
    SYNC_NOW = "SYNC_NOW", "Sync requested"
    SYNCING = "SYNCING", "Syncing"
    SUCCESS = "SUCCESS", "Success"
    FAIL = "FAIL", "Failed"
    CANCEL = "CANCEL", "Cancelled"


class RepositoryMirror(models.Model):
    """One repository's mirror configuration and the state of its synchronisation.

    Credentials are stored encrypted (Fernet, a key derived from the secret key); the API never
    shows the password. A running sync holds the row by ``sync_token`` until ``sync_expires_at``
    (renewed as it progresses), so two syncs of one mirror never run at once and a crashed one is
    taken over after its lease.
    """

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="mirror")
    #: ``[http(s)://]host[:port]/namespace/repository`` on the upstream registry
    external_reference = models.CharField(max_length=512)
    username_encrypted = models.TextField(blank=True, default="")
    password_encrypted = models.TextField(blank=True, default="")
    verify_tls = models.BooleanField(default=True)
    #: Quay's ``root_rule``: tag globs (``fnmatch``); a tag is copied when it matches one
    tag_patterns = models.JSONField(default=list, blank=True)
    #: architectures to copy from an index (empty: all); the index itself is kept byte for byte
    architecture_filter = models.JSONField(default=list, blank=True)
    #: remove local tags that no longer exist upstream (or no longer match the patterns)
    delete_stale_tags = models.BooleanField(default=False)
    sync_interval = models.PositiveIntegerField(help_text="seconds between two syncs")
    sync_start_date = models.DateTimeField()
    #: Quay's ``skopeo_timeout_interval``: the read timeout of upstream requests, in seconds
    timeout_s = models.PositiveIntegerField(default=300)
    robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.SET_NULL, related_name="mirrors")
    is_enabled = models.BooleanField(default=True)

    status = models.CharField(max_length=10, choices=MirrorStatus.choices, default=MirrorStatus.NEVER_RUN)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    retries_remaining = models.PositiveSmallIntegerField(default=3)
    cancel_requested = models.BooleanField(default=False)
    sync_token = models.CharField(max_length=64, blank=True, default="")
    sync_expires_at = models.DateTimeField(null=True, blank=True)
    #: set when the scheduler queued a sync, so it is not queued again before it ran
    queued_until = models.DateTimeField(null=True, blank=True)
    last_sync_started_at = models.DateTimeField(null=True, blank=True)
    last_sync_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    #: counts of the last run (tags copied, unchanged, deleted, failed; manifests; blobs; bytes)
    last_result = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["is_enabled", "next_sync_at"], name="mirror_due_idx")]

    def __str__(self) -> str:
        return f"{self.repository.full_name} <- {self.external_reference}"
