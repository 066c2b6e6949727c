"""Writes for organizations: creation (with the owners team), teams, members, default permissions."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from accounts.models import Namespace, Robot, User
from accounts.services import NameTakenError, namespace_create
from common.errors import InvalidRequestError
from organizations.models import Organization, Prototype, Role, Team, TeamMember

OWNERS_TEAM = "owners"


def organization_create(*, name: str, creator: User | None, email: str = "") -> Organization:
    """An organization with an ``owners`` team (admin role) holding ``creator``."""
    with transaction.atomic():
        namespace = namespace_create(name=name, kind=Namespace.Kind.ORGANIZATION)
        organization = Organization.objects.create(namespace=namespace, email=email)
        owners = Team.objects.create(organization=organization, name=OWNERS_TEAM, role=Team.TeamRole.ADMIN, description="Administrators of the organization")
        if creator is not None:
            TeamMember.objects.create(team=owners, user=creator)
    return organization


def team_upsert(*, organization: Organization, name: str, role: str, description: str | None = None) -> Team:
    if role not in Team.TeamRole.values:
        raise InvalidRequestError(f"team role must be one of {', '.join(Team.TeamRole.values)}", detail={"role": role})
    if not name or len(name) > 255:
        raise InvalidRequestError("team name must be 1-255 characters")
    team, created = Team.objects.get_or_create(organization=organization, name=name, defaults={"role": role, "description": description or ""})
    if not created:
        team.role = role
        if description is not None:
            team.description = description
        team.save(update_fields=["role", "description"])
    return team


def team_delete(*, team: Team) -> None:
    if team.name == OWNERS_TEAM:
        raise InvalidRequestError("the owners team cannot be deleted")
    team.delete()


def team_member_add(*, team: Team, user: User | None = None, robot: Robot | None = None) -> TeamMember:
    if (user is None) == (robot is None):
        raise InvalidRequestError("add either a user or a robot")
    if robot is not None and robot.namespace_id != team.organization.namespace_id:
        raise InvalidRequestError("only robots of the organization can join its teams", detail={"robot": robot.username})
    try:
        with transaction.atomic():
            return TeamMember.objects.create(team=team, user=user, robot=robot)
    except IntegrityError:
        return TeamMember.objects.get(team=team, user=user, robot=robot)


def team_member_remove(*, team: Team, user: User | None = None, robot: Robot | None = None) -> None:
    TeamMember.objects.filter(team=team, user=user, robot=robot).delete()


def prototype_create(
    *, organization: Organization, role: str, delegate_user: User | None = None, delegate_robot: Robot | None = None,
    delegate_team: Team | None = None, activating_user: User | None = None,
) -> Prototype:
    if role not in Role.values:
        raise InvalidRequestError(f"role must be one of {', '.join(Role.values)}")
    if sum(x is not None for x in (delegate_user, delegate_robot, delegate_team)) != 1:
        raise InvalidRequestError("a default permission names exactly one user, robot or team")
    return Prototype.objects.create(
        organization=organization, uuid=uuid.uuid4(), role=role, delegate_user=delegate_user,
        delegate_robot=delegate_robot, delegate_team=delegate_team, activating_user=activating_user,
    )


__all__ = ["NameTakenError", "organization_create", "team_upsert", "team_delete", "team_member_add", "team_member_remove", "prototype_create"]
