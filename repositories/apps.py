from django.apps import AppConfig


class RepositoriesConfig(AppConfig):
    name = "repositories"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from repositories import receivers  # noqa: F401  (connects the accounts/organizations signals)
        from repositories import lookup_cache, lookup_proxy, quota_cache  # noqa: F401  (invalidate cached lookups on model writes)
