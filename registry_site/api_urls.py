"""``/api/v1/``: every app's API routes, the OpenAPI schema, Swagger UI and ReDoc."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("accounts.api.urls")),
    path("", include("organizations.api.urls")),
    path("", include("repositories.api.urls")),
]
