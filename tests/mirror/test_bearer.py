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


@pytest.mark.django_db(transaction=True)
def test_an_org_mirror_of_a_token_auth_registry_discovers_through_the_paged_catalog(alice, moorage_upstream):
    """Organization mirroring: discovery through the token-authenticated catalog (pages of 2),
    only the matching repositories, upstream digests, no blob downloaded again, verify naming
    bad credentials."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import robot_create
    from organizations.services import organization_create
    from repositories.models import Repository
    from repositories.models.mirror import OrganizationMirror
    from repositories.services.mirror_org import OrgMirrorSettings, org_mirror_create, org_mirror_sync, org_mirror_update, org_mirror_verify

    registry, images = moorage_upstream
    seeder = Upstream(port=registry.port, root=registry.data_dir, process=registry.process, auth=(USER, SECRET))
    extra = {name: seeder.push_image(f"{USER}/{name}", "v1", make_image(f"org-{name}")).digest for name in ("app-extra", "tools", "zz-other")}
    with RegistryClient(registry.url, credentials=Credentials(USER, SECRET)) as client:
        catalog = list(client.catalog(page_size=2))
        assert client.log.counts["catalog"] >= 3  # the challenged first try, then several pages
    assert {f"{USER}/app", f"{USER}/app-extra", f"{USER}/tools"} <= set(catalog)
    org = organization_create(name="acme2", creator=alice)
    robot = robot_create(namespace=org.namespace, shortname="mirror").robot
    org_mirror = org_mirror_create(organization=org, values=OrgMirrorSettings(
        external_registry_url=registry.url, external_namespace=USER, repository_patterns=["app*"], tag_patterns=["v1", "v2"],
        sync_interval=3600, sync_start_date=timezone.now() - timedelta(seconds=1), robot=robot,
        username=USER, password=SECRET, credentials_given=True,
    ))

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert set(Repository.objects.filter(namespace=org.namespace).values_list("name", flat=True)) == {"app", "app-extra"}
    live = dict(Tag.objects.filter(repository__full_name="acme2/app", lifetime_end__isnull=True).values_list("name", "manifest__digest"))
    assert live == {"v1": images["v1"].digest, "v2": images["v2"].digest}
    assert dict(Tag.objects.filter(repository__full_name="acme2/app-extra").values_list("name", "manifest__digest")) == {"v1": extra["app-extra"]}
    again = org_mirror_sync(org_mirror_id=org_mirror.pk)
    assert (again.counts["blobs_copied"], again.counts["tags_unchanged"], again.counts["tags_copied"]) == (0, 3, 0)

    org_mirror_update(org_mirror=org_mirror, values=OrgMirrorSettings(username=USER, password="not-the-password", credentials_given=True))
    verdict = org_mirror_verify(org_mirror=OrganizationMirror.objects.get())
    assert not verdict.success
    assert "authentication failed" in verdict.message and "refused our credentials" in verdict.message
    good = org_mirror_verify(org_mirror=OrganizationMirror.objects.get(), values=OrgMirrorSettings(username=USER, password=SECRET, credentials_given=True))
    assert good.success and good.repositories == (f"{USER}/app", f"{USER}/app-extra")
