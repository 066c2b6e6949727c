"""The admin page of mirrors: status, error and upstream user listed (never the password); the
"sync now" action goes through the service and reports refusals."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import user_create
from repositories.models.mirror import MirrorStatus, RepositoryMirror
from tests.mirror.conftest import configure

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/repositories/repositorymirror/"


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(user_create(username="root", password=None, is_superuser=True))
    return client


def test_the_list_shows_status_and_last_error_and_the_page_hides_the_password(admin_client, setup):
    mirror = configure(setup, "http://127.0.0.1:5999/lib/app", username="puller", password="hidden-password", credentials_given=True)
    RepositoryMirror.objects.filter(pk=mirror.pk).update(status=MirrorStatus.FAIL, last_error="the upstream registry is unreachable")

    listing = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}{mirror.pk}/change/").content.decode()

    assert "acme/app" in listing and "Failed" in listing and "the upstream registry is unreachable" in listing
    assert "puller" in page and "hidden-password" not in page


def test_the_sync_now_action_requests_a_sync_and_reports_a_refusal(admin_client, setup):
    mirror = configure(setup, "http://127.0.0.1:5999/lib/app")

    response = admin_client.post(CHANGELIST, {"action": "sync_now", "_selected_action": [mirror.pk]}, follow=True)

    assert RepositoryMirror.objects.get().status == MirrorStatus.SYNC_NOW
    assert "1 mirror(s) will sync within 30 seconds" in response.content.decode()
    RepositoryMirror.objects.update(is_enabled=False)
    refused = admin_client.post(CHANGELIST, {"action": "sync_now", "_selected_action": [mirror.pk]}, follow=True)
    assert "the mirror is disabled" in refused.content.decode()


def test_the_organization_mirror_page_lists_the_discovered_repositories_and_hides_the_password(admin_client, setup):
    from repositories.models.mirror import OrganizationMirror, OrganizationMirrorRepository
    from repositories.services.mirror_org import OrgMirrorSettings, org_mirror_create

    org_mirror = org_mirror_create(organization=setup.org, values=OrgMirrorSettings(
        external_registry_url="http://127.0.0.1:5999", external_namespace="lib", sync_interval=3600,
        sync_start_date=setup.org.created, robot=setup.robot, username="puller", password="hidden-password", credentials_given=True,
    ))
    OrganizationMirror.objects.filter(pk=org_mirror.pk).update(status=MirrorStatus.FAIL, last_error="lib/app: not found")
    OrganizationMirrorRepository.objects.create(org_mirror=org_mirror, upstream_name="lib/app", repository=setup.repository, status=MirrorStatus.FAIL)
    changelist = "/admin/repositories/organizationmirror/"

    listing = admin_client.get(changelist).content.decode()
    page = admin_client.get(f"{changelist}{org_mirror.pk}/change/").content.decode()
    requested = admin_client.post(changelist, {"action": "sync_now", "_selected_action": [org_mirror.pk]}, follow=True).content.decode()

    assert "acme" in listing and "http://127.0.0.1:5999/lib" in listing and "lib/app: not found" in listing
    assert "puller" in page and "hidden-password" not in page and "lib/app" in page
    assert "1 organization mirror(s) will sync within 30 seconds" in requested
    assert OrganizationMirror.objects.get().status == MirrorStatus.SYNC_NOW
