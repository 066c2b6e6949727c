"""The audit log: every security-relevant action writes one row here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from accounts.principals import Principal
from repositories.models import AuditLog, Repository

logger = logging.getLogger("moorage.audit")


@dataclass(frozen=True)
class RequestInfo:
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def of(cls, request: Any) -> "RequestInfo":
        """Where a Django or DRF request came from (its address and user agent)."""
        return cls(ip=request.META.get("REMOTE_ADDR"), user_agent=request.headers.get("User-Agent", "")[:512])


def audit_log(
    *, kind: str, principal: Principal | None, repository: Repository | None = None, namespace_name: str = "",
    request: RequestInfo | None = None, metadata: dict[str, Any] | None = None,
) -> AuditLog:
    """Record ``kind`` (``push_repo``, ``pull_repo``, ``login_failure``...). Never store secrets in metadata."""
    principal = principal or Principal()
    if repository is not None and not namespace_name:
        namespace_name = repository.full_name.split("/", 1)[0]
    entry = AuditLog.objects.create(
        kind=kind,
        performer_user_id=principal.user_id,
        performer_robot_id=principal.robot_id,
        performer_name=principal.name,
        namespace_name=namespace_name[:255],
        repository=repository,
        repository_name=repository.full_name if repository is not None else "",
        ip=(request.ip if request else None) or None,
        user_agent=(request.user_agent if request else "")[:512],
        metadata=metadata or {},
    )
    logger.debug("audit %s by %s on %s", kind, principal.display_name, entry.repository_name or namespace_name or "-")
    return entry
