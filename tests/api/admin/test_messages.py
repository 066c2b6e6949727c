"""Banner messages: everyone reads them (even signed out); superusers post and delete them."""

from __future__ import annotations

import pytest

from accounts.models import BannerMessage
from accounts.services import banner_message_create
from repositories.models import AuditLog

pytestmark = pytest.mark.django_db

NOTICE = {"message": {"content": "Maintenance **tonight**", "media_type": "text/markdown", "severity": "warning"}}


def test_anyone_reads_banner_messages(anonymous, db, django_assert_max_num_queries):
    for n in range(5):
        banner_message_create(content=f"note {n}", media_type="text/plain", severity="info")

    with django_assert_max_num_queries(2):
        response = anonymous.get("/api/v1/messages")

    assert response.status_code == 200
    messages = response.json()["messages"]
    assert len(messages) == 5
    assert set(messages[0]) == {"uuid", "content", "media_type", "severity"}


def test_a_superuser_posts_a_message(login, root, anonymous):
    response = login(root).post("/api/v1/messages", NOTICE, format="json")

    assert response.status_code == 201, response.content
    created = response.json()["message"]
    assert {k: created[k] for k in ("content", "media_type", "severity")} == NOTICE["message"]
    assert anonymous.get("/api/v1/messages").json()["messages"] == [created]
    entry = AuditLog.objects.get(kind="create_message")
    assert (entry.performer_name, entry.metadata["uuid"]) == ("root", created["uuid"])


def test_media_type_and_severity_have_defaults(bearer, root):
    response = bearer(root).post("/api/v1/messages", {"message": {"content": "hello"}}, format="json")

    assert response.status_code == 201
    assert (response.json()["message"]["media_type"], response.json()["message"]["severity"]) == ("text/markdown", "info")


@pytest.mark.parametrize(
    "body",
    [
        {"message": {"content": "x", "severity": "panic"}},
        {"message": {"content": "x", "media_type": "text/html"}},
        {"message": {"content": ""}},
        {"message": "just text"},
        {"content": "x"},
    ],
)
def test_bad_messages_are_refused(login, root, body):
    response = login(root).post("/api/v1/messages", body, format="json")

    assert response.status_code == 400
    assert not BannerMessage.objects.exists()


def test_a_superuser_deletes_a_message(login, root):
    message = banner_message_create(content="old news")

    response = login(root).delete(f"/api/v1/message/{message.uuid}")

    assert response.status_code == 204
    assert not BannerMessage.objects.exists()
    assert AuditLog.objects.get(kind="delete_message").metadata == {"uuid": str(message.uuid)}
    assert login(root).delete(f"/api/v1/message/{message.uuid}").status_code == 404


def test_only_superusers_post_or_delete(login, bearer, robot_client, anonymous, alice, auditor, acme_robot):
    message = banner_message_create(content="keep me")
    for client, status in ((login(alice), 403), (bearer(auditor), 403), (robot_client(acme_robot), 403), (anonymous, 401)):
        assert client.post("/api/v1/messages", NOTICE, format="json").status_code == status
        assert client.delete(f"/api/v1/message/{message.uuid}").status_code == status
    assert list(BannerMessage.objects.values_list("content", flat=True)) == ["keep me"]
