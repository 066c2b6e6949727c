"""Pull-through proxy cache organizations (Quay's ``ProxyCacheConfig``): an organization whose
repositories are filled on demand from an upstream registry by ``repositories.services.proxy``."""

from __future__ import annotations

from django.db import models

from organizations.models import Organization
from repositories.models.content import Repository

__all__ = ["DEFAULT_PROXY_EXPIRATION_S", "ProxyCacheConfig", "ProxyCachedTag", "ProxyPendingManifest"]

#: Quay's default expiry of a cached tag (24 hours)
DEFAULT_PROXY_EXPIRATION_S = 86400


class ProxyCacheConfig(models.Model):
    """The organization is a cache of ``upstream_registry``: ``host[:port][/namespace]``.

    A pull of ``<org>/<path>`` is served from ``<host>/<namespace>/<path>`` (Docker Hub names of
    one segment get ``library/``). Credentials are stored encrypted (the mirror's Fernet helper);
    the API never shows the password. ``insecure`` turns TLS verification off (and allows plain
    HTTP, as container tools do for an insecure registry).
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="proxy_cache")
    upstream_registry = models.CharField(max_length=512, help_text="host[:port][/namespace], e.g. docker.io or registry.example.com/library")
    username_encrypted = models.TextField(blank=True, default="")
    password_encrypted = models.TextField(blank=True, default="")
    insecure = models.BooleanField(default=False, help_text="skip TLS verification (and allow plain HTTP)")
    expiration_s = models.PositiveIntegerField(default=DEFAULT_PROXY_EXPIRATION_S, help_text="seconds a cached tag is served before the upstream is asked again")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "proxy cache configuration"

    def __str__(self) -> str:
        return f"{self.organization.name} <- {self.upstream_registry}"


class ProxyCachedTag(models.Model):
    """A tag the cache serves: the digest the upstream last named, when the upstream was last
    asked (revalidation after ``expiration_s``) and when a client last pulled it (eviction picks
    the least recently pulled first)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="proxy_tags")
    name = models.CharField(max_length=255)
    digest = models.CharField(max_length=150)
    checked_at = models.DateTimeField()
    pulled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="proxy_tag_unique_name")]
        indexes = [models.Index(fields=["pulled_at"], name="proxy_tag_pulled_idx")]

    def __str__(self) -> str:
        return f"{self.repository.full_name}:{self.name} -> {self.digest[:19]}"


class ProxyPendingManifest(models.Model):
    """A manifest fetched from the upstream whose blobs are not all stored yet (Quay's
    placeholders). It is served from here; the first pull of each missing blob streams it from
    the upstream into storage, and once every blob is stored the manifest is stored for real
    (``manifest_put``) and this row goes."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="proxy_pending_manifests")
    digest = models.CharField(max_length=150)
    media_type = models.CharField(max_length=255)
    content = models.BinaryField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="proxy_pending_unique_digest")]

    def __str__(self) -> str:
        return f"{self.repository.full_name}@{self.digest[:19]} (blobs pending)"
