"""A global read-only superuser can look at everything and change nothing, whatever they POST."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AppToken, BannerMessage, Robot, User
from accounts.services import user_create
from repositories.models import AuditLog, Repository, RepositoryPermission
from tests.admin.conftest import registered_labels, url

pytestmark = pytest.mark.django_db

LABELS = registered_labels()


def test_user_create_lets_a_read_only_superuser_into_the_console(db):
    auditor = user_create(username="watcher", password=None, is_readonly_superuser=True)

    assert auditor.is_staff and not auditor.is_superuser


def test_user_create_keeps_ordinary_users_out_of_the_console(db):
    assert not user_create(username="someone", password=None).is_staff


@pytest.mark.parametrize("label", LABELS)
def test_posting_a_change_is_refused(auditor_client, world, label):
    obj = world.objects[label]

    response = auditor_client.post(url(label, "change", obj.pk), {"_save": "Save", "name": "renamed", "role": "admin"})

    assert response.status_code == 403


@pytest.mark.parametrize("label", LABELS)
def test_posting_a_delete_is_refused_and_the_row_stays(auditor_client, world, label):
    obj = world.objects[label]

    response = auditor_client.post(url(label, "delete", obj.pk), {"post": "yes"})

    assert response.status_code == 403
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("label", LABELS)
def test_posting_an_add_is_refused(auditor_client, label):
    assert auditor_client.post(url(label, "add"), {"content": "hello", "severity": "info", "media_type": "text/plain"}).status_code == 403


@pytest.mark.parametrize(
    ("label", "action"),
    [
        ("accounts.robot", "regenerate_token"),
        ("accounts.apptoken", "revoke_tokens"),
        ("accounts.user", "disable_users"),
        ("repositories.repositorypermission", "delete_selected"),
        ("accounts.bannermessage", "delete_selected"),
    ],
)
def test_running_an_action_is_refused_and_changes_nothing(auditor_client, world, label, action):
    obj = world.objects[label]
    before = (Robot.objects.get().token_hash, AppToken.objects.count(), User.objects.filter(is_active=True).count(),
              RepositoryPermission.objects.count(), BannerMessage.objects.count(), AuditLog.objects.count())

    response = auditor_client.post(url(label, "changelist"), {"action": action, "_selected_action": [obj.pk], "index": 0, "post": "yes"})

    assert response.status_code == 403
    after = (Robot.objects.get().token_hash, AppToken.objects.count(), User.objects.filter(is_active=True).count(),
             RepositoryPermission.objects.count(), BannerMessage.objects.count(), AuditLog.objects.count())
    assert after == before


def test_a_read_only_superuser_cannot_change_a_users_password(auditor_client, world):
    response = auditor_client.post(
        reverse("admin:auth_user_password_change", args=[world.bob.pk]), {"password1": "n3w-pass-word!", "password2": "n3w-pass-word!"}
    )

    assert response.status_code == 403
    world.bob.refresh_from_db()
    assert world.bob.check_password("correct-horse-battery")


def test_a_read_only_superuser_cannot_change_a_repositorys_visibility(auditor_client, world):
    repository = world.objects["repositories.repository"]

    response = auditor_client.post(url("repositories.repository", "change", repository.pk), {"visibility": "public", "state": "normal"})

    assert response.status_code == 403
    assert Repository.objects.get(pk=repository.pk).visibility == "private"


def test_a_read_only_superuser_sees_robot_details_but_not_the_token(auditor_client, world):
    response = auditor_client.get(url("accounts.robot", "change", world.robot.pk))

    assert b"acme+deployer" in response.content
    assert world.robot.token_hash.encode() not in response.content
    assert world.robot_token.encode() not in response.content
