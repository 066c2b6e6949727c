"""Routes of builds, triggers and the file drop (Quay's paths; included after urls_repositories,
which registers the repository path converters). ``webhook_urlpatterns`` is mounted at
``/webhooks/`` by registry_site.urls."""

from django.urls import path

import repositories.api.urls_repositories  # noqa: F401 - registers the repository path converters
from repositories.api import builds

_BUILD = "repository/<repository_path:repository>/build/"
_TRIGGER = "repository/<repository_path:repository>/trigger/"

urlpatterns = [
    path("filedrop/", builds.FileDropView.as_view(), name="api-filedrop"),
    path("filedrop/<str:file_id>", builds.FileDropUploadView.as_view(), name="api-filedrop-upload"),
    path(_BUILD, builds.RepositoryBuildListView.as_view(), name="api-repository-builds"),
    path(_BUILD + "<str:build_uuid>", builds.RepositoryBuildView.as_view(), name="api-repository-build"),
    path(_BUILD + "<str:build_uuid>/status", builds.RepositoryBuildStatusView.as_view(), name="api-repository-build-status"),
    path(_BUILD + "<str:build_uuid>/logs", builds.RepositoryBuildLogsView.as_view(), name="api-repository-build-logs"),
    path(_TRIGGER, builds.BuildTriggerListView.as_view(), name="api-repository-triggers"),
    path(_TRIGGER + "<str:trigger_uuid>", builds.BuildTriggerView.as_view(), name="api-repository-trigger"),
    path(_TRIGGER + "<str:trigger_uuid>/activate", builds.BuildTriggerActivateView.as_view(), name="api-repository-trigger-activate"),
    path(_TRIGGER + "<str:trigger_uuid>/start", builds.BuildTriggerStartView.as_view(), name="api-repository-trigger-start"),
    path(_TRIGGER + "<str:trigger_uuid>/builds", builds.BuildTriggerBuildsView.as_view(), name="api-repository-trigger-builds"),
]

webhook_urlpatterns = [
    path("push/trigger/<str:trigger_uuid>", builds.TriggerWebhookView.as_view(), name="build-trigger-webhook"),
]
