"""Fixtures for the repositories services: real database, real filesystem storage on tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from storagebackends.base import StorageBackend
from storagebackends.registry import get_location, reset_cache
from tests.factories import RepositoryFactory


@pytest.fixture
def storage(settings, tmp_path: Path) -> StorageBackend:
    """The only storage location, a folder under ``tmp_path``."""
    settings.MOORAGE_STORAGE_LOCATIONS = {"local": {"driver": "filesystem", "options": {"location": str(tmp_path / "storage")}}}
    settings.MOORAGE_STORAGE_PREFERENCE = ["local"]
    reset_cache()
    yield get_location("local")
    reset_cache()


@pytest.fixture
def storage_root(storage: StorageBackend, tmp_path: Path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def repository(db):
    return RepositoryFactory()
