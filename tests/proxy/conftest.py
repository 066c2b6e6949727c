"""Fixtures of the proxy-cache tests: Debian's ``docker-registry`` upstreams and image helpers
come from the mirroring tests (``tests.mirror.conftest``); here an organization configured as
a pull-through cache of one of them, and an outbound policy that lets the tests reach 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from organizations.services import organization_create
from repositories.services.proxy import proxy_config_create
from tests.api.conftest import alice, anonymous, bob, login, root  # noqa: F401 - shared fixtures
from tests.mirror.conftest import FAST_MIRROR, basic_upstream, upstream  # noqa: F401 - shared fixtures


@pytest.fixture(autouse=True)
def outbound_loopback(settings):
    """The cache may reach 127.0.0.1 (tests only); fast retries; a clean Django cache (tokens,
    HEAD answers and 'upstream down' marks of an earlier test must not leak in)."""
    settings.MOORAGE = {**django_settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}, "mirror": dict(FAST_MIRROR)}
    cache.clear()
    yield settings
    cache.clear()


def make_proxy_org(name: str, upstream_registry: str, *, creator: Any = None, **options: Any):
    org = organization_create(name=name, creator=creator)
    config = proxy_config_create(organization=org, upstream_registry=upstream_registry, insecure=True, **options)
    return org, config
