"""Immutability policies: matching tags become immutable when pushed (also through /v2) and
then cannot be moved, deleted or expired (TAG_IMMUTABLE); a new policy covers live tags at once."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from common.errors import TagImmutableError
from repositories.media_types import OCI_MANIFEST
from repositories.models import Tag
from repositories.services.lifecycle import immutability_policy_create, immutability_policy_delete
from repositories.services.manifests import manifest_delete
from repositories.services.tags import tag_remove, tag_set_expiration
from tests.factories import digest_of, image_manifest
from tests.lifecycle.conftest import push

pytestmark = pytest.mark.django_db


def live(repository, name: str) -> Tag:
    return Tag.objects.get(repository=repository, name=name, lifetime_end__isnull=True)


def test_a_tag_matching_a_namespace_policy_is_immutable_when_pushed(app, acme):
    immutability_policy_create(namespace=acme.namespace, tag_pattern=r"^v\d+\.\d+\.\d+$")
    assert push(app, "v1.2.3").immutable
    assert not push(app, "latest").immutable


def test_a_not_matching_repository_policy_covers_every_other_tag(app, acme):
    immutability_policy_create(namespace=acme.namespace, repository=app, tag_pattern="^dev-", tag_pattern_matches=False)
    assert push(app, "release").immutable
    assert not push(app, "dev-42").immutable


def test_a_repository_policy_does_not_reach_other_repositories(app, acme):
    from repositories.services.repositories import repository_get_or_create

    other = repository_get_or_create(name="acme/other")
    immutability_policy_create(namespace=acme.namespace, repository=app, tag_pattern=".*")
    assert not push(other, "v1").immutable


def test_an_immutable_tag_cannot_be_moved_deleted_or_expired(app, acme):
    immutability_policy_create(namespace=acme.namespace, tag_pattern="^stable$")
    first = push(app, "stable")

    with pytest.raises(TagImmutableError):
        push(app, "stable")  # a new manifest under the same tag: a move
    with pytest.raises(TagImmutableError):
        tag_remove(repository=app, name="stable")
    with pytest.raises(TagImmutableError):
        manifest_delete(repository=app, reference=first.manifest.digest)
    with pytest.raises(TagImmutableError):
        tag_set_expiration(repository=app, name="stable", expires_at=timezone.now() + timedelta(days=1))
    assert live(app, "stable").manifest_id == first.manifest_id


def test_a_new_policy_makes_live_matching_tags_immutable_and_clears_their_expiry(app, acme):
    push(app, "v1")
    push(app, "latest")
    tag_set_expiration(repository=app, name="v1", expires_at=timezone.now() + timedelta(days=3))

    immutability_policy_create(namespace=acme.namespace, tag_pattern="^v")

    assert live(app, "v1").immutable and live(app, "v1").expires_at is None
    assert not live(app, "latest").immutable


def test_deleting_a_policy_stops_it_for_new_pushes(app, acme):
    policy = immutability_policy_create(namespace=acme.namespace, tag_pattern="^rc")
    assert push(app, "rc1").immutable
    immutability_policy_delete(policy=policy)
    assert not push(app, "rc2").immutable
    assert live(app, "rc1").immutable  # already immutable stays so


@pytest.mark.django_db(transaction=True)
def test_a_v2_push_of_a_covered_tag_cannot_be_overwritten_or_deleted(app, acme, settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": True}
    immutability_policy_create(namespace=acme.namespace, tag_pattern="^prod$")
    client = Client()

    def push_v2(seed: bytes):
        config = b'{"architecture":"amd64","os":"linux","seed":"%s"}' % seed
        start = client.post(f"/v2/{app.full_name}/blobs/uploads/", data=b"", content_type="application/octet-stream")
        assert client.put(f"{start['Location']}?digest={digest_of(config)}", data=config, content_type="application/octet-stream").status_code == 201
        return client.put(f"/v2/{app.full_name}/manifests/prod", data=image_manifest(config=config), content_type=OCI_MANIFEST)

    assert push_v2(os.urandom(4).hex().encode()).status_code == 201
    second = push_v2(os.urandom(4).hex().encode())
    assert second.status_code == 409
    assert second.json()["errors"][0]["code"] == "TAG_IMMUTABLE"
    deleted = client.delete(f"/v2/{app.full_name}/manifests/prod")
    assert deleted.status_code == 409
    assert live(app, "prod").immutable
