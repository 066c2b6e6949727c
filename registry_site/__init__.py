"""Project wiring: settings, URLs, the Celery app, health and metrics endpoints."""

from registry_site.celery import app as celery_app

__all__ = ["celery_app"]
