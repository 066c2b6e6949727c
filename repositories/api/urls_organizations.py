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
from repositories.api import autoprune, immutability, quotas
from repositories.api.proxy import ProxyCacheValidateView, ProxyCacheView
from repositories.api import mirror_org
from repositories.api.notifications import (
    OrgNotificationListView,
    OrgNotificationTestView,
    OrgNotificationView,
    UserNamespaceNotificationListView,
    UserNamespaceNotificationTestView,
    UserNamespaceNotificationView,
    UserNotificationListView,
    UserNotificationView,
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
    path(f"{ORG}/proxycache", ProxyCacheView.as_view(), name="api-org-proxycache"),
    path(f"{ORG}/validateproxycache", ProxyCacheValidateView.as_view(), name="api-org-validateproxycache"),
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
    path(f"{ORG}/notifications", OrgNotificationListView.as_view(), name="api-org-notifications"),
    path(f"{ORG}/notifications/<str:uuid>", OrgNotificationView.as_view(), name="api-org-notification"),
    path(f"{ORG}/notifications/<str:uuid>/test", OrgNotificationTestView.as_view(), name="api-org-notification-test"),
    path("user/namespacenotifications", UserNamespaceNotificationListView.as_view(), name="api-user-namespace-notifications"),
    path("user/namespacenotifications/<str:uuid>", UserNamespaceNotificationView.as_view(), name="api-user-namespace-notification"),
    path("user/namespacenotifications/<str:uuid>/test", UserNamespaceNotificationTestView.as_view(), name="api-user-namespace-notification-test"),
    path("user/notifications", UserNotificationListView.as_view(), name="api-user-notifications"),
    path("user/notifications/<str:uuid>", UserNotificationView.as_view(), name="api-user-notification"),
    path("users/<str:username>", PublicUserView.as_view(), name="api-public-user"),
    # tag lifecycle policies and quotas (issue #6)
    path(f"{ORG}/autoprunepolicy/", autoprune.OrgAutoPrunePolicyListView.as_view(), name="api-org-autoprune-policies"),
    path(f"{ORG}/autoprunepolicy/<str:uuid>", autoprune.OrgAutoPrunePolicyView.as_view(), name="api-org-autoprune-policy"),
    path("user/autoprunepolicy/", autoprune.UserAutoPrunePolicyListView.as_view(), name="api-user-autoprune-policies"),
    path("user/autoprunepolicy/<str:uuid>", autoprune.UserAutoPrunePolicyView.as_view(), name="api-user-autoprune-policy"),
    path(f"{ORG}/immutabilitypolicy/", immutability.OrgImmutabilityPolicyListView.as_view(), name="api-org-immutability-policies"),
    path(f"{ORG}/immutabilitypolicy/<str:uuid>", immutability.OrgImmutabilityPolicyView.as_view(), name="api-org-immutability-policy"),
    # organization mirroring (issue #7)
    path(f"{ORG}/mirror", mirror_org.OrganizationMirrorView.as_view(), name="api-org-mirror"),
    path(f"{ORG}/mirror/sync-now", mirror_org.OrganizationMirrorSyncNowView.as_view(), name="api-org-mirror-sync-now"),
    path(f"{ORG}/mirror/sync-cancel", mirror_org.OrganizationMirrorSyncCancelView.as_view(), name="api-org-mirror-sync-cancel"),
    path(f"{ORG}/mirror/verify", mirror_org.OrganizationMirrorVerifyView.as_view(), name="api-org-mirror-verify"),
    path(f"{ORG}/mirror/repositories", mirror_org.OrganizationMirrorRepositoriesView.as_view(), name="api-org-mirror-repositories"),
    path(f"{ORG}/quota", quotas.OrgQuotaListView.as_view(), name="api-org-quotas"),
    path(f"{ORG}/quota/<str:quota_id>", quotas.OrgQuotaView.as_view(), name="api-org-quota"),
    path(f"{ORG}/quota/<str:quota_id>/limit", quotas.OrgQuotaLimitListView.as_view(), name="api-org-quota-limits"),
    path(f"{ORG}/quota/<str:quota_id>/limit/<str:limit_id>", quotas.OrgQuotaLimitView.as_view(), name="api-org-quota-limit"),
    path("user/quota", quotas.UserQuotaListView.as_view(), name="api-user-quotas"),
    path("user/quota/<str:quota_id>", quotas.UserQuotaView.as_view(), name="api-user-quota"),
    path("user/quota/<str:quota_id>/limit", quotas.UserQuotaLimitListView.as_view(), name="api-user-quota-limits"),
    path("user/quota/<str:quota_id>/limit/<str:limit_id>", quotas.UserQuotaLimitView.as_view(), name="api-user-quota-limit"),
]
