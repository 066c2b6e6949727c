"""A live registry with small limits for the hostile-input tests: blobs up to ``MAX_BLOB`` bytes,
manifests up to ``MAX_MANIFEST`` bytes. Its log is checked for server errors at the end."""

from __future__ import annotations

import pytest

from tests.live import LiveRegistry

MAX_BLOB = 100_000
MAX_MANIFEST = 8192


@pytest.fixture(scope="package")
def limited():
    registry = LiveRegistry.create(
        {"MOORAGE_LIMITS_MAX_BLOB_BYTES": str(MAX_BLOB), "MOORAGE_LIMITS_MAX_MANIFEST_BYTES": str(MAX_MANIFEST)}
    ).start(workers=1, threads=8)
    yield registry
    registry.destroy()
