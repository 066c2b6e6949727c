"""Organizations, teams and default permissions ("prototypes"), after Quay."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Namespace, Robot, User


class Role(models.TextChoices):
    """Repository roles, ordered read < write < admin."""

    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}


def exactly_one_of(*fields: str) -> Q:
    """A CheckConstraint condition: exactly one of ``fields`` is set (a grant names one grantee)."""
    condition = Q()
    for chosen in fields:
        condition |= Q(**{f"{field}__isnull": field != chosen for field in fields})
    return condition


class Organization(models.Model):
    namespace = models.OneToOneField(Namespace, on_delete=models.PROTECT, related_name="organization")
    email = models.EmailField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["namespace__name"]

    @property
    def name(self) -> str:
        return self.namespace.name

    def __str__(self) -> str:
        return self.namespace.name


class Team(models.Model):
    class TeamRole(models.TextChoices):
        MEMBER = "member", "Member"
        CREATOR = "creator", "Creator"  # may create repositories
        ADMIN = "admin", "Admin"  # administers the organization and every repository in it

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=255)
    role = models.CharField(max_length=8, choices=TeamRole.choices, default=TeamRole.MEMBER)
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["organization__namespace__name", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="team_unique_name_in_org")]

    def __str__(self) -> str:
        return f"{self.organization.name}/{self.name}"


class TeamMember(models.Model):
    """A user or a robot in a team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="team_memberships")
    robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.CASCADE, related_name="team_memberships")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_of("user", "robot"),
                name="team_member_is_user_or_robot",
            ),
            models.UniqueConstraint(fields=["team", "user"], condition=Q(user__isnull=False), name="team_member_unique_user"),
            models.UniqueConstraint(fields=["team", "robot"], condition=Q(robot__isnull=False), name="team_member_unique_robot"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.robot} in {self.team}"


class Prototype(models.Model):
    """A default permission: when a repository is created in the organization (optionally only by
    ``activating_user``), grant ``role`` to the delegate user, robot or team."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="prototypes")
    uuid = models.UUIDField(unique=True)
    activating_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    delegate_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    delegate_robot = models.ForeignKey(Robot, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    delegate_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=8, choices=Role.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_of("delegate_user", "delegate_robot", "delegate_team"),
                name="prototype_has_one_delegate",
            )
        ]

    def __str__(self) -> str:
        delegate = self.delegate_user or self.delegate_robot or self.delegate_team
        return f"{self.organization}: {delegate} gets {self.role}"
