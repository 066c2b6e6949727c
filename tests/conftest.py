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
