"""Builds the configured storage locations (``settings.MOORAGE_STORAGE_LOCATIONS``) once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from botocore.config import Config
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from storages.backends.s3 import S3Storage

from storagebackends.base import StorageBackend
from storagebackends.django_adapter import DjangoStorageBackend


def _azure(options: dict) -> Storage:
    from storagebackends.azure import AzureStorage  # the Azure SDK only when configured

    return AzureStorage(**options)


def _gcs(options: dict) -> Storage:
    from storagebackends.gcs import GoogleCloudStorage  # the GCS SDK only when configured

    return GoogleCloudStorage(**options)


#: S3 client limits (our own ``options`` keys, not django-storages'): botocore's defaults (60 s
#: connect and read, up to 5 attempts in the legacy retry mode) let a store that accepts
#: connections but never answers hold a request for minutes. Each storage call now gives up after
#: at most ``max_attempts`` × (``connect_timeout`` + ``read_timeout``) seconds, and the request is
#: answered 503 with Retry-After. ``read_timeout`` is the longest silence on the socket, not a
#: limit on a whole transfer.
S3_CLIENT_DEFAULTS = {"connect_timeout": 5, "read_timeout": 20, "max_attempts": 2}


def _s3(options: dict) -> Storage:
    limits = {key: options.pop(key, default) for key, default in S3_CLIENT_DEFAULTS.items()}
    storage = S3Storage(**options)
    # The client is created lazily (per thread), so the merged config applies to every client.
    storage.client_config = storage.client_config.merge(
        Config(
            connect_timeout=float(limits["connect_timeout"]),
            read_timeout=float(limits["read_timeout"]),
            retries={"total_max_attempts": int(limits["max_attempts"]), "mode": "standard"},
        )
    )
    return storage


#: Driver name -> django-storages backend built from the location's ``options`` (its own names).
_DRIVERS: dict[str, Callable[[dict], Storage]] = {
    "filesystem": lambda options: FileSystemStorage(**options),
    "s3": _s3,
    "azure": _azure,
    "gcs": _gcs,
}


@lru_cache(maxsize=None)
def get_location(name: str) -> StorageBackend:
    config = settings.MOORAGE_STORAGE_LOCATIONS[name]
    storage = _DRIVERS[config["driver"]](dict(config.get("options", {})))
    return DjangoStorageBackend(name, storage, direct_download=bool(config.get("direct_download", False)))


def preferred_location() -> StorageBackend:
    """Where new blobs and uploads are written."""
    return get_location(settings.MOORAGE_STORAGE_PREFERENCE[0])


def locations_in_preference_order() -> list[StorageBackend]:
    return [get_location(name) for name in settings.MOORAGE_STORAGE_PREFERENCE]


def reset_cache() -> None:
    """Forget built backends (tests that change settings)."""
    get_location.cache_clear()
