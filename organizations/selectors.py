"""Reads for organizations."""

from __future__ import annotations

from accounts.principals import Principal
from organizations.models import Team, TeamMember

_TEAM_ROLE_RANK = {Team.TeamRole.MEMBER: 1, Team.TeamRole.CREATOR: 2, Team.TeamRole.ADMIN: 3}


def team_ids_of(principal: Principal, *, namespace_id: int | None = None) -> list[int]:
    """Teams the user or robot belongs to (optionally only in one organization's namespace)."""
    if principal.is_anonymous:
        return []
    query = TeamMember.objects.filter(user_id=principal.user_id) if principal.kind == "user" else TeamMember.objects.filter(robot_id=principal.robot_id)
    if namespace_id is not None:
        query = query.filter(team__organization__namespace_id=namespace_id)
    return list(query.values_list("team_id", flat=True))


def organization_role_of(principal: Principal, *, namespace_id: int) -> str | None:
    """The strongest team role the principal holds in the organization owning ``namespace_id``."""
    if principal.is_anonymous:
        return None
    query = Team.objects.filter(organization__namespace_id=namespace_id)
    if principal.kind == "user":
        query = query.filter(members__user_id=principal.user_id)
    else:
        query = query.filter(members__robot_id=principal.robot_id)
    roles = set(query.values_list("role", flat=True))
    return max(roles, key=lambda role: _TEAM_ROLE_RANK[role]) if roles else None
