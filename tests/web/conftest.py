"""Fixtures of the web UI tests: the shared world (tests/web/world.py) on filesystem storage
under ``tmp_path``, and signed-in browser-session clients."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from django.test import Client

from accounts.models import User
from storagebackends.registry import reset_cache
from tests.web.world import PASSWORD, World, build_world


@pytest.fixture(autouse=True)
def storage(settings, tmp_path: Path):
    settings.MOORAGE_STORAGE_LOCATIONS = {"local": {"driver": "filesystem", "options": {"location": str(tmp_path / "storage")}}}
    settings.MOORAGE_STORAGE_PREFERENCE = ["local"]
    reset_cache()
    yield
    reset_cache()


@pytest.fixture(autouse=True)
def closed_registry(settings):
    """Access control on (not the open CI registry), anonymous pulls of public repositories allowed."""
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": False, "anonymous_pull": True, "read_only": False}


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def signed_in() -> Callable[..., Client]:
    """A browser-session client of ``user`` (``csrf=True``: CSRF checks enforced as in a browser)."""

    def make(user: User | None, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        if user is not None:
            assert client.login(username=user.username, password=PASSWORD)
        return client

    return make
