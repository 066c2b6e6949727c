"""Reads for organizations."""

from __future__ import annotations

import uuid as uuid_module

from django.db.models import Count

from accounts.models import User
from accounts.principals import Principal
from organizations.models import Organization, Prototype, Team, TeamMember

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


def organization_find(*, name: str) -> Organization | None:
    """The organization called ``name`` (with its namespace), or None."""
    return Organization.objects.select_related("namespace").filter(namespace__name=name).first()


def team_find(*, organization: Organization, name: str) -> Team | None:
    return Team.objects.select_related("organization__namespace").filter(organization=organization, name=name).first()


def teams_with_counts(*, organization: Organization) -> list[Team]:
    """The organization's teams in creation order, each with ``member_count`` and ``repo_count``."""
    return list(
        Team.objects.filter(organization=organization)
        .annotate(member_count=Count("members", distinct=True), repo_count=Count("repository_permissions", distinct=True))
        .order_by("id")
    )


def team_names_of(principal: Principal, *, organization: Organization) -> set[str]:
    """Names of the organization's teams the user or robot belongs to."""
    return set(Team.objects.filter(pk__in=team_ids_of(principal, namespace_id=organization.namespace_id)).values_list("name", flat=True))


def organization_user_memberships(*, organization: Organization, user: User | None = None) -> list[TeamMember]:
    """Team memberships of people (not robots) in the organization, by user name then team name."""
    query = TeamMember.objects.filter(team__organization=organization, user__isnull=False)
    if user is not None:
        query = query.filter(user=user)
    return list(query.select_related("user", "team").order_by("user__username", "team__name"))


def organization_member_ids(*, organization: Organization) -> set[int]:
    """Ids of the users in any team of the organization."""
    return set(TeamMember.objects.filter(team__organization=organization, user__isnull=False).values_list("user_id", flat=True))


def team_members(*, team: Team) -> list[TeamMember]:
    """The team's members, people first then robots, each by name."""
    members = list(TeamMember.objects.filter(team=team).select_related("user", "robot__namespace"))
    return sorted(members, key=lambda m: (m.robot_id is not None, m.user.username if m.user else m.robot.username))


def prototypes_of(*, organization: Organization) -> list[Prototype]:
    return list(
        Prototype.objects.filter(organization=organization)
        .select_related("activating_user", "delegate_user", "delegate_robot__namespace", "delegate_team")
        .order_by("id")
    )


def prototype_find(*, organization: Organization, uuid: str) -> Prototype | None:
    try:
        parsed = uuid_module.UUID(uuid)
    except ValueError:
        return None
    return (
        Prototype.objects.select_related("activating_user", "delegate_user", "delegate_robot__namespace", "delegate_team")
        .filter(organization=organization, uuid=parsed)
        .first()
    )
