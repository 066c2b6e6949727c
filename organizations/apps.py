from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    """Organizations, teams and robots arrive with the identity issue (#3)."""

    name = "organizations"
    default_auto_field = "django.db.models.BigAutoField"
