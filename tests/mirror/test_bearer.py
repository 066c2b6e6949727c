"""Mirroring from a second Moorage with access control on: the Docker token flow (Bearer challenge,
token from /v2/auth with Basic credentials, one token per scope reused until it expires) and
tags/list pagination."""

from __future__ import annotations

import subprocess

import pytest
import requests

from common.registry_client import Credentials, RegistryClient, UpstreamAuthError
from repositories.models import Tag
from repositories.services.mirror import mirror_sync
from tests.live import PYTHON, ROOT, LiveRegistry
from tests.mirror.conftest import Upstream, configure, make_image

pytestmark = [pytest.mark.live]

USER, SECRET = "carol", "carol-long-password"


@pytest.fixture(scope="module")
def moorage_upstream():
    registry = LiveRegistry.create(extra_env={"MOORAGE_REGISTRY_OPEN": "false"})
    try:
        subprocess.run(
            [PYTHON, "manage.py", "create_user", USER, "--password-stdin"], input=SECRET, cwd=ROOT, env=registry.env,
            check=True, capture_output=True, text=True,
        )
        registry.start(workers=1, threads=4)
        # seed with Basic credentials straight to /v2 (Moorage accepts them from scripts)
        seeder = Upstream(port=registry.port, root=registry.data_dir, process=registry.process, auth=(USER, SECRET))
        images = {tag: seeder.push_image(f"{USER}/app", tag, make_image(f"bearer-{tag}")) for tag in ("v1", "v2", "v3", "v4", "v5")}
        yield registry, images
    finally:
        registry.destroy()


def test_the_client_gets_a_bearer_token_once_per_scope_and_follows_tag_pages(moorage_upstream):
    registry, images = moorage_upstream
    assert requests.get(f"{registry.url}/v2/").headers["WWW-Authenticate"].startswith("Bearer ")

    with RegistryClient(registry.url, credentials=Credentials(USER, SECRET)) as client:
        tags = list(client.tags(f"{USER}/app", page_size=2))
        digests = {tag: client.manifest_head(f"{USER}/app", tag).digest for tag in tags}

        assert tags == sorted(images)
        assert client.log.counts["tags"] == 4  # the challenged first try, then pages of 2 + 2 + 1
        assert digests == {tag: image.digest for tag, image in images.items()}
        assert client.log.counts["token"] == 1  # one token for repository:carol/app:pull, reused


def test_without_credentials_a_private_upstream_refuses(moorage_upstream):
    registry, _ = moorage_upstream

    with RegistryClient(registry.url) as client, pytest.raises(UpstreamAuthError):
        list(client.tags(f"{USER}/app"))


@pytest.mark.django_db(transaction=True)
def test_a_mirror_of_a_token_auth_registry_copies_every_tag(setup, moorage_upstream):
    registry, images = moorage_upstream
    mirror = configure(setup, f"{registry.url}/{USER}/app", tag_patterns=["v1", "v2"], username=USER, password=SECRET, credentials_given=True)

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS", result.errors
    live = dict(Tag.objects.filter(repository=setup.repository, lifetime_end__isnull=True).values_list("name", "manifest__digest"))
    assert live == {"v1": images["v1"].digest, "v2": images["v2"].digest}
    again = mirror_sync(mirror_id=mirror.pk)
    assert (again.counts["blobs_copied"], again.counts["tags_unchanged"]) == (0, 2)
