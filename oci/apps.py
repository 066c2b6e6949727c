from django.apps import AppConfig


class OciConfig(AppConfig):
    name = "oci"
    default_auto_field = "django.db.models.BigAutoField"
