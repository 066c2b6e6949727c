"""Labels from the image config at push time: stored as immutable labels; ``quay.expires-after``
and ``quay.immutable`` act on the pushed tags; for an index only labels common to every child."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import TagImmutableError
from repositories.media_types import OCI_MANIFEST
from repositories.models import Label, Tag
from repositories.services.labels import parse_duration
from repositories.services.manifests import manifest_put
from repositories.services.tags import tag_point
from tests.api.tags.helpers import push_image, push_index
from tests.factories import descriptor
from tests.repositories.helpers import push_blob


def _live(world, name: str) -> Tag:
    return Tag.objects.get(repository=world.repository, name=name, lifetime_end__isnull=True)


def test_config_labels_become_immutable_manifest_labels(world):
    manifest = push_image(world.repository, "v1", labels={"org.opencontainers.image.title": "App", "meta": '{"a": [1]}'})
    labels = {label.key: label for label in Label.objects.filter(manifest=manifest)}
    assert set(labels) == {"org.opencontainers.image.title", "meta"}
    assert all(label.source == Label.Source.MANIFEST and label.is_immutable for label in labels.values())
    assert labels["meta"].media_type == "application/json" and labels["org.opencontainers.image.title"].media_type == "text/plain"


def test_docker_schema2_config_labels_are_read_too(world):
    manifest = push_image(world.repository, "v1", labels={"maintainer": "ops"}, docker=True)
    assert list(Label.objects.filter(manifest=manifest).values_list("key", "value")) == [("maintainer", "ops")]


def test_expires_after_sets_the_pushed_tags_expiry(world):
    before = timezone.now()
    push_image(world.repository, "v1", labels={"quay.expires-after": "2w"}, extra_tags=("v1.0",))
    for name in ("v1", "v1.0"):
        expires = _live(world, name).expires_at
        assert before + timedelta(weeks=2) <= expires <= timezone.now() + timedelta(weeks=2)


def test_moorage_expires_after_works_like_quays(world):
    before = timezone.now()
    push_image(world.repository, "v1", labels={"moorage.expires-after": "36h"})
    assert _live(world, "v1").expires_at >= before + timedelta(hours=36)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("3d", 259200), ("2w", 1209600)])
def test_every_duration_unit_is_understood(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_an_expires_after_that_is_not_a_duration_is_ignored(world):
    push_image(world.repository, "v1", labels={"quay.expires-after": "soon"})
    assert _live(world, "v1").expires_at is None


def test_immutable_true_makes_the_pushed_tags_immutable(world):
    push_image(world.repository, "v1", labels={"quay.immutable": "true"})
    assert _live(world, "v1").immutable is True


def test_an_immutable_label_wins_over_an_expiry(world):
    push_image(world.repository, "v1", labels={"quay.immutable": "true", "quay.expires-after": "1d"})
    tag = _live(world, "v1")
    assert tag.immutable is True and tag.expires_at is None


def test_a_tag_made_immutable_by_its_label_cannot_be_moved_by_a_push(world):
    push_image(world.repository, "v1", labels={"quay.immutable": "true"})
    with pytest.raises(TagImmutableError):
        push_image(world.repository, "v1")


def test_repushing_the_same_manifest_keeps_one_set_of_labels(world):
    manifest = push_image(world.repository, "v1", labels={"k": "v"})
    manifest_put(repository=world.repository, reference="v2", raw=bytes(manifest.content), content_type=manifest.media_type)
    assert Label.objects.filter(manifest=manifest).count() == 1


def test_a_new_tag_on_an_existing_manifest_gets_its_expiry(world):
    manifest = push_image(world.repository, None, labels={"quay.expires-after": "1h"})
    manifest_put(repository=world.repository, reference="later", raw=bytes(manifest.content), content_type=manifest.media_type)
    assert _live(world, "later").expires_at is not None


def test_a_malformed_config_never_fails_the_push(world):
    manifest = push_image(world.repository, "v1", config=b'{"config": {"Labels": {"k": "v"')
    assert _live(world, "v1").manifest == manifest
    assert not Label.objects.filter(manifest=manifest).exists()


def test_config_labels_of_the_wrong_shape_are_ignored(world):
    manifest = push_image(world.repository, "v1", config=b'{"config": {"Labels": ["k", "v"]}, "Labels": 7}')
    assert not Label.objects.filter(manifest=manifest).exists()


def test_label_values_that_are_not_strings_are_skipped(world):
    manifest = push_image(world.repository, "v1", config=b'{"config": {"Labels": {"n": 1, "s": "x", "nul": "a\\u0000b"}}}')
    assert list(Label.objects.filter(manifest=manifest).values_list("key", flat=True)) == ["s"]


def test_an_index_gets_only_labels_common_to_all_children(world):
    amd = push_image(world.repository, None, labels={"team": "a", "arch": "amd64", "quay.expires-after": "1d"})
    arm = push_image(world.repository, None, labels={"team": "a", "arch": "arm64", "quay.expires-after": "1d"})
    index = push_index(world.repository, "multi", [amd, arm])
    assert dict(Label.objects.filter(manifest=index).values_list("key", "value")) == {"team": "a", "quay.expires-after": "1d"}
    assert _live(world, "multi").expires_at is not None


def test_an_index_with_differing_expiry_labels_does_not_expire(world):
    amd = push_image(world.repository, None, labels={"quay.expires-after": "1d"})
    arm = push_image(world.repository, None, labels={"quay.expires-after": "2d"})
    push_index(world.repository, "multi", [amd, arm])
    assert _live(world, "multi").expires_at is None


def test_a_tag_moved_by_the_service_away_from_a_labelled_manifest_loses_the_expiry(world):
    push_image(world.repository, "v1", labels={"quay.expires-after": "1d"})
    plain = push_image(world.repository, None)
    tag_point(repository=world.repository, name="v1", manifest=plain)
    assert _live(world, "v1").expires_at is None


def test_the_config_of_an_artifact_is_not_read_for_labels(world):
    config = b'{"config": {"Labels": {"quay.immutable": "true"}}}'
    push_blob(repository=world.repository, data=config)
    raw = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.thing",
         "config": descriptor(config, "application/vnd.example.config+json"), "layers": []}
    ).encode()
    manifest = manifest_put(repository=world.repository, reference="art", raw=raw, content_type=OCI_MANIFEST).manifest
    assert not Label.objects.filter(manifest=manifest).exists()
    assert _live(world, "art").immutable is False
