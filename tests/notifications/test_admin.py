"""The admin pages of notifications: a notification shows its own latest deliveries and links to
its whole delivery log; the re-enable action goes through the service."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import user_create
from repositories.models import NotificationDelivery, RepositoryNotification
from tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(user_create(username="root", password=None, is_superuser=True))
    return client


def hook(repository, **fields) -> RepositoryNotification:
    return RepositoryNotification.objects.create(repository=repository, event="repo_push", method="webhook", config={"url": "https://h.example.test/"}, **fields)


def test_a_notification_page_lists_its_own_deliveries_and_links_the_log(admin_client):
    repository = RepositoryFactory()
    mine, other = hook(repository), hook(repository)
    own = NotificationDelivery.objects.create(repository_notification=mine, event="repo_push", payload={})
    foreign = NotificationDelivery.objects.create(repository_notification=other, event="repo_push", payload={})

    page = admin_client.get(f"/admin/repositories/repositorynotification/{mine.pk}/change/").content.decode()

    assert str(own.uuid)[:8] in page
    assert str(foreign.uuid)[:8] not in page
    assert f"repository_notification__id__exact={mine.pk}" in page
    log = admin_client.get(f"/admin/repositories/notificationdelivery/?repository_notification__id__exact={mine.pk}")
    assert log.status_code == 200
    assert [d.pk for d in log.context["cl"].result_list] == [own.pk]


def test_the_reenable_action_resets_the_failures(admin_client):
    notification = hook(RepositoryFactory(), enabled=False, number_of_failures=3)

    admin_client.post("/admin/repositories/repositorynotification/", {"action": "reenable", "_selected_action": [notification.pk]})

    notification.refresh_from_db()
    assert (notification.enabled, notification.number_of_failures) == (True, 0)
