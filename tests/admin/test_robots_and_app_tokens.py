"""Robot token regeneration and app-token revocation from the console."""

from __future__ import annotations

import pytest

from accounts.models import AppToken, Robot
from accounts.services import app_token_create, credentials_verify
from repositories.models import AuditLog
from tests.admin.conftest import url

pytestmark = pytest.mark.django_db


def _action(client, label, action, *pks):
    return client.post(url(label, "changelist"), {"action": action, "_selected_action": [str(pk) for pk in pks], "index": 0}, follow=True)


def test_the_robot_list_shows_name_namespace_description_and_times(superuser_client, world):
    response = superuser_client.get(url("accounts.robot", "changelist"), {"q": "deployer"})

    assert response.context["cl"].result_count == 1
    assert [h["text"] for h in response.context["result_headers"]][1:] == ["name", "namespace", "description", "created", "last used"]
    assert b"acme+deployer" in response.content and b"pushes from CI" in response.content


def test_regenerating_a_robot_token_replaces_its_hash_and_the_new_token_authenticates(superuser_client, world):
    old_hash = world.robot.token_hash

    response = _action(superuser_client, "accounts.robot", "regenerate_token", world.robot.pk)

    assert response.status_code == 200
    robot = Robot.objects.get(pk=world.robot.pk)
    assert robot.token_hash != old_hash
    [message] = [str(m) for m in response.context["messages"]]
    new_token = message.split("<code>")[1].split("</code>")[0]
    principal = credentials_verify(username="acme+deployer", password=new_token)
    assert principal is not None and (principal.kind, principal.id) == ("robot", robot.pk)
    assert credentials_verify(username="acme+deployer", password=world.robot_token) is None


def test_the_new_robot_token_is_shown_once(superuser_client, world):
    first = _action(superuser_client, "accounts.robot", "regenerate_token", world.robot.pk)
    token_shown = first.content.split(b"<code>")[1].split(b"</code>")[0]

    again = superuser_client.get(url("accounts.robot", "changelist"))

    assert token_shown and token_shown not in again.content


def test_regenerating_a_robot_token_is_audited_without_the_token(superuser_client, world):
    _action(superuser_client, "accounts.robot", "regenerate_token", world.robot.pk)

    entry = AuditLog.objects.get(kind="regenerate_robot_token")
    assert (entry.performer_name, entry.namespace_name, entry.ip) == ("root", "acme", "127.0.0.1")
    assert entry.metadata == {"via": "admin", "robot": "deployer"}


def test_robots_cannot_be_added_or_edited_in_the_console(superuser_client, world):
    assert superuser_client.get(url("accounts.robot", "add")).status_code == 403
    response = superuser_client.post(url("accounts.robot", "change", world.robot.pk), {"description": "changed"})
    assert response.status_code == 403


def test_the_app_token_list_shows_title_user_and_times(superuser_client, world):
    response = superuser_client.get(url("accounts.apptoken", "changelist"))

    assert [h["text"] for h in response.context["result_headers"]][1:] == ["title", "user", "created", "expires at", "last used"]
    assert [t.title for t in response.context["cl"].result_list] == ["laptop"]


def test_revoking_selected_app_tokens_deletes_them_and_they_stop_working(superuser_client, world):
    spare = app_token_create(user=world.alice, title="ci")
    keep = app_token_create(user=world.alice, title="keep")

    response = _action(superuser_client, "accounts.apptoken", "revoke_tokens", world.app_token.pk, spare.app_token.pk)

    assert response.status_code == 200
    assert list(AppToken.objects.values_list("title", flat=True)) == ["keep"]
    assert credentials_verify(username="$app", password=spare.token) is None
    assert credentials_verify(username="$app", password=keep.token) is not None
    revoked = AuditLog.objects.filter(kind="revoke_app_specific_token").values_list("metadata__app_specific_token_title", flat=True)
    assert sorted(revoked) == ["ci", "laptop"]


def test_deleting_an_app_token_from_its_page_revokes_it(superuser_client, world):
    response = superuser_client.post(url("accounts.apptoken", "delete", world.app_token.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not AppToken.objects.exists()
    assert AuditLog.objects.filter(kind="revoke_app_specific_token", namespace_name="bob").count() == 1


def test_app_tokens_offer_revoke_instead_of_delete_and_no_add_or_change(superuser_client, world):
    response = superuser_client.get(url("accounts.apptoken", "changelist"))

    actions = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert actions == ["", "revoke_tokens"]
    assert superuser_client.get(url("accounts.apptoken", "add")).status_code == 403
    assert superuser_client.post(url("accounts.apptoken", "change", world.app_token.pk), {"title": "x"}).status_code == 403
