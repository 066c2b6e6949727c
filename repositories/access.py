"""The one authorization authority: (principal, repository, action) -> allowed.

Every /v2 endpoint asks here. The identity issue (#3) adds roles, teams, robots, visibility
and token scopes behind this same function; until then the registry is either open to
anonymous clients on loopback (``registry.anonymous_access``) or limited to superusers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.conf import settings

from accounts.models import User
from repositories.models import Repository


class Action(str, enum.Enum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    CATALOG = "catalog"


@dataclass(frozen=True)
class Principal:
    user: User | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def display_name(self) -> str:
        return self.user.username if self.user else "(anonymous)"


ANONYMOUS = Principal()


def is_allowed(principal: Principal, action: Action, repository: Repository | None = None, *, namespace_name: str = "") -> bool:
    """Whether ``principal`` may perform ``action`` on ``repository`` (None: not created yet).

    READ_ONLY repositories refuse writes whoever asks; MIRROR repositories take writes only
    from their mirror robot (none exist before the mirroring issue).
    """
    if action in (Action.PUSH, Action.DELETE) and repository is not None and repository.state != Repository.State.NORMAL:
        return False
    if principal.user is not None and principal.user.is_active and principal.user.is_superuser:
        return True
    return bool(settings.MOORAGE_REGISTRY["anonymous_access"])


def refusal_reason(action: Action, repository: Repository | None) -> str:
    """The message a client sees when ``is_allowed`` said no."""
    if repository is not None and action in (Action.PUSH, Action.DELETE):
        if repository.state == Repository.State.READ_ONLY:
            return f"repository {repository.full_name} is read-only"
        if repository.state == Repository.State.MIRROR:
            return f"repository {repository.full_name} is a mirror; only its mirror robot may push"
    return "requested access to the resource is denied"
