"""Routes filled in by the REST API issue (#4)."""

urlpatterns: list = []
