"""A proxy-cache organization in front of a registry with Docker token auth (a second Moorage with
access control on): pulls through the cache give the upstream digests, and the bearer token is
shared through the cache, so a burst of pulls asks the upstream's token service once."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from repositories.models import ProxyCachedTag
from tests.live import PYTHON, ROOT, LiveRegistry
from tests.mirror.conftest import Upstream, make_image
from tests.proxy.conftest import make_proxy_org
from tests.proxy.test_pull import pull, pull_image

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

USER, SECRET = "carol", "carol-long-password"
TAGS = ("v1", "v2", "v3")


@pytest.fixture(scope="module")
def token_upstream(tmp_path_factory):
    access_log = tmp_path_factory.mktemp("token-upstream") / "access.log"
    registry = LiveRegistry.create(extra_env={"MOORAGE_REGISTRY_OPEN": "false", "MOORAGE_ACCESS_LOG": str(access_log)})
    try:
        subprocess.run(
            [PYTHON, "manage.py", "create_user", USER, "--password-stdin"], input=SECRET, cwd=ROOT, env=registry.env,
            check=True, capture_output=True, text=True,
        )
        registry.start(workers=1, threads=4)
        seeder = Upstream(port=registry.port, root=registry.data_dir, process=registry.process, auth=(USER, SECRET))
        images = {tag: seeder.push_image(f"{USER}/app", tag, make_image(f"token-proxy-{tag}")) for tag in TAGS}
        yield registry, images, access_log
    finally:
        registry.destroy()


def token_requests(access_log: Path) -> int:
    return sum(1 for line in access_log.read_text().splitlines() if '"GET /v2/auth' in line)


@pytest.fixture
def open_registry(settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": True}


@pytest.mark.usefixtures("open_registry")
def test_pulls_through_a_token_auth_upstream_share_one_bearer_token(token_upstream):
    registry, images, access_log = token_upstream
    make_proxy_org("tokencache", f"127.0.0.1:{registry.port}/{USER}", username=USER, password=SECRET)
    client = Client()
    before = token_requests(access_log)

    for tag in TAGS:
        manifest, blobs = pull_image(client, "tokencache/app", tag)
        assert manifest == images[tag].manifest
        assert blobs == list(images[tag].blobs)
    # every cached tag past its expiry: each pull revalidates (HEAD) with the shared token
    ProxyCachedTag.objects.update(checked_at=timezone.now() - timedelta(days=400))
    for _ in range(3):
        for tag in TAGS:
            response = pull(client, "tokencache/app", tag)
            assert response.status_code == 200 and response["Docker-Content-Digest"] == images[tag].digest

    assert token_requests(access_log) - before == 1  # repository:carol/app:pull, asked once


@pytest.mark.usefixtures("open_registry")
def test_wrong_credentials_for_a_token_auth_upstream_fail_with_a_clear_error(token_upstream):
    registry, _images, _log = token_upstream
    make_proxy_org("badcache", f"127.0.0.1:{registry.port}/{USER}", username=USER, password="not-the-password")

    response = pull(Client(), "badcache/app", "v1")

    assert response.status_code in (401, 404, 503)
    error = response.json()["errors"][0]
    assert error["code"] in ("MANIFEST_UNKNOWN", "UNAUTHORIZED", "UNAVAILABLE")
    assert f"127.0.0.1:{registry.port}" in error["message"] or f"127.0.0.1:{registry.port}" in str(error.get("detail"))
