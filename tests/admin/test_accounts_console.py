"""Users' enable/disable actions, banner messages, signing keys, labels and stars in the console."""

from __future__ import annotations

import pytest

from accounts.models import BannerMessage
from accounts.services import credentials_verify
from tests.admin.conftest import PRIVATE_KEY, url

pytestmark = pytest.mark.django_db


def _action(client, label, action, *pks):
    return client.post(url(label, "changelist"), {"action": action, "_selected_action": [str(pk) for pk in pks], "index": 0}, follow=True)


def test_disabling_selected_users_stops_their_logins(superuser_client, world):
    response = _action(superuser_client, "accounts.user", "disable_users", world.alice.pk, world.bob.pk)

    assert "Disabled 2 users: alice, bob." in [str(m) for m in response.context["messages"]]
    world.bob.refresh_from_db()
    assert not world.bob.is_active
    assert credentials_verify(username="bob", password="correct-horse-battery") is None


def test_enabling_selected_users_restores_their_logins(superuser_client, world):
    _action(superuser_client, "accounts.user", "disable_users", world.bob.pk)

    _action(superuser_client, "accounts.user", "enable_users", world.bob.pk)

    assert credentials_verify(username="bob", password="correct-horse-battery") is not None


def test_a_superuser_cannot_disable_their_own_account(superuser_client, world):
    response = _action(superuser_client, "accounts.user", "disable_users", world.root.pk)

    world.root.refresh_from_db()
    assert world.root.is_active
    assert "You cannot disable your own account." in [str(m) for m in response.context["messages"]]


def test_adding_a_banner_message_creates_it_through_the_service(superuser_client, world):
    response = superuser_client.post(
        url("accounts.bannermessage", "add"), {"content": "Read-only tonight", "media_type": "text/plain", "severity": "error"}
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    message = BannerMessage.objects.get(content="Read-only tonight")
    assert (message.media_type, message.severity) == ("text/plain", "error")
    assert message.uuid is not None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"content": "   ", "media_type": "text/plain", "severity": "info"}, "content"),
        ({"content": "hello", "media_type": "text/html", "severity": "info"}, "media_type"),
        ({"content": "hello", "media_type": "text/plain", "severity": "fatal"}, "severity"),
    ],
)
def test_a_bad_banner_message_is_refused_with_a_form_error(superuser_client, world, data, field):
    response = superuser_client.post(url("accounts.bannermessage", "add"), data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert BannerMessage.objects.count() == 1


def test_banner_messages_are_deleted_but_not_edited(superuser_client, world):
    banner = world.objects["accounts.bannermessage"]

    assert superuser_client.post(url("accounts.bannermessage", "change", banner.pk), {"content": "x"}).status_code == 403
    assert superuser_client.post(url("accounts.bannermessage", "delete", banner.pk), {"post": "yes"}).status_code == 302
    assert not BannerMessage.objects.exists()


@pytest.mark.parametrize("view", ["changelist", "change"])
def test_a_signing_keys_private_key_is_never_shown(superuser_client, auditor_client, world, view):
    key = world.objects["accounts.signingkey"]
    args = (key.pk,) if view == "change" else ()

    for client in (superuser_client, auditor_client):
        response = client.get(url("accounts.signingkey", view, *args))
        assert response.status_code == 200
        assert b"TOP-SECRET-KEY-MATERIAL" not in response.content and b"PRIVATE KEY" not in response.content
    assert b"PUBLIC KEY" in superuser_client.get(url("accounts.signingkey", "change", key.pk)).content
    assert "TOP-SECRET-KEY-MATERIAL" in PRIVATE_KEY


def test_signing_keys_cannot_be_added_changed_or_deleted(superuser_client, world):
    key = world.objects["accounts.signingkey"]

    assert superuser_client.get(url("accounts.signingkey", "add")).status_code == 403
    assert superuser_client.post(url("accounts.signingkey", "change", key.pk), {"kid": "x"}).status_code == 403
    assert superuser_client.post(url("accounts.signingkey", "delete", key.pk), {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("label", ["repositories.label", "repositories.star"])
def test_labels_and_stars_are_read_only(superuser_client, world, label):
    obj = world.objects[label]

    assert superuser_client.get(url(label, "add")).status_code == 403
    assert superuser_client.post(url(label, "change", obj.pk), {}).status_code == 403
    assert superuser_client.post(url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_the_label_list_shows_key_value_and_repository(superuser_client, world):
    response = superuser_client.get(url("repositories.label", "changelist"), {"q": "maintainer"})

    assert response.context["cl"].result_count == 1
    assert b"alice@example.test" in response.content and b"acme/web" in response.content
