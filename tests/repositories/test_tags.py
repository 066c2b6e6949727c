"""Tag services: lifetime rows, moves, immutability and deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import ManifestUnknownError, TagImmutableError, TagInvalidError
from repositories.models import Tag
from repositories.selectors import manifest_resolve
from repositories.services.tags import tag_delete, tag_point
from tests.factories import ManifestFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manifests(repository):
    return ManifestFactory.create_batch(3, repository=repository)


def test_tag_point_creates_a_live_row_for_a_new_tag(repository, manifests):
    tag = tag_point(repository=repository, name="latest", manifest=manifests[0])

    assert (tag.name, tag.manifest, tag.lifetime_end) == ("latest", manifests[0], None)
    assert manifest_resolve(repository=repository, reference="latest") == manifests[0]


def test_moving_a_tag_ends_the_old_row_and_keeps_it_as_history(repository, manifests):
    old = tag_point(repository=repository, name="latest", manifest=manifests[0])

    new = tag_point(repository=repository, name="latest", manifest=manifests[1])

    old.refresh_from_db()
    assert old.lifetime_end is not None and old.manifest == manifests[0]
    assert new.lifetime_end is None and new.manifest == manifests[1]
    assert old.lifetime_end == new.lifetime_start
    assert Tag.objects.filter(repository=repository, name="latest").count() == 2


def test_pointing_a_tag_at_its_current_manifest_keeps_the_live_row(repository, manifests):
    first = tag_point(repository=repository, name="latest", manifest=manifests[0])

    again = tag_point(repository=repository, name="latest", manifest=manifests[0])

    assert again.pk == first.pk
    assert Tag.objects.filter(name="latest").count() == 1


def test_an_immutable_tag_refuses_to_move(repository, manifests):
    TagFactory(repository=repository, name="v1", manifest=manifests[0], immutable=True)

    with pytest.raises(TagImmutableError) as raised:
        tag_point(repository=repository, name="v1", manifest=manifests[1])

    assert raised.value.code == "TAG_IMMUTABLE"
    assert list(Tag.objects.filter(name="v1").values_list("manifest", "lifetime_end")) == [(manifests[0].pk, None)]


def test_an_expired_immutable_tag_may_be_pointed_elsewhere(repository, manifests):
    TagFactory(repository=repository, name="v1", manifest=manifests[0], immutable=True, expires_at=timezone.now() - timedelta(seconds=1))

    tag = tag_point(repository=repository, name="v1", manifest=manifests[1])

    assert tag.manifest == manifests[1]


def test_tag_point_with_a_stale_clock_never_ends_a_row_before_it_started(repository, manifests):
    # A writer that read the clock before another writer's move committed (or a host whose
    # clock lags) must not record a lifetime that ends before it began.
    later = tag_point(repository=repository, name="latest", manifest=manifests[0])

    tag_point(repository=repository, name="latest", manifest=manifests[1], now=later.lifetime_start - timedelta(seconds=5))

    later.refresh_from_db()
    assert later.lifetime_end >= later.lifetime_start


def test_tag_point_refuses_an_invalid_tag_name(repository, manifests):
    with pytest.raises(TagInvalidError):
        tag_point(repository=repository, name="-bad", manifest=manifests[0])


def test_tag_delete_ends_the_live_row(repository, manifests):
    tag = TagFactory(repository=repository, name="latest", manifest=manifests[0])

    tag_delete(repository=repository, name="latest")

    tag.refresh_from_db()
    assert tag.lifetime_end is not None
    with pytest.raises(ManifestUnknownError):
        manifest_resolve(repository=repository, reference="latest")


def test_tag_delete_of_an_unknown_tag_is_manifest_unknown(repository):
    with pytest.raises(ManifestUnknownError):
        tag_delete(repository=repository, name="nope")


def test_tag_delete_refuses_an_immutable_tag(repository, manifests):
    TagFactory(repository=repository, name="v1", manifest=manifests[0], immutable=True)

    with pytest.raises(TagImmutableError):
        tag_delete(repository=repository, name="v1")

    assert Tag.objects.get(name="v1").lifetime_end is None
