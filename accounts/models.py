"""Users and the namespace of names that users and organizations share."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Namespace(models.Model):
    """A name that owns repositories: a user's own namespace or an organization.

    Users and organizations share this one table of names, so ``acme`` can never be both.
    """

    class Kind(models.TextChoices):
        USER = "user", "User"
        ORGANIZATION = "organization", "Organization"

    name = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ORGANIZATION)
    created = models.DateTimeField(auto_now_add=True)
    #: Time-machine window: how long ended tags stay restorable before GC may remove them.
    tag_expiration_s = models.PositiveIntegerField(default=14 * 24 * 3600)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person signing in to Moorage; owns the namespace of the same name."""

    namespace = models.OneToOneField(Namespace, null=True, blank=True, on_delete=models.PROTECT, related_name="user")
    #: reads everything a superuser can read, writes nothing
    is_global_readonly_superuser = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.username


class Robot(models.Model):
    """A robot account ``<namespace>+<shortname>``, owned by a user's namespace or an organization.

    Its token is stored as a SHA-256 hash and found by a public prefix (see accounts.secrets).
    """

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="robots")
    shortname = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="")
    #: free-form JSON an operator attaches to the robot (Quay's ``unstructured_metadata``)
    unstructured_metadata = models.JSONField(default=dict, blank=True)
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["namespace__name", "shortname"]
        constraints = [models.UniqueConstraint(fields=["namespace", "shortname"], name="robot_unique_name_in_namespace")]

    @property
    def username(self) -> str:
        return f"{self.namespace.name}+{self.shortname}"

    def __str__(self) -> str:
        return self.username


class AppToken(models.Model):
    """An app-specific token: a user's password substitute for CLI clients, with optional expiry."""

    uuid = models.UUIDField(unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="app_tokens")
    title = models.CharField(max_length=255)
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.title} ({self.user.username})"


class SigningKey(models.Model):
    """A key pair that signs registry bearer tokens. Shared by every instance through the database;
    rotated on a schedule, kept for verification until tokens it signed have expired."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_key_pem = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    #: no new tokens are signed after this moment
    retire_at = models.DateTimeField()
    #: tokens signed by this key are no longer accepted after this moment
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.kid


class BannerMessage(models.Model):
    """A registry-wide message set by a superuser and shown to every user (Quay's global messages)."""

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    uuid = models.UUIDField(unique=True)
    content = models.TextField()
    media_type = models.CharField(max_length=32, default="text/markdown")
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.content[:60]}"
