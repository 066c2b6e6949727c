"""Shared fixtures. ``live_registry`` is one real server for the whole session."""

from __future__ import annotations

import pytest
import requests

from tests.live import LiveRegistry


@pytest.fixture(scope="session")
def live_registry():
    registry = LiveRegistry.create().start()
    yield registry
    registry.destroy()


@pytest.fixture
def http() -> requests.Session:
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def _no_buffered_audit_entries():
    """Pull audit entries wait in a Redis list until drained (repositories/services/audit.py):
    one test's pulls must not be drained into another test's database."""
    yield
    from django.conf import settings

    if getattr(settings, "REDIS_URL", None):
        from repositories.services.audit import audit_buffer_key
        from repositories.services.pull_stats import redis_client

        try:
            redis_client().delete(audit_buffer_key())
        except Exception:  # noqa: BLE001 - a test that stopped Redis
            pass
