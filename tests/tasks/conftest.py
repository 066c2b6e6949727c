"""Task tests use the repositories tests' real filesystem storage fixtures."""

from tests.repositories.conftest import storage, storage_root  # noqa: F401
