"""Content model, after Quay's: global content-addressed blobs, per-repository links,
manifests stored byte for byte, and tags as lifetime rows (history, restore, expiry)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Namespace, Robot, User
from organizations.models import Role, Team, exactly_one_of

__all__ = ['Repository', 'Blob', 'BlobPlacement', 'UploadedBlob', 'BlobUpload', 'Manifest', 'ManifestBlob', 'ManifestChild', 'Tag', 'RepositoryPermission', 'AuditLog', 'Label', 'Star']


class LiveRepositoryManager(models.Manager):
    """Repositories that are not being purged (a deleted repository disappears at once)."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class Repository(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        PRIVATE = "private", "Private"

    class State(models.TextChoices):
        NORMAL = "NORMAL", "Normal"
        READ_ONLY = "READ_ONLY", "Read-only"
        MIRROR = "MIRROR", "Mirror"

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="repositories")
    #: Path inside the namespace; may itself contain slashes (``team/app``).
    name = models.CharField(max_length=255)
    #: ``namespace/name``, kept for one-query lookups and keyset-paginated catalogs.
    full_name = models.CharField(max_length=255, unique=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NORMAL)
    description = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)
    #: Set when the repository is deleted: it is renamed out of the way (its name is free again)
    #: and hidden from every lookup, and its content is purged in the background.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = LiveRepositoryManager()
    #: including repositories waiting to be purged (garbage collection, the admin)
    all_objects = models.Manager()

    class Meta:
        verbose_name_plural = "repositories"
        ordering = ["full_name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="repository_unique_name_in_namespace")]

    def __str__(self) -> str:
        return self.full_name


class Blob(models.Model):
    """One row per distinct content, shared by every repository that links it."""

    digest = models.CharField(max_length=150, unique=True)
    size = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.digest


class BlobPlacement(models.Model):
    """A storage location that holds the blob's bytes."""

    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="placements")
    location = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["blob", "location"], name="blob_placement_unique")]

    def __str__(self) -> str:
        return f"{self.blob.digest} @ {self.location}"


class UploadedBlob(models.Model):
    """A recently uploaded or mounted blob, linked to a repository until ``expires_at``.

    It keeps the blob visible (and alive) in the repository until a manifest references it.
    """

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="uploaded_blobs")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="uploaded_links")
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "blob"], name="uploaded_blob_unique")]


class BlobUpload(models.Model):
    """An upload session. Everything needed to continue it is here, so any process may."""

    id = models.CharField(primary_key=True, max_length=64)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="uploads")
    location = models.CharField(max_length=64)
    byte_count = models.BigIntegerField(default=0)
    chunk_count = models.IntegerField(default=0)
    hash_algorithm = models.CharField(max_length=16, default="sha256")
    hash_state = models.BinaryField()
    storage_state = models.JSONField(default=dict, blank=True)
    #: A writer holds the session while it streams one chunk (see services.uploads).
    writer_token = models.CharField(max_length=64, blank=True, default="")
    writer_expires_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self) -> str:
        return f"upload {self.id} ({self.byte_count} bytes)"


class Manifest(models.Model):
    """A manifest in one repository, with its exact bytes."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(max_length=150)
    media_type = models.CharField(max_length=255)
    content = models.BinaryField()
    size = models.IntegerField()
    config_media_type = models.CharField(max_length=255, blank=True, default="")
    artifact_type = models.CharField(max_length=255, blank=True, default="")
    subject_digest = models.CharField(max_length=150, blank=True, default="")
    annotations = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    #: Set by DELETE by digest: the manifest is gone for clients, kept for the time machine
    #: until garbage collection.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="manifest_unique_digest_in_repository")]
        indexes = [models.Index(fields=["repository", "subject_digest"], name="manifest_subject_idx")]

    def __str__(self) -> str:
        return f"{self.repository.full_name}@{self.digest}"


class ManifestBlob(models.Model):
    """A blob (config or layer) referenced by a manifest."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="manifest_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["manifest", "blob"], name="manifest_blob_unique")]
        indexes = [models.Index(fields=["repository", "blob"], name="manifest_blob_repo_idx")]


class ManifestChild(models.Model):
    """A manifest listed by an index or manifest list."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="child_links")
    child = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="parent_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["manifest", "child"], name="manifest_child_unique")]


class Tag(models.Model):
    """One lifetime of a tag name. Moving or deleting a tag ends the live row; a move starts a new one.

    The partial unique index guarantees one live row per name, so two racing pushes of one tag
    cannot both win.
    """

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128)
    manifest = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="tags")
    lifetime_start = models.DateTimeField()
    lifetime_end = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    hidden = models.BooleanField(default=False)
    immutable = models.BooleanField(default=False)
    reversion = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "name"], condition=Q(lifetime_end__isnull=True), name="tag_one_live_row_per_name"
            )
        ]
        indexes = [
            models.Index(fields=["repository", "name", "lifetime_end"], name="tag_history_idx"),
            models.Index(fields=["manifest", "lifetime_end"], name="tag_manifest_idx"),
            # tags/list pages in the spec's case-insensitive order over live rows only
            models.Index(
                F("repository"), Lower("name"), F("name"), condition=Q(lifetime_end__isnull=True), name="tag_live_listing_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.repository.full_name}:{self.name}"


class RepositoryPermission(models.Model):
    """A role on one repository, granted to exactly one user, robot or team."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="permissions")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="repository_permissions")
    robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.CASCADE, related_name="repository_permissions")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="repository_permissions")
    role = models.CharField(max_length=8, choices=Role.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_of("user", "robot", "team"),
                name="repository_permission_has_one_grantee",
            ),
            models.UniqueConstraint(fields=["repository", "user"], condition=Q(user__isnull=False), name="repo_perm_unique_user"),
            models.UniqueConstraint(fields=["repository", "robot"], condition=Q(robot__isnull=False), name="repo_perm_unique_robot"),
            models.UniqueConstraint(fields=["repository", "team"], condition=Q(team__isnull=False), name="repo_perm_unique_team"),
        ]

    @property
    def grantee(self) -> User | Robot | Team:
        return self.user or self.robot or self.team  # type: ignore[return-value]

    def __str__(self) -> str:
        return f"{self.grantee} {self.role} on {self.repository}"


class AuditLog(models.Model):
    """One audited event: who did what, where, from which address. Names are copied so the entry
    stays readable after the user, robot or repository is gone."""

    kind = models.CharField(max_length=64, db_index=True)
    performer_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    performer_robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    performer_name = models.CharField(max_length=255, blank=True, default="")
    namespace_name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    repository = models.ForeignKey(Repository, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    repository_name = models.CharField(max_length=255, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    # A default, not auto_now_add: entries buffered in Redis (pulls) keep the time of the event.
    created = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["repository", "created"], name="auditlog_repo_time_idx")]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.kind} by {self.performer_name or '(anonymous)'}"


class Label(models.Model):
    """A key/value label on a manifest. Labels from the image config (source ``manifest``) are
    immutable; labels added through the API (``api``) can be deleted."""

    class Source(models.TextChoices):
        MANIFEST = "manifest", "Manifest"
        API = "api", "API"
        INTERNAL = "internal", "Internal"

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="labels")
    uuid = models.UUIDField(unique=True)
    key = models.CharField(max_length=255)
    value = models.TextField()
    media_type = models.CharField(max_length=64, default="text/plain")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key", "id"]
        indexes = [models.Index(fields=["manifest", "key"], name="label_manifest_key_idx")]

    @property
    def is_immutable(self) -> bool:
        return self.source == self.Source.MANIFEST

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class Star(models.Model):
    """A user's star on a repository."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="stars")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="stars")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "repository"], name="star_unique")]
