"""Routes of repositories, their permissions, stars, repository search and entity autocomplete
(issue #4, Quay's paths). Suffix routes come before the bare ``repository/<repo>`` route, whose
converter refuses sub-resource keywords so the tag, manifest and log route modules stay reachable."""

from django.urls import path, register_converter

from repositories.api import autoprune, immutability, notifications, repos_permissions, repos_search, repos_stars, repositories
from repositories.api import mirror as mirror_api
from repositories.api import mirror_org
from repositories.api.repos_common import BareRepositoryPathConverter, RepositoryPathConverter

register_converter(RepositoryPathConverter, "repository_path")
register_converter(BareRepositoryPathConverter, "bare_repository_path")

urlpatterns = [
    path("repository", repositories.RepositoryListView.as_view(), name="api-repositories"),
    path("repository/mirror/health", mirror_org.MirrorHealthView.as_view(), name="api-repository-mirror-health"),
    path("repository/<repository_path:repository>/changevisibility", repositories.RepositoryVisibilityView.as_view(), name="api-repository-visibility"),
    path("repository/<repository_path:repository>/changestate", repositories.RepositoryStateView.as_view(), name="api-repository-state"),
    path("repository/<repository_path:repository>/permissions/user/", repos_permissions.UserPermissionListView.as_view(), name="api-repository-user-permissions"),
    path(
        "repository/<repository_path:repository>/permissions/user/<str:username>/transitive",
        repos_permissions.UserTransitivePermissionView.as_view(), name="api-repository-user-permission-transitive",
    ),
    path(
        "repository/<repository_path:repository>/permissions/user/<str:username>",
        repos_permissions.UserPermissionDetailView.as_view(), name="api-repository-user-permission",
    ),
    path("repository/<repository_path:repository>/permissions/team/", repos_permissions.TeamPermissionListView.as_view(), name="api-repository-team-permissions"),
    path(
        "repository/<repository_path:repository>/permissions/team/<str:teamname>",
        repos_permissions.TeamPermissionView.as_view(), name="api-repository-team-permission",
    ),
    path("repository/<repository_path:repository>/notification/", notifications.RepositoryNotificationListView.as_view(), name="api-repository-notifications"),
    path(
        "repository/<repository_path:repository>/notification/<str:uuid>/test",
        notifications.RepositoryNotificationTestView.as_view(), name="api-repository-notification-test",
    ),
    path("repository/<repository_path:repository>/notification/<str:uuid>", notifications.RepositoryNotificationView.as_view(), name="api-repository-notification"),
    path("repository/<repository_path:repository>/autoprunepolicy/", autoprune.RepositoryAutoPrunePolicyListView.as_view(), name="api-repository-autoprune-policies"),
    path("repository/<repository_path:repository>/autoprunepolicy/<str:uuid>", autoprune.RepositoryAutoPrunePolicyView.as_view(), name="api-repository-autoprune-policy"),
    path("repository/<repository_path:repository>/immutabilitypolicy/", immutability.RepositoryImmutabilityPolicyListView.as_view(), name="api-repository-immutability-policies"),
    path(
        "repository/<repository_path:repository>/immutabilitypolicy/<str:uuid>",
        immutability.RepositoryImmutabilityPolicyView.as_view(), name="api-repository-immutability-policy",
    ),
    path("repository/<repository_path:repository>/mirror", mirror_api.RepositoryMirrorView.as_view(), name="api-repository-mirror"),
    path("repository/<repository_path:repository>/mirror/sync-now", mirror_api.RepositoryMirrorSyncNowView.as_view(), name="api-repository-mirror-sync-now"),
    path("repository/<repository_path:repository>/mirror/sync-cancel", mirror_api.RepositoryMirrorSyncCancelView.as_view(), name="api-repository-mirror-sync-cancel"),
    path("repository/<bare_repository_path:repository>", repositories.RepositoryDetailView.as_view(), name="api-repository"),
    path("user/starred", repos_stars.StarredRepositoryListView.as_view(), name="api-starred"),
    path("user/starred/<repository_path:repository>", repos_stars.StarredRepositoryView.as_view(), name="api-starred-repository"),
    path("find/repositories", repos_search.RepositorySearchView.as_view(), name="api-find-repositories"),
    path("entities/<str:prefix>", repos_search.EntitySearchView.as_view(), name="api-entities"),
]
