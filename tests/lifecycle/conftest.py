"""Fixtures of the lifecycle suite: the organization ``acme`` (owner alice) with repository
``acme/app``, and a helper that pushes an image through the real services."""

from __future__ import annotations

import os

import pytest

from organizations.models import Organization
from organizations.services import organization_create
from repositories.media_types import OCI_MANIFEST
from repositories.models import Repository, Tag
from repositories.services.manifests import manifest_put
from repositories.services.repositories import repository_get_or_create
from tests.api.conftest import alice, bob, login, root  # noqa: F401 - shared fixtures
from tests.factories import image_manifest
from tests.repositories.helpers import push_blob

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}'


@pytest.fixture
def acme(alice) -> Organization:  # noqa: F811
    return organization_create(name="acme", creator=alice, email="registry@acme.test")


@pytest.fixture
def app(acme) -> Repository:
    return repository_get_or_create(name="acme/app")


def push(repository: Repository, *tags: str, config: bytes | None = None) -> Tag:
    """Push a small fresh image under ``tags`` (the first one is the reference); returns the first tag's row."""
    config = config or CONFIG % os.urandom(4).hex().encode()
    layer = os.urandom(64)
    for data in (config, layer):
        push_blob(repository=repository, data=data)
    manifest_put(repository=repository, reference=tags[0], raw=image_manifest(config=config, layers=[layer]), content_type=OCI_MANIFEST, extra_tags=tags[1:])
    return Tag.objects.get(repository=repository, name=tags[0], lifetime_end__isnull=True)
