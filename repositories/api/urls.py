"""Routes of the repository-level API, one module per resource group."""

from django.urls import include, path

urlpatterns = [
    path("", include("repositories.api.urls_security")),  # before the bare repository/<repo> route
    path("", include("repositories.api.urls_repositories")),
    path("", include("repositories.api.urls_builds")),
    path("", include("repositories.api.urls_tags")),
    path("", include("repositories.api.urls_admin")),
    path("", include("repositories.api.urls_organizations")),
]
