"""Fixtures of the conformance suite: the shared live server's URL and a fresh repository name."""

from __future__ import annotations

import pytest

from tests.oci.helpers import unique_name


@pytest.fixture
def registry(live_registry) -> str:
    """Base URL of the session's live server, ``http://127.0.0.1:<port>``."""
    return live_registry.url


@pytest.fixture
def name() -> str:
    """A repository name no other test uses (created by the first push)."""
    return unique_name()
