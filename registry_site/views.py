"""Health checks and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import secrets

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from registry_site.celery import app as celery_app
from storagebackends.paths import health_probe_path
from storagebackends.registry import preferred_location

logger = logging.getLogger("moorage.health")


def _check(name: str, probe) -> tuple[str, bool]:
    try:
        probe()
        return name, True
    except Exception as exc:  # a failing dependency is a result here, not an error
        logger.warning("health check %s failed: %s", name, exc)
        return name, False


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _storage_reachable() -> None:
    backend = preferred_location()
    backend.stat(health_probe_path("probe"))


def _storage_roundtrip() -> None:
    backend = preferred_location()
    token = secrets.token_hex(8)
    path = health_probe_path(token)
    backend.write_atomic(path, [token.encode()])
    try:
        with backend.open(path) as handle:
            if handle.read() != token.encode():
                raise RuntimeError("storage returned different bytes")
    finally:
        backend.delete(path)


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def _respond(services: dict[str, bool]) -> JsonResponse:
    healthy = all(services.values())
    status = 200 if healthy else 503
    return JsonResponse({"data": {"services": services}, "status_code": status}, status=status)


def health_instance(request: HttpRequest) -> JsonResponse:
    """Is this instance able to serve (database and storage reachable)?"""
    return _respond(dict([_check("database", _database), _check("storage", _storage_reachable)]))


def health_endtoend(request: HttpRequest) -> JsonResponse:
    """Does the whole registry work: database, a storage write/read/delete, the task broker."""
    return _respond(dict([_check("database", _database), _check("storage", _storage_roundtrip), _check("broker", _broker)]))


def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.MOORAGE_METRICS_ENABLED:
        return HttpResponse(status=404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # only importable in multiprocess mode

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
