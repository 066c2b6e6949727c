"""Routes of the repository-level API, one module per resource group."""

from django.urls import include, path

urlpatterns = [
    path("", include("repositories.api.urls_repositories")),
    path("", include("repositories.api.urls_tags")),
    path("", include("repositories.api.urls_admin")),
    path("", include("repositories.api.urls_organizations")),
]
