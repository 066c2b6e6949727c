"""Audit logs, superuser administration and banner messages (issue #4)."""

from django.urls import path, re_path

from repositories.api import exportlogs, logs, messages, quotas, superuser
from repositories.api.repos_common import RepositoryPathConverter

_REPO = rf"^repository/(?P<repository>{RepositoryPathConverter.regex})"

urlpatterns = [
    # a repository name may contain '/' (Quay's apirepopath); the pattern is spelled out here so it
    # does not depend on which route module registered the converter first
    re_path(rf"{_REPO}/logs\Z", logs.RepositoryLogsView.as_view(), name="api-repository-logs"),
    re_path(rf"{_REPO}/aggregatelogs\Z", logs.RepositoryAggregateLogsView.as_view(), name="api-repository-aggregatelogs"),
    path("organization/<str:orgname>/logs", logs.OrganizationLogsView.as_view(), name="api-organization-logs"),
    path("organization/<str:orgname>/aggregatelogs", logs.OrganizationAggregateLogsView.as_view(), name="api-organization-aggregatelogs"),
    path("user/logs", logs.UserLogsView.as_view(), name="api-user-logs"),
    path("user/aggregatelogs", logs.UserAggregateLogsView.as_view(), name="api-user-aggregatelogs"),
    re_path(rf"{_REPO}/exportlogs\Z", exportlogs.RepositoryExportLogsView.as_view(), name="api-repository-exportlogs"),
    path("organization/<str:orgname>/exportlogs", exportlogs.OrganizationExportLogsView.as_view(), name="api-organization-exportlogs"),
    path("user/exportlogs", exportlogs.UserExportLogsView.as_view(), name="api-user-exportlogs"),
    path("exportlogs/<uuid:export_id>", exportlogs.ExportLogsDownloadView.as_view(), name="api-exportlogs-download"),
    path("superuser/logs", logs.SuperuserLogsView.as_view(), name="api-superuser-logs"),
    path("superuser/aggregatelogs", logs.SuperuserAggregateLogsView.as_view(), name="api-superuser-aggregatelogs"),
    path("superuser/users/", superuser.SuperuserUserListView.as_view(), name="api-superuser-users"),
    path("superuser/users/<str:username>", superuser.SuperuserUserView.as_view(), name="api-superuser-user"),
    path("superuser/users/<str:namespace>/quota", quotas.SuperuserQuotaListView.as_view(), name="api-superuser-quotas"),
    path("superuser/users/<str:namespace>/quota/<str:quota_id>", quotas.SuperuserQuotaView.as_view(), name="api-superuser-quota"),
    path("superuser/organizations/", superuser.SuperuserOrganizationListView.as_view(), name="api-superuser-organizations"),
    path("superuser/organizations/<str:name>", superuser.SuperuserOrganizationView.as_view(), name="api-superuser-organization"),
    path("superuser/registrysize/", superuser.SuperuserRegistrySizeView.as_view(), name="api-superuser-registrysize"),
    path("superuser/config", superuser.SuperuserConfigView.as_view(), name="api-superuser-config"),
    path("messages", messages.MessageListView.as_view(), name="api-messages"),
    path("message/<uuid:message_uuid>", messages.MessageView.as_view(), name="api-message"),
]
