"""Writes of the admin console: the registry-wide runtime read-only switch."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.principals import Principal
from repositories.models.console import RegistrySwitch
from repositories.selectors_dashboard import registry_switch_cache_clear
from repositories.services.audit import RequestInfo, audit_log


def registry_read_only_set(*, read_only: bool, reason: str = "", actor: Principal, request: RequestInfo | None = None) -> RegistrySwitch:
    """Switch the whole registry to read-only (every push, delete and tag change refused) or back,
    with an audit entry ``change_registry_read_only``. Locks the switch row; other processes see
    the change within ``selectors_dashboard.SWITCH_CACHE_SECONDS``. Setting the current value again
    only updates the reason (and is audited too: someone meant it)."""
    with transaction.atomic():
        switch, _ = RegistrySwitch.objects.select_for_update().get_or_create(pk=RegistrySwitch.SINGLETON_ID)
        previous = switch.read_only
        switch.read_only = read_only
        switch.reason = reason.strip()[:255]
        switch.changed_at = timezone.now()
        switch.changed_by_name = actor.name
        switch.save()
        audit_log(
            kind="change_registry_read_only", principal=actor, request=request,
            metadata={"read_only": read_only, "was_read_only": previous, "reason": switch.reason},
        )
    registry_switch_cache_clear()
    transaction.on_commit(registry_switch_cache_clear)
    return switch
