"""Every storage backend under test, built on ``tmp_path`` (or a loopback service).

To add a backend (the S3/Azure adapters of the storage issue), add a builder to ``BACKENDS``:
it receives ``tmp_path`` and returns a ``StorageBackend``, or calls ``pytest.skip`` when its
service (moto server, Azurite) is not running on 127.0.0.1. The whole contract suite then runs
against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from django.core.files.storage import FileSystemStorage

from storagebackends.base import StorageBackend
from storagebackends.django_adapter import DjangoStorageBackend


def filesystem_backend(tmp_path: Path) -> StorageBackend:
    return DjangoStorageBackend("contract-fs", FileSystemStorage(location=str(tmp_path / "fs")))


BACKENDS: dict[str, Callable[[Path], StorageBackend]] = {
    "filesystem": filesystem_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, tmp_path: Path) -> StorageBackend:
    return BACKENDS[request.param](tmp_path)
