from django.contrib import admin
from django.urls import include, path

from registry_site import views

admin.site.site_header = "Moorage administration"
admin.site.site_title = "Moorage"
admin.site.index_title = "Registry console"

urlpatterns = [
    path("", include("oci.urls")),
    path("api/v1/", include("registry_site.api_urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("health/instance", views.health_instance, name="health-instance"),
    path("health/endtoend", views.health_endtoend, name="health-endtoend"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]
