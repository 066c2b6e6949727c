"""The admin's garbage-collection action and run history."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from repositories.models import GcRun, Manifest, Tag
from tests.factories import RepositoryFactory, SuperuserFactory, UserFactory
from tests.gc.test_gc import LATER, age_everything, push_image

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_superuser_collects_a_repository_from_the_admin_and_sees_the_run(storage):
    repository = RepositoryFactory(name="app", namespace__name="acme")
    digest = push_image(repository, "x", layers=(b"admin layer",))
    Tag.objects.filter(repository=repository).delete()
    age_everything(LATER)
    client = _client(SuperuserFactory())

    response = client.post(
        reverse("admin:repositories_repository_changelist"),
        {"action": "collect_garbage", "_selected_action": [repository.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Garbage collection of acme/app: 0 tag(s), 1 manifest(s) deleted of 1" in response.content.decode()
    assert not Manifest.objects.filter(digest=digest).exists()
    run = GcRun.objects.get()
    assert (run.trigger, run.scope, run.manifests_deleted) == ("admin", "acme/app", 1)
    page = client.get(reverse("admin:repositories_gcrun_changelist")).content.decode()
    assert "acme/app" in page and "admin" in page.lower()


def test_a_global_read_only_superuser_cannot_run_it(storage):
    repository = RepositoryFactory(name="app", namespace__name="acme")
    push_image(repository, None, layers=(b"kept layer",))
    age_everything(LATER)
    auditor = UserFactory(is_staff=True, is_global_readonly_superuser=True)
    client = _client(auditor)
    page = client.get(reverse("admin:repositories_repository_changelist"))
    assert "collect_garbage" not in page.content.decode()
    client.post(reverse("admin:repositories_repository_changelist"), {"action": "collect_garbage", "_selected_action": [repository.pk]})
    assert Manifest.objects.filter(repository=repository).exists()
    assert not GcRun.objects.exists()


def test_a_user_deleting_their_account_takes_their_repositories_along(storage):
    from accounts.models import Namespace, User
    from accounts.services import user_create
    from repositories.models import Repository
    from repositories.services.gc import repository_purge
    from repositories.services.repositories import repository_get_or_create

    user = user_create(username="leaver", email="leaver@example.test", password="correct horse battery")
    repository = repository_get_or_create(name="leaver/app")
    client = Client()
    client.force_login(user)

    response = client.delete("/api/v1/user/")

    assert response.status_code == 204
    assert not User.objects.filter(username="leaver").exists() and not Namespace.objects.filter(name="leaver").exists()
    assert not Repository.objects.filter(full_name="leaver/app").exists()
    assert repository_purge(repository_id=repository.pk)
    assert not Repository.all_objects.filter(pk=repository.pk).exists()
