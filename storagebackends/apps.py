from django.apps import AppConfig


class StorageBackendsConfig(AppConfig):
    name = "storagebackends"
    default_auto_field = "django.db.models.BigAutoField"
