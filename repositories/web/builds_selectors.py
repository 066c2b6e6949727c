"""Reads for the builds part of the web UI."""

from __future__ import annotations

from accounts.principals import Principal
from repositories.access import Action, is_allowed
from repositories.models import Repository
from repositories.models.builds import RepositoryBuild

RECENT_BUILDS = 10


def recent_builds(*, principal: Principal, repository: Repository) -> dict:
    """For the repository page: the latest builds and whether their logs may be read (write role)."""
    builds = list(RepositoryBuild.objects.filter(repository=repository).order_by("-created", "-pk")[:RECENT_BUILDS])
    return {"builds": builds, "can_read_build_logs": bool(builds) and is_allowed(principal, Action.PUSH, repository)}
