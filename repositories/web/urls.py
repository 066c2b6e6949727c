"""Routes of the web UI. Mounted last at the site root: /v2, /api, /admin, /health and /metrics
match first; "/" redirects to the UI under /ui/. Repository names contain slashes, so the
manifest route (whose digest holds a colon, never part of a name) comes before the repository's."""

from django.urls import path, re_path
from django.views.generic import RedirectView

from repositories.web import builds as build_views
from repositories.web import views

app_name = "web"
#: algorithm:encoded, as the OCI grammar has it (the colon keeps it apart from name components)
DIGEST = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="web:explore", permanent=False), name="root"),
    path("ui/", views.explore, name="explore"),
    path("ui/signin", views.SignInView.as_view(), name="signin"),
    path("ui/signout", views.SignOutView.as_view(), name="signout"),
    path("ui/settings", views.user_settings, name="settings"),
    path("ui/settings/tokens/<str:token_uuid>/revoke", views.app_token_revoke_view, name="app-token-revoke"),
    path("ui/organization/<str:name>", views.organization_detail, name="organization"),
    path("ui/user/<str:name>", views.user_namespace_detail, name="user"),
    path("ui/star/<path:name>", views.star, name="star"),
    re_path(rf"^ui/repository/(?P<name>.+)/manifest/(?P<digest>{DIGEST})$", views.manifest_detail, name="manifest"),
    re_path(r"^ui/repository/(?P<name>.+)/build/(?P<build_uuid>[0-9a-f]{32})$", build_views.build_log_page, name="build-log"),
    path("ui/repository/<path:name>", views.repository_detail, name="repository"),
]
