"""Image builds (Quay's ``RepositoryBuild``, ``RepositoryBuildTrigger`` and the file drop).

- ``BuildContextUpload``: an archive uploaded through ``/api/v1/filedrop/`` (tar or tar.gz), kept in
  storage until a build names it or it expires;
- ``RepositoryBuild``: one build request and its progress through the phases;
- ``BuildTrigger``: a custom git trigger (repository URL + webhook secret) that starts builds on push
  and disables itself after repeated failures;
- ``BuildLogEntry``: the live build log when no Redis is configured (with Redis the entries live in
  a Redis list); finished builds' logs move to storage (``RepositoryBuild.log_archive_path``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Robot
from repositories.models.content import Repository

__all__ = ["BuildContextUpload", "BuildLogEntry", "BuildPhase", "BuildTrigger", "RepositoryBuild"]


class BuildPhase(models.TextChoices):
    WAITING = "waiting", "Waiting"
    PULLING = "pulling", "Pulling base images"
    BUILDING = "building", "Building"
    PUSHING = "pushing", "Pushing"
    COMPLETE = "complete", "Complete"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled"


#: phases a build never leaves
FINISHED_PHASES = (BuildPhase.COMPLETE, BuildPhase.ERROR, BuildPhase.CANCELLED)


class BuildContextUpload(models.Model):
    """A build context archive uploaded through the file drop (streamed to storage)."""

    file_id = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    location = models.CharField(max_length=64, blank=True, default="", help_text="storage location holding the archive")
    path = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True, help_text="bytes; null until the upload finished")
    uploaded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "build context upload"

    def __str__(self) -> str:
        return self.file_id


class BuildTrigger(models.Model):
    """A custom git trigger: a signed webhook call starts a build of ``git_url`` at the pushed ref."""

    SERVICE_CUSTOM_GIT = "custom-git"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="build_triggers")
    service = models.CharField(max_length=32, default=SERVICE_CUSTOM_GIT)
    git_url = models.CharField(max_length=1024)
    default_ref = models.CharField(max_length=255, default="main", help_text="branch or tag built by a manual start")
    context_subdir = models.CharField(max_length=1024, blank=True, default="")
    dockerfile_path = models.CharField(max_length=1024, default="Dockerfile")
    tag_templates = models.JSONField(default=list, blank=True, help_text="tags to push; ${branch} and ${short_sha} are replaced")
    pull_robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    secret_encrypted = models.TextField(help_text="webhook HMAC secret (encrypted)")
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "build trigger"

    def __str__(self) -> str:
        return f"{self.service} trigger {self.uuid} of {self.repository_id}"


class RepositoryBuild(models.Model):
    """One Dockerfile build of a repository, from an uploaded archive or a git checkout."""

    class ContextKind(models.TextChoices):
        ARCHIVE = "archive", "Uploaded archive"
        GIT = "git", "Git repository"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="builds")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_name = models.CharField(max_length=255, blank=True, default="")
    phase = models.CharField(max_length=16, choices=BuildPhase.choices, default=BuildPhase.WAITING, db_index=True)
    context_kind = models.CharField(max_length=16, choices=ContextKind.choices)
    upload = models.ForeignKey(BuildContextUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="builds")
    git_url = models.CharField(max_length=1024, blank=True, default="")
    git_ref = models.CharField(max_length=255, blank=True, default="")
    context_subdir = models.CharField(max_length=1024, blank=True, default="")
    dockerfile_path = models.CharField(max_length=1024, default="Dockerfile")
    tags = models.JSONField(default=list)
    build_args = models.JSONField(default=dict, blank=True)
    pull_robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.ForeignKey(BuildTrigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="builds")
    trigger_metadata = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    manifest_digest = models.CharField(max_length=100, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log_archive_location = models.CharField(max_length=64, blank=True, default="")
    log_archive_path = models.CharField(max_length=255, blank=True, default="", help_text="set once the logs moved to storage")

    class Meta:
        verbose_name = "repository build"
        indexes = [models.Index(fields=["repository", "-created"], name="build_repo_created")]

    def __str__(self) -> str:
        return f"build {self.uuid} ({self.phase})"

    @property
    def is_finished(self) -> bool:
        return self.phase in FINISHED_PHASES


class BuildLogEntry(models.Model):
    """One live log entry of a build (database store; Redis lists replace it when configured)."""

    build = models.ForeignKey(RepositoryBuild, on_delete=models.CASCADE, related_name="log_entries")
    seq = models.PositiveIntegerField()
    entry = models.JSONField()

    class Meta:
        verbose_name = "build log entry"
        constraints = [models.UniqueConstraint(fields=["build", "seq"], name="build_log_entry_seq")]

    def __str__(self) -> str:
        return f"{self.build_id}#{self.seq}"
