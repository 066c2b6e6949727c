"""Every registered model's pages, opened with data present by a superuser, a global read-only
superuser, a staff member without permissions and a user who is not staff."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.admin import GlobalReadOnlyMixin
from accounts.models import SigningKey
from accounts.services import app_token_create, banner_message_create, robot_create, user_create
from repositories.models import Label, Star
from repositories.services.audit import audit_log
from repositories.services.repositories import permission_set
from tests.admin.conftest import ADDABLE, registered_labels, url
from tests.factories import ManifestFactory, RepositoryFactory

pytestmark = pytest.mark.django_db

LABELS = registered_labels()


def test_every_registered_model_has_a_row_in_the_test_world(world):
    assert set(LABELS) == set(world.objects)


def test_every_model_admin_and_inline_applies_the_read_only_superuser_rule():
    missing = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, GlobalReadOnlyMixin)
    ]
    missing += [
        f"{model._meta.label}: {inline.__name__}"
        for model, model_admin in admin.site._registry.items()
        for inline in model_admin.inlines
        if not issubclass(inline, GlobalReadOnlyMixin)
    ]

    assert missing == []


@pytest.mark.parametrize("label", LABELS)
def test_a_superuser_opens_the_changelist_with_its_rows(superuser_client, label):
    response = superuser_client.get(url(label, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 1


@pytest.mark.parametrize("label", LABELS)
def test_a_superuser_opens_the_change_page(superuser_client, world, label):
    response = superuser_client.get(url(label, "change", world.objects[label].pk))

    assert response.status_code == 200


@pytest.mark.parametrize("label", LABELS)
def test_a_superuser_opens_the_add_page_only_where_adding_is_allowed(superuser_client, label):
    response = superuser_client.get(url(label, "add"))

    assert response.status_code == (200 if label in ADDABLE else 403)


@pytest.mark.parametrize("label", LABELS)
def test_a_read_only_superuser_opens_the_changelist_with_its_rows(auditor_client, label):
    response = auditor_client.get(url(label, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 1
    assert b'class="addlink"' not in response.content
    assert b'name="action"' not in response.content  # no actions, not even "delete selected"


@pytest.mark.parametrize("label", LABELS)
def test_a_read_only_superuser_opens_the_change_page_without_save_or_delete(auditor_client, world, label):
    response = auditor_client.get(url(label, "change", world.objects[label].pk))

    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert b'name="_continue"' not in response.content
    assert b'name="_addanother"' not in response.content
    assert b'class="deletelink"' not in response.content
    assert not response.context["has_change_permission"]


@pytest.mark.parametrize("label", LABELS)
def test_a_read_only_superuser_cannot_open_an_add_page(auditor_client, label):
    assert auditor_client.get(url(label, "add")).status_code == 403


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("view", ["changelist", "change", "add"])
def test_a_user_who_is_not_staff_is_sent_to_the_login_page(user_client, world, label, view):
    args = (world.objects[label].pk,) if view == "change" else ()

    response = user_client.get(url(label, view, *args))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("label", LABELS)
def test_a_staff_member_without_permissions_sees_no_model(world, label):
    world.alice.is_staff = True
    world.alice.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(world.alice)

    assert client.get(url(label, "changelist")).status_code == 403
    assert client.get(url(label, "change", world.objects[label].pk)).status_code == 403


def test_the_index_lists_every_model_to_a_read_only_superuser_without_add_links(auditor_client):
    response = auditor_client.get("/admin/")

    listed = {f"{app['app_label']}.{m['object_name'].lower()}" for app in response.context["app_list"] for m in app["models"]}
    assert listed == set(LABELS)
    assert all(not m["add_url"] for app in response.context["app_list"] for m in app["models"])
    perms = [m["perms"] for app in response.context["app_list"] for m in app["models"]]
    assert all(p == {"add": False, "change": False, "delete": False, "view": True} for p in perms)


def test_the_index_lists_nothing_to_a_staff_member_without_permissions(world):
    world.alice.is_staff = True
    world.alice.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(world.alice)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert response.context["app_list"] == []


def test_a_superuser_who_is_also_flagged_read_only_keeps_full_rights(world, label="accounts.bannermessage"):
    world.root.is_global_readonly_superuser = True
    world.root.save(update_fields=["is_global_readonly_superuser"])
    client = Client()
    client.force_login(world.root)

    response = client.get(url(label, "changelist"))

    assert b'class="addlink"' in response.content
    assert client.get(url(label, "add")).status_code == 200


@pytest.mark.parametrize("label", LABELS)
def test_changelists_cost_a_bounded_number_of_queries(superuser_client, auditor_client, label, django_assert_max_num_queries):
    for client in (superuser_client, auditor_client):
        with django_assert_max_num_queries(14):
            assert client.get(url(label, "changelist")).status_code == 200


def _more_rows(world, n: int) -> None:
    """``n`` more rows of each model the identity pages list, with the relations they show."""
    for i in range(n):
        user = user_create(username=f"extra{i}", password=None)
        robot = robot_create(namespace=world.acme.namespace, shortname=f"bot{i}").robot
        repository = RepositoryFactory(namespace=world.acme.namespace, name=f"more{i}")
        manifest = ManifestFactory(repository=repository)
        permission_set(repository=repository, role="read", robot=robot)
        permission_set(repository=repository, role="read", user=user)
        app_token_create(user=user, title=f"token {i}")
        Label.objects.create(manifest=manifest, uuid=uuid.uuid4(), key=f"k{i}", value="v")
        Star.objects.create(user=user, repository=repository)
        banner_message_create(content=f"message {i}")
        audit_log(kind="pull_repo", principal=None, repository=repository)
        now = timezone.now()
        SigningKey.objects.create(
            kid=f"more-{i}", private_key_pem="x", public_key_pem="y", retire_at=now, expires_at=now + timedelta(days=1)
        )


NEW_PAGES = [
    "accounts.robot", "accounts.apptoken", "accounts.signingkey", "accounts.bannermessage", "repositories.repositorypermission",
    "repositories.auditlog", "repositories.label", "repositories.star", "accounts.user",
]


@pytest.mark.parametrize("label", NEW_PAGES)
def test_changelists_make_no_query_per_row(superuser_client, world, label):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = superuser_client.get(url(label, "changelist"))
        assert response.status_code == 200
        return len(captured)

    few = queries()
    _more_rows(world, 10)

    assert queries() == few
