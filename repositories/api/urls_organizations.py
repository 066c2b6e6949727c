"""Routes of Quay's organization, team, default-permission, robot and public-user resources."""

from django.urls import path

from repositories.api.organizations import (
    OrganizationCollaboratorListView,
    OrganizationDetailView,
    OrganizationListView,
    OrganizationMemberListView,
    OrganizationMemberView,
    PrototypeListView,
    PrototypeView,
    PublicUserView,
    TeamMemberListView,
    TeamMemberView,
    TeamPermissionListView,
    TeamView,
)
from repositories.api.robots import (
    OrgRobotListView,
    OrgRobotPermissionsView,
    OrgRobotRegenerateView,
    OrgRobotView,
    UserRobotListView,
    UserRobotPermissionsView,
    UserRobotRegenerateView,
    UserRobotView,
)

ORG = "organization/<str:orgname>"

urlpatterns = [
    path("organization/", OrganizationListView.as_view(), name="api-organizations"),
    path(ORG, OrganizationDetailView.as_view(), name="api-organization"),
    path(f"{ORG}/collaborators", OrganizationCollaboratorListView.as_view(), name="api-organization-collaborators"),
    path(f"{ORG}/members", OrganizationMemberListView.as_view(), name="api-organization-members"),
    path(f"{ORG}/members/<str:membername>", OrganizationMemberView.as_view(), name="api-organization-member"),
    path(f"{ORG}/team/<str:teamname>", TeamView.as_view(), name="api-team"),
    path(f"{ORG}/team/<str:teamname>/members", TeamMemberListView.as_view(), name="api-team-members"),
    path(f"{ORG}/team/<str:teamname>/members/<str:membername>", TeamMemberView.as_view(), name="api-team-member"),
    path(f"{ORG}/team/<str:teamname>/permissions", TeamPermissionListView.as_view(), name="api-team-permissions"),
    path(f"{ORG}/prototypes", PrototypeListView.as_view(), name="api-prototypes"),
    path(f"{ORG}/prototypes/<str:prototypeid>", PrototypeView.as_view(), name="api-prototype"),
    path(f"{ORG}/robots", OrgRobotListView.as_view(), name="api-org-robots"),
    path(f"{ORG}/robots/<str:robot_shortname>", OrgRobotView.as_view(), name="api-org-robot"),
    path(f"{ORG}/robots/<str:robot_shortname>/regenerate", OrgRobotRegenerateView.as_view(), name="api-org-robot-regenerate"),
    path(f"{ORG}/robots/<str:robot_shortname>/permissions", OrgRobotPermissionsView.as_view(), name="api-org-robot-permissions"),
    path("user/robots", UserRobotListView.as_view(), name="api-user-robots"),
    path("user/robots/<str:robot_shortname>", UserRobotView.as_view(), name="api-user-robot"),
    path("user/robots/<str:robot_shortname>/regenerate", UserRobotRegenerateView.as_view(), name="api-user-robot-regenerate"),
    path("user/robots/<str:robot_shortname>/permissions", UserRobotPermissionsView.as_view(), name="api-user-robot-permissions"),
    path("users/<str:username>", PublicUserView.as_view(), name="api-public-user"),
]
