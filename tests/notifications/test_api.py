"""The notifications REST API: Quay's paths and shapes, permissions, validation (SSRF refusals),
the test action, namespace notifications and the in-app inbox."""

from __future__ import annotations

import pytest

from organizations.models import Role, Team
from organizations.services import organization_create, team_member_add
from repositories.models import AuditLog, NotificationDelivery, RepositoryNotification, UserNotification
from repositories.services.notifications import notification_deliver
from repositories.services.repositories import permission_set
from tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/repository/acme/app/notification/"


@pytest.fixture
def org(alice):
    return organization_create(name="acme", creator=alice)  # alice administers acme


@pytest.fixture
def repository(org):
    return RepositoryFactory(namespace=org.namespace, name="app")


def create(client, receiver, **overrides):
    body = {"event": "repo_push", "method": "webhook", "config": {"url": receiver.url(), "secret": "k"}, "eventConfig": {}, "title": "CI", **overrides}
    return client.post(BASE, body, format="json")


def test_an_admin_creates_lists_gets_and_deletes_a_repository_notification(repository, login, alice, receiver):
    client = login(alice)

    created = create(client, receiver)

    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) >= {"uuid", "title", "event", "method", "config", "event_config", "number_of_failures"}
    assert (body["event"], body["method"], body["title"], body["number_of_failures"]) == ("repo_push", "webhook", "CI", 0)
    assert body["config"] == {"url": receiver.url(), "secret": "********"}
    listed = client.get(BASE).json()["notifications"]
    assert [n["uuid"] for n in listed] == [body["uuid"]]
    assert client.get(f"{BASE}{body['uuid']}").json()["uuid"] == body["uuid"]
    assert client.delete(f"{BASE}{body['uuid']}").status_code == 204
    assert client.get(f"{BASE}{body['uuid']}").status_code == 404
    kinds = set(AuditLog.objects.values_list("kind", flat=True))
    assert {"add_repo_notification", "delete_repo_notification"} <= kinds


def test_post_on_a_notification_resets_its_failures_and_enables_it(repository, login, alice, receiver):
    client = login(alice)
    uuid = create(client, receiver).json()["uuid"]
    RepositoryNotification.objects.filter(uuid=uuid).update(number_of_failures=3, enabled=False)

    assert client.post(f"{BASE}{uuid}").status_code == 204

    body = client.get(f"{BASE}{uuid}").json()
    assert (body["number_of_failures"], body["enabled"]) == (0, True)


def test_the_test_action_queues_a_sample_delivery(repository, login, alice, receiver, django_capture_on_commit_callbacks):
    client = login(alice)
    uuid = create(client, receiver).json()["uuid"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}{uuid}/test")

    assert (response.status_code, response.json()) == (200, {})
    delivery = NotificationDelivery.objects.get()
    assert delivery.is_test
    notification_deliver(delivery_id=delivery.pk)
    assert receiver.requests[0].json()["repository"] == "acme/app"


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://169.254.169.254/latest/meta-data/", "metadata"), ("http://10.0.0.1/hook", "private"), ("http://[::1]:8080/hook", "loopback")],
)
def test_urls_the_outbound_policy_refuses_are_rejected_at_creation(repository, login, alice, strict_outbound, url, reason):
    response = login(alice).post(BASE, {"event": "repo_push", "method": "webhook", "config": {"url": url}, "eventConfig": {}}, format="json")

    assert response.status_code == 400
    assert reason in response.json()["error_message"]
    assert not RepositoryNotification.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event": "nope", "method": "webhook", "config": {}}, "Unknown event"),
        ({"event": "quota_warning", "method": "webhook", "config": {}}, "Invalid event"),
        ({"event": "repo_push", "method": "carrier-pigeon", "config": {}}, "Unknown notification method"),
        ({"event": "repo_push", "method": "webhook", "config": {}}, "Missing webhook URL"),
        ({"event": "repo_push", "method": "email", "config": {"email": "not-an-address"}}, "e-mail"),
        ({"event": "repo_push", "method": "quay_notification", "config": {"target": {"kind": "user", "name": "ghost"}}}, "Unknown user"),
        ({"event": "repo_image_expiry", "method": "email", "config": {"email": "a@b.test"}, "eventConfig": {}}, "days"),
        ({"event": "repo_push", "method": "webhook", "config": {"url": "http://127.0.0.1/", "template": "{not json"}}, "template"),
    ],
)
def test_invalid_notifications_are_rejected_with_a_clear_message(repository, login, alice, body, message):
    response = login(alice).post(BASE, {"eventConfig": {}, **body}, format="json")

    assert response.status_code == 400
    assert message in response.json()["error_message"]


def test_permissions_readers_and_writers_are_refused_strangers_see_nothing(repository, login, bob, anonymous, receiver):
    assert anonymous.get(BASE).status_code == 401
    assert login(bob).get(BASE).status_code == 404  # a private repository bob cannot read
    permission_set(repository=repository, role=Role.WRITE, user=bob)
    assert login(bob).get(BASE).status_code == 403
    assert create(login(bob), receiver).status_code == 403
    permission_set(repository=repository, role=Role.ADMIN, user=bob)
    assert login(bob).get(BASE).status_code == 200


def test_a_notification_of_another_repository_is_not_found(repository, org, login, alice, receiver):
    RepositoryFactory(namespace=org.namespace, name="other")
    uuid = create(login(alice), receiver).json()["uuid"]

    assert login(alice).get(f"/api/v1/repository/acme/other/notification/{uuid}").status_code == 404
    assert login(alice).get(f"{BASE}not-a-uuid").status_code == 404


def test_organization_notifications_need_an_org_admin(org, login, alice, bob, receiver):
    url = "/api/v1/organization/acme/notifications"
    body = {"event": "quota_warning", "method": "webhook", "config": {"url": receiver.url()}, "eventConfig": {}}
    members = Team.objects.create(organization=org, name="members")
    team_member_add(team=members, user=bob)

    assert login(bob).post(url, body, format="json").status_code == 403
    created = login(alice).post(url, body, format="json")
    assert created.status_code == 201, created.content
    uuid = created.json()["uuid"]
    assert [n["uuid"] for n in login(alice).get(url).json()["notifications"]] == [uuid]
    assert login(alice).post(f"{url}/{uuid}/test").status_code == 200
    assert login(alice).post(f"{url}/{uuid}").status_code == 204
    assert login(bob).delete(f"{url}/{uuid}").status_code == 403
    assert login(alice).delete(f"{url}/{uuid}").status_code == 204
    assert login(alice).post(url, {**body, "event": "repo_push"}, format="json").status_code == 400


def test_user_namespace_notifications_belong_to_the_signed_in_user(login, alice, bob, receiver):
    url = "/api/v1/user/namespacenotifications"
    body = {"event": "quota_error", "method": "webhook", "config": {"url": receiver.url()}, "eventConfig": {}}

    uuid = login(alice).post(url, body, format="json").json()["uuid"]

    assert login(alice).get(f"{url}/{uuid}").json()["event"] == "quota_error"
    assert login(bob).get(f"{url}/{uuid}").status_code == 404
    assert login(bob).get(url).json() == {"notifications": []}


def test_the_inbox_lists_pages_and_dismisses_in_app_notifications(org, login, alice, bob):
    for n in range(7):
        UserNotification.objects.create(kind="repo_push", target_user=alice, metadata={"n": n})
    UserNotification.objects.create(kind="quota_warning", target_namespace=org.namespace, metadata={"namespace": "acme"})
    UserNotification.objects.create(kind="repo_push", target_user=bob, metadata={})
    client = login(alice)

    first = client.get("/api/v1/user/notifications").json()
    rest = client.get("/api/v1/user/notifications?page=2").json()

    assert (len(first["notifications"]), first["additional"]) == (5, True)
    assert (len(rest["notifications"]), rest["additional"]) == (3, False)
    org_note = next(n for n in first["notifications"] + rest["notifications"] if n["kind"] == "quota_warning")
    assert org_note["organization"] == "acme"
    assert set(org_note) == {"id", "organization", "kind", "created", "metadata", "dismissed"}
    dismissed = client.put(f"/api/v1/user/notifications/{org_note['id']}", {"dismissed": True}, format="json")
    assert dismissed.json()["dismissed"] is True
    assert len(client.get("/api/v1/user/notifications?limit=100").json()["notifications"]) == 7
    # bob is no admin of acme: neither the organization's notification nor alice's are his
    assert login(bob).get(f"/api/v1/user/notifications/{org_note['id']}").status_code == 404
    assert len(login(bob).get("/api/v1/user/notifications").json()["notifications"]) == 1
    assert client.get("/api/v1/user/notifications?limit=0").status_code == 400
