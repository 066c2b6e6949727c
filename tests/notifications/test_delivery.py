"""Delivering notifications to real receivers on loopback: webhooks (signed, templated), Slack,
e-mail over SMTP, in-app; retries, self-disabling, the push path, registry events, expiry notices."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.utils import timezone

from accounts.models import Namespace
from organizations.models import Organization, Team, TeamMember
from repositories.models import NotificationDelivery, RepositoryNotification, TagExpiryNotice, UserNotification
from repositories.models.notifications import NamespaceNotification
from repositories.services.manifests import manifest_put
from repositories.media_types import OCI_MANIFEST
from repositories.services.notifications import (
    namespace_notification_create,
    notification_deliver,
    notification_event_dispatch,
    notification_expiry_scan,
    notification_log_prune,
    notification_reset,
    notification_test,
    repository_notification_create,
)
from repositories.signals import emit_registry_event
from tests.factories import RepositoryFactory, TagFactory, image_manifest
from tests.repositories.conftest import storage  # noqa: F401 - fixture
from tests.repositories.helpers import push_blob

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository(db):
    return RepositoryFactory(namespace__name="acme", name="app")


def webhook(repository, receiver, **config):
    return repository_notification_create(repository=repository, event="repo_push", method="webhook", config={"url": receiver.url(), **config}, event_config={})


def push_event(repository, tags=("latest",)):
    return notification_event_dispatch(
        event="repo_push", namespace_id=repository.namespace_id, repository_id=repository.pk, payload={"updated_tags": list(tags)}
    )


def test_a_webhook_receives_the_event_data_in_quays_shape(repository, receiver):
    webhook(repository, receiver)
    [delivery_id] = push_event(repository, ["latest", "v1"])

    outcome = notification_deliver(delivery_id=delivery_id)

    assert outcome.status == "succeeded"
    body = receiver.requests[0].json()
    assert body["repository"] == "acme/app"
    assert (body["namespace"], body["name"], body["updated_tags"]) == ("acme", "app", ["latest", "v1"])
    assert body["docker_url"].endswith("/acme/app")
    assert body["homepage"].endswith("/repository/acme/app")
    assert receiver.requests[0].headers["content-type"] == "application/json"
    assert receiver.requests[0].headers["x-moorage-event"] == "repo_push"
    assert "x-moorage-signature-256" not in receiver.requests[0].headers


def test_a_signed_webhook_carries_an_hmac_sha256_of_the_body_the_receiver_can_verify(repository, receiver):
    webhook(repository, receiver, secret="s3cret")
    [delivery_id] = push_event(repository)

    notification_deliver(delivery_id=delivery_id)

    request = receiver.requests[0]
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-moorage-signature-256"], expected)
    assert "secret" not in RepositoryNotification.objects.get().config


def test_a_body_template_substitutes_fields(repository, receiver):
    template = json.dumps({"text": "pushed ${updated_tags} to ${repository}", "tags": "${updated_tags}", "missing": "${nope.x}"})
    webhook(repository, receiver, template=template)
    [delivery_id] = push_event(repository, ["a", "b"])

    notification_deliver(delivery_id=delivery_id)

    assert receiver.requests[0].json() == {"text": "pushed a, b to acme/app", "tags": ["a", "b"], "missing": None}


def test_slack_gets_an_incoming_webhook_message(repository, receiver):
    repository_notification_create(repository=repository, event="repo_push", method="slack", config={"url": receiver.url("/slack")}, event_config={})
    [delivery_id] = push_event(repository, ["latest"])

    notification_deliver(delivery_id=delivery_id)

    message = receiver.requests[0].json()
    assert message["text"] == "Repository acme/app updated"
    [attachment] = message["attachments"]
    assert attachment["fallback"] == "Repository acme/app updated"
    assert "Tags pushed: latest" in attachment["text"]
    assert attachment["mrkdwn_in"] == ["text"] and attachment["color"] == "good"


def test_email_is_delivered_through_a_real_smtp_server(repository, smtp_server):
    repository_notification_create(repository=repository, event="repo_push", method="email", config={"email": "ops@example.test"}, event_config={})
    [delivery_id] = push_event(repository, ["v2"])

    outcome = notification_deliver(delivery_id=delivery_id)

    assert outcome.status == "succeeded"
    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["ops@example.test"]
    assert envelope.mail_from == "registry@example.test"
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "[Moorage] Repository acme/app updated"
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Tags pushed: v2" in text


def test_email_without_an_smtp_server_fails_with_a_clear_error(repository, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    repository_notification_create(repository=repository, event="repo_push", method="email", config={"email": "ops@example.test"}, event_config={})
    [delivery_id] = push_event(repository)

    notification_deliver(delivery_id=delivery_id)

    assert "no SMTP server configured" in NotificationDelivery.objects.get().attempt_log.get().error


def test_failures_are_retried_with_backoff_and_the_notification_disables_itself(repository, receiver):
    receiver.statuses = [500]
    notification = webhook(repository, receiver)
    [delivery_id] = push_event(repository)

    outcomes = [notification_deliver(delivery_id=delivery_id) for _ in range(3)]

    assert [o.status for o in outcomes] == ["pending", "pending", "failed"]
    assert [o.retry_in for o in outcomes] == [1, 2, None]
    assert len(receiver.requests) == 3
    notification.refresh_from_db()
    assert (notification.enabled, notification.number_of_failures) == (False, 3)
    attempts = list(NotificationDelivery.objects.get(pk=delivery_id).attempt_log.all())
    assert [(a.succeeded, a.http_status) for a in attempts] == [(False, 500)] * 3
    assert "500 response from the receiver: receiver is broken" in attempts[0].error
    # disabled: later events are not delivered at all
    assert push_event(repository) == []


def test_reenabling_resets_the_failures_and_deliveries_flow_again(repository, receiver):
    receiver.statuses = [500]
    notification = webhook(repository, receiver)
    [delivery_id] = push_event(repository)
    for _ in range(3):
        notification_deliver(delivery_id=delivery_id)
    receiver.statuses = [200]

    notification_reset(notification=RepositoryNotification.objects.get(pk=notification.pk))
    [again] = push_event(repository)

    assert notification_deliver(delivery_id=again).status == "succeeded"
    notification.refresh_from_db()
    assert (notification.enabled, notification.number_of_failures) == (True, 0)


def test_a_success_resets_the_consecutive_failure_count(repository, receiver):
    receiver.statuses = [500, 200]
    notification = webhook(repository, receiver)
    [delivery_id] = push_event(repository)

    assert notification_deliver(delivery_id=delivery_id).status == "pending"
    assert notification_deliver(delivery_id=delivery_id).status == "succeeded"

    notification.refresh_from_db()
    assert notification.number_of_failures == 0


def test_a_finished_or_claimed_delivery_is_not_sent_twice(repository, receiver):
    webhook(repository, receiver)
    [delivery_id] = push_event(repository)
    notification_deliver(delivery_id=delivery_id)

    assert notification_deliver(delivery_id=delivery_id).status == "skipped"
    assert len(receiver.requests) == 1


def test_a_test_delivery_sends_sample_data_once(repository, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500]
    notification = webhook(repository, receiver)

    with django_capture_on_commit_callbacks(execute=True):
        delivery = notification_test(notification=notification)
    outcome = notification_deliver(delivery_id=delivery.pk)

    assert outcome.status == "failed"  # tests are tried once
    assert receiver.requests[0].json()["updated_tags"] == ["latest", "foo"]
    notification.refresh_from_db()
    assert notification.number_of_failures == 0  # and never count towards disabling


def test_delivery_rechecks_the_outbound_policy(repository, receiver, strict_outbound, settings):
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}}
    webhook(repository, receiver)
    [delivery_id] = push_event(repository)
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": []}}

    notification_deliver(delivery_id=delivery_id)

    assert receiver.requests == []
    assert "refused by the outbound policy" in NotificationDelivery.objects.get().attempt_log.get().error


def test_in_app_notifications_reach_a_user_a_teams_members_and_an_organization(repository, alice, bob):
    organization = Organization.objects.create(namespace=repository.namespace)
    team = Team.objects.create(organization=organization, name="devs")
    TeamMember.objects.create(team=team, user=alice)
    TeamMember.objects.create(team=team, user=bob)
    for target in ({"kind": "user", "name": "bob"}, {"kind": "team", "name": "devs"}, {"kind": "org", "name": "acme"}):
        repository_notification_create(repository=repository, event="repo_push", method="quay_notification", config={"target": target}, event_config={})

    for delivery_id in push_event(repository):
        assert notification_deliver(delivery_id=delivery_id).status == "succeeded"

    assert UserNotification.objects.filter(target_user=bob).count() == 2
    assert UserNotification.objects.filter(target_user=alice).count() == 1
    org_note = UserNotification.objects.get(target_namespace=repository.namespace)
    assert (org_note.kind, org_note.metadata["updated_tags"]) == ("repo_push", ["latest"])


def test_a_push_through_the_real_push_path_creates_a_repo_push_delivery_with_its_tags(
    repository, receiver, storage, django_capture_on_commit_callbacks
):
    webhook(repository, receiver)
    config, layer = b'{"architecture": "amd64", "os": "linux"}', b"layer" * 50
    for data in (config, layer):
        push_blob(repository=repository, data=data)

    with django_capture_on_commit_callbacks(execute=True):
        manifest_put(repository=repository, reference="v1.0", raw=image_manifest(config=config, layers=[layer]), content_type=OCI_MANIFEST, extra_tags=("stable",))
    delivery = NotificationDelivery.objects.get()
    notification_deliver(delivery_id=delivery.pk)

    assert delivery.event == "repo_push"
    assert sorted(receiver.requests[0].json()["updated_tags"]) == ["stable", "v1.0"]


def test_registry_events_reach_namespace_notifications(repository, receiver, django_capture_on_commit_callbacks):
    namespace_notification_create(namespace=repository.namespace, event="quota_warning", method="webhook", config={"url": receiver.url()}, event_config={})

    with django_capture_on_commit_callbacks(execute=True):
        emit_registry_event("quota_warning", namespace_id=repository.namespace_id, payload={"threshold_percent": 80, "usage_percent": 81})
    delivery = NotificationDelivery.objects.get()
    notification_deliver(delivery_id=delivery.pk)

    body = receiver.requests[0].json()
    assert (body["namespace"], body["threshold_percent"]) == ("acme", 80)
    assert body["homepage"].endswith("/organization/acme")
    assert delivery.namespace_notification == NamespaceNotification.objects.get()


@pytest.mark.parametrize(("priority", "delivered"), [("Critical", True), ("High", True), ("Medium", False), ("Low", False)])
def test_vulnerability_found_is_delivered_at_or_above_the_configured_level(repository, receiver, priority, delivered):
    repository_notification_create(
        repository=repository, event="vulnerability_found", method="webhook", config={"url": receiver.url()}, event_config={"level": "High"}
    )

    ids = notification_event_dispatch(
        event="vulnerability_found", namespace_id=repository.namespace_id, repository_id=repository.pk,
        payload={"tags": ["latest"], "vulnerability": {"id": "CVE-1", "priority": priority}},
    )

    assert bool(ids) is delivered


def test_expiring_tags_are_announced_once_per_tag_lifetime(repository, receiver):
    repository_notification_create(repository=repository, event="repo_image_expiry", method="webhook", config={"url": receiver.url()}, event_config={"days": 3})
    now = timezone.now()
    soon = TagFactory(repository=repository, name="soon", expires_at=now + timedelta(days=2))
    TagFactory(repository=repository, name="later", expires_at=now + timedelta(days=10))
    TagFactory(repository=repository, name="forever")

    first = notification_expiry_scan(now=now)
    second = notification_expiry_scan(now=now + timedelta(hours=1))

    assert len(first) == 1 and second == []
    notification_deliver(delivery_id=first[0])
    body = receiver.requests[0].json()
    assert (body["tags"], body["expiring_in"], body["repository"]) == (["soon"], "3 days", "acme/app")
    assert TagExpiryNotice.objects.filter(tag_row_id=soon.pk).count() == 1
    # a week later the other tag comes within the window: only it is announced
    later = notification_expiry_scan(now=now + timedelta(days=8))
    assert len(later) == 1
    assert NotificationDelivery.objects.get(pk=later[0]).payload["tags"] == ["later"]


def test_pruning_drops_old_finished_deliveries_and_keeps_recent_ones(repository, receiver):
    webhook(repository, receiver)
    old, recent = push_event(repository) + push_event(repository)
    for delivery_id in (old, recent):
        notification_deliver(delivery_id=delivery_id)
    NotificationDelivery.objects.filter(pk=old).update(finished=timezone.now() - timedelta(days=31))

    notification_log_prune()

    assert list(NotificationDelivery.objects.values_list("pk", flat=True)) == [recent]


def test_the_delivery_task_retries_until_the_notification_disables_itself(repository, receiver):
    from tasks.notifications import deliver

    receiver.statuses = [503]
    notification = webhook(repository, receiver)
    [delivery_id] = push_event(repository)

    deliver.apply(args=(delivery_id,))  # eager: each retry runs at once

    assert len(receiver.requests) == 3
    notification.refresh_from_db()
    assert notification.enabled is False
    assert NotificationDelivery.objects.get(pk=delivery_id).status == "failed"
