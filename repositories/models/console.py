"""Models for the admin console: the registry-wide runtime switches a superuser flips from the
dashboard (the config file's ``registry.read_only`` needs a restart; this one does not)."""

from __future__ import annotations

from django.db import models

__all__ = ["RegistrySwitch"]


class RegistrySwitch(models.Model):
    """The one row (``pk=1``) of runtime switches. ``read_only`` refuses every write (push, delete,
    tag changes) on every repository, like the config value ``registry.read_only``; the write path
    reads it through ``selectors_dashboard.registry_read_only_switch`` (cached for a few seconds)."""

    SINGLETON_ID = 1

    read_only = models.BooleanField(default=False, help_text="Refuse every write until switched off.")
    reason = models.CharField(max_length=255, blank=True, default="", help_text="Shown on the dashboard.")
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by_name = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "registry switch"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="registryswitch_singleton")]

    def __str__(self) -> str:
        return "read-only" if self.read_only else "writable"
