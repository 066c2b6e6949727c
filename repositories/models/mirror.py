"""Repository mirroring (Quay's ``RepoMirrorConfig``): a repository kept as a copy of a repository
on another registry, synchronised on a schedule by ``repositories.services.mirror``; and
organization mirroring (Quay's ``OrgMirrorConfig`` / ``OrgMirrorRepository``): an organization
whose repositories are discovered in an upstream namespace and each mirrored by a
``RepositoryMirror`` (``repositories.services.mirror_org``)."""

from __future__ import annotations

from django.db import models

from accounts.models import Robot
from organizations.models import Organization
from repositories.models.content import Repository

__all__ = ["MirrorStatus", "OrganizationMirror", "OrganizationMirrorRepository", "RepositoryMirror"]


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


class OrganizationMirror(models.Model):
    """An organization mirroring a namespace of an upstream registry: every upstream repository
    under ``external_namespace`` whose name matches ``repository_patterns`` (or is listed in
    ``repositories``) gets a repository of the same name in the organization, in MIRROR state and
    driven by a ``RepositoryMirror`` that this configuration creates and keeps in step.

    The sync (discovery, then each repository's sync) is claimed like a repository mirror's: a
    conditional UPDATE sets ``sync_token`` and a lease ``sync_expires_at`` renewed as it goes.
    """

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        PRIVATE = "private", "Private"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="mirror")
    #: ``[http(s)://]host[:port]`` of the upstream registry
    external_registry_url = models.CharField(max_length=512)
    #: the upstream namespace (organization, project) whose repositories are mirrored; empty: all
    external_namespace = models.CharField(max_length=255, blank=True, default="")
    username_encrypted = models.TextField(blank=True, default="")
    password_encrypted = models.TextField(blank=True, default="")
    verify_tls = models.BooleanField(default=True)
    #: globs (``fnmatch``) on the repository name below the namespace; empty means ``*``
    repository_patterns = models.JSONField(default=list, blank=True)
    #: names below the namespace mirrored instead of discovering the catalog (empty: discover)
    repositories = models.JSONField(default=list, blank=True)
    #: tag globs applied to every mirrored repository
    tag_patterns = models.JSONField(default=list, blank=True)
    architecture_filter = models.JSONField(default=list, blank=True)
    #: visibility of the repositories the mirror creates
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    #: delete local repositories whose upstream repository disappeared (or no longer matches)
    delete_stale_repos = models.BooleanField(default=False)
    sync_interval = models.PositiveIntegerField(help_text="seconds between two syncs")
    sync_start_date = models.DateTimeField()
    timeout_s = models.PositiveIntegerField(default=300)
    robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.SET_NULL, related_name="organization_mirrors")
    is_enabled = models.BooleanField(default=True)

    status = models.CharField(max_length=10, choices=MirrorStatus.choices, default=MirrorStatus.NEVER_RUN)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    sync_token = models.CharField(max_length=64, blank=True, default="")
    sync_expires_at = models.DateTimeField(null=True, blank=True)
    queued_until = models.DateTimeField(null=True, blank=True)
    last_sync_started_at = models.DateTimeField(null=True, blank=True)
    last_sync_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    #: counts of the last run (repositories discovered/created/synced/failed/deleted; tags, blobs, bytes)
    last_result = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["is_enabled", "next_sync_at"], name="org_mirror_due_idx")]

    def __str__(self) -> str:
        source = f"{self.external_registry_url}/{self.external_namespace}".rstrip("/")
        return f"{self.organization.name} <- {source}"


class OrganizationMirrorRepository(models.Model):
    """One upstream repository an organization mirror discovered, the local repository mirroring
    it and the outcome of its last sync."""

    org_mirror = models.ForeignKey(OrganizationMirror, on_delete=models.CASCADE, related_name="discovered")
    #: the repository's path on the upstream registry (``namespace/name``)
    upstream_name = models.CharField(max_length=512)
    #: the local repository (None until created, or after it was deleted as stale)
    repository = models.ForeignKey(Repository, null=True, blank=True, on_delete=models.SET_NULL, related_name="org_mirror_entries")
    status = models.CharField(max_length=10, choices=MirrorStatus.choices, default=MirrorStatus.NEVER_RUN)
    discovered_at = models.DateTimeField(auto_now_add=True)
    #: the last discovery that found it upstream
    last_seen_at = models.DateTimeField(null=True, blank=True)
    #: set when a discovery no longer finds it (kept unless ``delete_stale_repos``)
    gone_since = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["upstream_name"]
        constraints = [models.UniqueConstraint(fields=["org_mirror", "upstream_name"], name="org_mirror_repo_unique")]

    def __str__(self) -> str:
        return f"{self.upstream_name} ({self.status})"
