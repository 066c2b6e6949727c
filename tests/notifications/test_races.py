"""Races that really run in threads: workers delivering one delivery at once send it once; two
expiry scans at once announce a tag once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from repositories.models import NotificationDelivery, TagExpiryNotice
from repositories.services.notifications import notification_deliver, notification_event_dispatch, notification_expiry_scan, repository_notification_create
from tests.factories import RepositoryFactory, TagFactory
from tests.repositories.helpers import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_workers_send_one_delivery_once(receiver):
    repository = RepositoryFactory()
    repository_notification_create(repository=repository, event="repo_push", method="webhook", config={"url": receiver.url()}, event_config={})
    [delivery_id] = notification_event_dispatch(event="repo_push", namespace_id=repository.namespace_id, repository_id=repository.pk, payload={"updated_tags": ["x"]})

    outcomes = race([lambda: notification_deliver(delivery_id=delivery_id)] * 4)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sorted(o.value.status for o in outcomes) == ["skipped"] * 3 + ["succeeded"]
    assert len(receiver.requests) == 1
    assert NotificationDelivery.objects.get().attempt_log.count() == 1


def test_concurrent_expiry_scans_announce_a_tag_once(receiver):
    repository = RepositoryFactory()
    repository_notification_create(repository=repository, event="repo_image_expiry", method="webhook", config={"url": receiver.url()}, event_config={"days": 1})
    TagFactory(repository=repository, name="soon", expires_at=timezone.now() + timedelta(hours=2))

    outcomes = race([notification_expiry_scan] * 3)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sum(len(o.value) for o in outcomes) == 1
    assert NotificationDelivery.objects.count() == 1
    assert TagExpiryNotice.objects.count() == 1
