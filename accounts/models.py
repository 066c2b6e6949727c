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
    """A person signing in to Moorage. Robots and app tokens come with the identity issue."""

    namespace = models.OneToOneField(Namespace, null=True, blank=True, on_delete=models.PROTECT, related_name="user")

    def __str__(self) -> str:
        return self.username
