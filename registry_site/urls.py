from django.contrib import admin
from django.urls import include, path

from registry_site import views
from repositories.api.urls_builds import webhook_urlpatterns
from repositories.admin_dashboard import dashboard_page

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
    path("webhooks/", include(webhook_urlpatterns)),  # build trigger webhooks (Quay's /webhooks/push/trigger/<uuid>)
    path("admin/dashboard/", dashboard_page, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("", include("repositories.web.urls")),  # the web UI at /ui/ ("/" redirects there); keep last
]

handler404 = "registry_site.errors.page_not_found"
handler500 = "registry_site.errors.server_error"
