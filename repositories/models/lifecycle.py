"""Tag lifecycle and quota models, after Quay's: auto-prune and immutability policies per
namespace or repository, one storage quota per namespace with Warning/Reject thresholds, and
cached deduplicated usage per namespace and per repository."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models import Namespace
from repositories.models.content import Repository

__all__ = ["AutoPrunePolicy", "ImmutabilityPolicy", "NamespaceQuota", "QuotaLimit", "NamespaceUsage", "RepositoryUsage"]


class AutoPrunePolicy(models.Model):
    """Keep the N most recent tags (``number_of_tags``) or tags younger than an age
    (``creation_date``) in every repository of a namespace, or in one repository when
    ``repository`` is set; optionally only tags whose name matches (or does not match) a regex."""

    class Method(models.TextChoices):
        NUMBER_OF_TAGS = "number_of_tags", "Number of tags"
        CREATION_DATE = "creation_date", "Creation date"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="autoprune_policies")
    repository = models.ForeignKey(Repository, null=True, blank=True, on_delete=models.CASCADE, related_name="autoprune_policies")
    method = models.CharField(max_length=16, choices=Method.choices)
    #: a tag count, or an age such as ``2w`` (``<n><s|m|h|d|w>``) as the client sent it
    value = models.CharField(max_length=32)
    tag_pattern = models.CharField(max_length=255, blank=True, default="")
    tag_pattern_matches = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    last_run = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]
        verbose_name_plural = "auto-prune policies"

    def __str__(self) -> str:
        scope = self.repository.full_name if self.repository_id else self.namespace.name
        return f"{scope}: {self.method}={self.value}"


class ImmutabilityPolicy(models.Model):
    """Tags whose name matches (or, with ``tag_pattern_matches`` False, does not match)
    ``tag_pattern`` become immutable when pushed, in a namespace or in one repository."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="immutability_policies")
    repository = models.ForeignKey(Repository, null=True, blank=True, on_delete=models.CASCADE, related_name="immutability_policies")
    tag_pattern = models.CharField(max_length=255)
    tag_pattern_matches = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        verbose_name_plural = "immutability policies"
        indexes = [models.Index(fields=["namespace", "repository"], name="immutability_scope_idx")]

    def __str__(self) -> str:
        scope = self.repository.full_name if self.repository_id else self.namespace.name
        return f"{scope}: {'' if self.tag_pattern_matches else 'not '}{self.tag_pattern}"


class NamespaceQuota(models.Model):
    """The storage quota of a namespace (at most one), in bytes."""

    namespace = models.OneToOneField(Namespace, on_delete=models.CASCADE, related_name="quota")
    limit_bytes = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.namespace.name}: {self.limit_bytes} bytes"


class QuotaLimit(models.Model):
    """A threshold of a quota in percent: ``Warning`` notifies, ``Reject`` refuses pushes."""

    class Type(models.TextChoices):
        WARNING = "Warning", "Warning"
        REJECT = "Reject", "Reject"

    quota = models.ForeignKey(NamespaceQuota, on_delete=models.CASCADE, related_name="limits")
    type = models.CharField(max_length=8, choices=Type.choices)
    threshold_percent = models.PositiveIntegerField()

    class Meta:
        ordering = ["threshold_percent", "id"]
        constraints = [
            models.UniqueConstraint(fields=["quota", "type", "threshold_percent"], name="quota_limit_unique"),
            models.CheckConstraint(condition=models.Q(threshold_percent__gte=1), name="quota_limit_percent_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.threshold_percent}%"


class NamespaceUsage(models.Model):
    """Deduplicated bytes of the blobs referenced by manifests in a namespace's repositories,
    kept current on push and recomputed periodically; ``notified_level`` throttles the
    threshold notifications (0 none, 1 warning sent, 2 error sent) until usage drops below."""

    namespace = models.OneToOneField(Namespace, on_delete=models.CASCADE, related_name="usage")
    size_bytes = models.BigIntegerField(default=0)
    notified_level = models.PositiveSmallIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)
    recomputed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.namespace.name}: {self.size_bytes} bytes"


class RepositoryUsage(models.Model):
    """Deduplicated bytes of the blobs referenced by the repository's manifests."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, related_name="usage")
    size_bytes = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.repository.full_name}: {self.size_bytes} bytes"
