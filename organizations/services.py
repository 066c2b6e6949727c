"""Writes for organizations: creation (with the owners team), teams, members, default permissions."""

from __future__ import annotations

import re
import uuid

from django.db import IntegrityError, transaction

from accounts.models import Namespace, Robot, User
from accounts.services import NameTakenError, namespace_create
from accounts.signals import namespace_deleting
from common.errors import ConflictError, InvalidRequestError
from organizations.models import Organization, Prototype, Role, Team, TeamMember

OWNERS_TEAM = "owners"
#: Quay's team-name grammar (data/model/team.py): lowercase words joined by '.', '_' or '-', 2-255 chars
TEAM_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def validate_team_name(name: str) -> str:
    """Return ``name`` if it is a valid team name; INVALID_REQUEST otherwise."""
    if not 2 <= len(name) <= 255 or not TEAM_NAME_RE.match(name):
        raise InvalidRequestError(
            "team names are 2-255 lowercase letters and digits, optionally separated by '.', '_' or '-'", detail={"name": name[:100]}
        )
    return name


def organization_create(*, name: str, creator: User | None, email: str = "") -> Organization:
    """An organization with an ``owners`` team (admin role) holding ``creator``."""
    with transaction.atomic():
        namespace = namespace_create(name=name, kind=Namespace.Kind.ORGANIZATION)
        organization = Organization.objects.create(namespace=namespace, email=email)
        owners = Team.objects.create(organization=organization, name=OWNERS_TEAM, role=Team.TeamRole.ADMIN, description="Administrators of the organization")
        if creator is not None:
            TeamMember.objects.create(team=owners, user=creator)
    return organization


def organization_update(*, organization: Organization, email: str | None = None, tag_expiration_s: int | None = None) -> Organization:
    """Change the contact e-mail and/or the time-machine window (of the organization's namespace)."""
    with transaction.atomic():
        if email is not None and email != organization.email:
            organization.email = email
            organization.save(update_fields=["email"])
        if tag_expiration_s is not None:
            Namespace.objects.filter(pk=organization.namespace_id).update(tag_expiration_s=tag_expiration_s)
            organization.namespace.tag_expiration_s = tag_expiration_s
    return organization


def organization_delete(*, organization: Organization) -> None:
    """Delete an organization with its teams, robots and default permissions, and free its name.
    Its repositories disappear with it and are purged in the background (``namespace_deleting``).

    Raises:
        ConflictError: a repository remained (no receiver hid them).
    """
    namespace = organization.namespace
    with transaction.atomic():
        namespace_deleting.send(sender=Organization, namespace=namespace)
        if namespace.repositories.exists():
            raise ConflictError("the organization still has repositories; delete them first", detail={"organization": namespace.name})
        organization.delete()
        namespace.delete()  # cascades to the organization's robots


def organization_member_remove(*, organization: Organization, user: User) -> list[str]:
    """Take ``user`` out of every team of ``organization`` and revoke their direct permissions on
    its repositories (Quay's "remove member"). Returns the names of the teams they left.

    Raises:
        ConflictError: the user is the organization's last administrator.
    """
    with transaction.atomic():
        memberships = TeamMember.objects.select_for_update().filter(team__organization=organization, user=user).select_related("team")
        teams = sorted(membership.team.name for membership in memberships)
        admin_teams = [m.team_id for m in memberships if m.team.role == Team.TeamRole.ADMIN]
        if admin_teams and not _other_admins_exist(organization, user=user):
            raise ConflictError("the organization would be left without an administrator", detail={"member": user.username})
        TeamMember.objects.filter(team__organization=organization, user=user).delete()
        user.repository_permissions.filter(repository__namespace_id=organization.namespace_id).delete()
    return teams


def _other_admins_exist(organization: Organization, *, user: User) -> bool:
    """Whether a user other than ``user`` is in an admin team of ``organization``."""
    return (
        TeamMember.objects.filter(team__organization=organization, team__role=Team.TeamRole.ADMIN, user__isnull=False)
        .exclude(user=user)
        .exists()
    )


def team_validate(*, name: str, role: str) -> None:
    """The checks of ``team_upsert``, for forms that report errors before saving."""
    if role not in Team.TeamRole.values:
        raise InvalidRequestError(f"team role must be one of {', '.join(Team.TeamRole.values)}", detail={"role": role})
    validate_team_name(name)
    if name == OWNERS_TEAM and role != Team.TeamRole.ADMIN:
        raise InvalidRequestError("the owners team always has the admin role")  # else the organization could lose every admin


def team_upsert(*, organization: Organization, name: str, role: str, description: str | None = None) -> Team:
    """Create the team ``name`` or change its role (and description, when given).

    Raises:
        InvalidRequestError: bad role or name, or an attempt to take the admin role from ``owners``.
    """
    team_validate(name=name, role=role)
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


def team_member_validate(*, team: Team, user: User | None = None, robot: Robot | None = None) -> None:
    """The checks of ``team_member_add``: exactly one of user and robot, and only the organization's robots."""
    if (user is None) == (robot is None):
        raise InvalidRequestError("add either a user or a robot")
    if robot is not None and robot.namespace_id != team.organization.namespace_id:
        raise InvalidRequestError("only robots of the organization can join its teams", detail={"robot": robot.username})


def team_member_add(*, team: Team, user: User | None = None, robot: Robot | None = None) -> TeamMember:
    """Put a user or a robot of the organization in ``team`` (no-op when already there)."""
    team_member_validate(team=team, user=user, robot=robot)
    try:
        with transaction.atomic():
            return TeamMember.objects.create(team=team, user=user, robot=robot)
    except IntegrityError:
        return TeamMember.objects.get(team=team, user=user, robot=robot)


def team_member_remove(*, team: Team, user: User | None = None, robot: Robot | None = None) -> None:
    TeamMember.objects.filter(team=team, user=user, robot=robot).delete()


def prototype_validate(
    *, organization: Organization, role: str, delegate_user: User | None = None, delegate_robot: Robot | None = None,
    delegate_team: Team | None = None,
) -> None:
    """The checks of ``prototype_create``: a known role and exactly one delegate of the organization."""
    if role not in Role.values:
        raise InvalidRequestError(f"role must be one of {', '.join(Role.values)}")
    if sum(x is not None for x in (delegate_user, delegate_robot, delegate_team)) != 1:
        raise InvalidRequestError("a default permission names exactly one user, robot or team")
    if delegate_robot is not None and delegate_robot.namespace_id != organization.namespace_id:
        raise InvalidRequestError("only robots of the organization can receive its default permissions", detail={"robot": delegate_robot.username})
    if delegate_team is not None and delegate_team.organization_id != organization.pk:
        raise InvalidRequestError("only teams of the organization can receive its default permissions", detail={"team": str(delegate_team)})


def prototype_create(
    *, organization: Organization, role: str, delegate_user: User | None = None, delegate_robot: Robot | None = None,
    delegate_team: Team | None = None, activating_user: User | None = None,
) -> Prototype:
    """A default permission: repositories created in ``organization`` later (by ``activating_user``
    only, when given) grant ``role`` to the delegate. INVALID_REQUEST when ``prototype_validate`` refuses."""
    prototype_validate(
        organization=organization, role=role, delegate_user=delegate_user, delegate_robot=delegate_robot, delegate_team=delegate_team
    )
    return Prototype.objects.create(
        organization=organization, uuid=uuid.uuid4(), role=role, delegate_user=delegate_user,
        delegate_robot=delegate_robot, delegate_team=delegate_team, activating_user=activating_user,
    )


def prototype_update(*, prototype: Prototype, role: str) -> Prototype:
    """Change the role a default permission grants. INVALID_REQUEST for an unknown role."""
    if role not in Role.values:
        raise InvalidRequestError(f"role must be one of {', '.join(Role.values)}")
    prototype.role = role
    prototype.save(update_fields=["role"])
    return prototype


def prototype_delete(*, prototype: Prototype) -> None:
    """Remove a default permission; repositories created earlier keep the grants it gave them."""
    prototype.delete()


__all__ = ["NameTakenError", "organization_create", "team_upsert", "team_delete", "team_member_add", "team_member_remove", "prototype_create",
           "prototype_delete", "prototype_update", "organization_update", "organization_delete", "organization_member_remove", "validate_team_name", "team_validate", "team_member_validate", "prototype_validate"]
