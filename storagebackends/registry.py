"""Builds the configured storage locations (``settings.MOORAGE_STORAGE_LOCATIONS``) once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

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


#: Driver name -> django-storages backend built from the location's ``options`` (its own names).
_DRIVERS: dict[str, Callable[[dict], Storage]] = {
    "filesystem": lambda options: FileSystemStorage(**options),
    "s3": lambda options: S3Storage(**options),
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
