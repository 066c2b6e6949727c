"""Quay's organization API under ``/api/v1/organization/``: organizations, members and outside
collaborators, teams and their members, default permissions ("prototypes"); and public user
information under ``/api/v1/users/<username>``.

Who may do what (Quay's rules; roles come only from teams, see organizations.selectors):

* anyone may read an organization's public summary; its members also see its teams;
* organization admins (users in an admin team) and superusers may read members, collaborators,
  team permissions and default permissions (global read-only superusers too) and change anything;
* a team's members may list that team's members;
* writes need a user, never a robot, and an API token (if any) with the ``org:admin`` scope.

These views live in the repositories app because they write audit-log entries and read
repository permissions (organizations may not import repositories). Every write calls one
service and records one audit entry in the same transaction.
"""

from __future__ import annotations

from repositories.api.organizations.common import audit, org_caller, permission_body, require_org_admin
from repositories.api.organizations.members import (
    OrganizationCollaboratorListView,
    OrganizationMemberListView,
    OrganizationMemberView,
)
from repositories.api.organizations.organizations import OrganizationDetailView, OrganizationListView, PublicUserView
from repositories.api.organizations.prototypes import PrototypeListView, PrototypeView
from repositories.api.organizations.serializers import RepositoryPermissionListSerializer
from repositories.api.organizations.teams import TeamMemberListView, TeamMemberView, TeamPermissionListView, TeamView

__all__ = [
    "OrganizationCollaboratorListView",
    "OrganizationDetailView",
    "OrganizationListView",
    "OrganizationMemberListView",
    "OrganizationMemberView",
    "PrototypeListView",
    "PrototypeView",
    "PublicUserView",
    "RepositoryPermissionListSerializer",
    "TeamMemberListView",
    "TeamMemberView",
    "TeamPermissionListView",
    "TeamView",
    "audit",
    "org_caller",
    "permission_body",
    "require_org_admin",
]
