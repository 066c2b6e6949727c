"""The mirror REST API: Quay's paths and JSON, the password never shown, validation (outbound
policy, robot, required fields), sync-now / sync-cancel and permissions."""

from __future__ import annotations

import pytest

from accounts.services import robot_create
from organizations.services import organization_create
from repositories.models import AuditLog, Repository, RepositoryPermission
from repositories.models.mirror import MirrorStatus, RepositoryMirror
from repositories.services.mirror import mirrors_queue_due, secret_decrypt
from repositories.services.repositories import permission_set
from tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/repository/acme/app/mirror"
BODY = {
    "is_enabled": True,
    "external_reference": "http://127.0.0.1:5999/library/app",
    "external_registry_username": "puller",
    "external_registry_password": "very-secret-password",
    "external_registry_config": {"verify_tls": False, "unsigned_images": True, "proxy": {"http_proxy": None, "https_proxy": None, "no_proxy": None}},
    "sync_interval": 3600,
    "sync_start_date": "2030-01-02T03:04:05Z",
    "robot_username": "acme+mirror",
    "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["v1.*", "latest"]},
    "architecture_filter": ["arm64", "amd64"],
}


@pytest.fixture
def repository(alice):
    org = organization_create(name="acme", creator=alice)
    robot_create(namespace=org.namespace, shortname="mirror")
    return RepositoryFactory(namespace=org.namespace, name="app")


def test_an_admin_configures_a_mirror_and_reads_it_back_without_the_password(repository, login, alice):
    client = login(alice)

    created = client.post(URL, BODY, format="json")

    assert created.status_code == 201, created.content
    shown = client.get(URL)
    assert shown.status_code == 200
    body = shown.json()
    assert b"very-secret-password" not in created.content + shown.content
    assert "external_registry_password" not in body
    assert body["external_registry_username"] == "puller"
    assert body["external_reference"] == BODY["external_reference"]
    assert body["root_rule"] == {"rule_kind": "tag_glob_csv", "rule_value": ["v1.*", "latest"]}
    assert (body["sync_interval"], body["sync_start_date"], body["next_sync_date"]) == (3600, "2030-01-02T03:04:05Z", "2030-01-02T03:04:05Z")
    assert (body["sync_status"], body["robot_username"], body["is_enabled"], body["mirror_type"]) == ("NEVER_RUN", "acme+mirror", True, "PULL")
    assert body["architecture_filter"] == ["amd64", "arm64"] and body["external_registry_config"]["verify_tls"] is False
    repository.refresh_from_db()
    assert repository.state == Repository.State.MIRROR
    assert RepositoryPermission.objects.get(repository=repository, robot__shortname="mirror").role == "write"
    assert "very-secret-password" not in RepositoryMirror.objects.get().password_encrypted
    assert AuditLog.objects.filter(kind="repo_mirror_config_changed", repository=repository).exists()


def test_a_second_configuration_is_a_conflict(repository, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")

    assert client.post(URL, BODY, format="json").status_code == 409


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"external_reference": "http://10.0.0.7:5000/library/app"}, "private network"),
        ({"external_reference": "http://169.254.169.254/latest/app"}, "metadata"),
        ({"external_reference": "just-a-host"}, "registry host and a repository"),
        ({"external_reference": "127.0.0.1:5000/library/app:latest"}, "not a tag"),
        ({"robot_username": "acme+nobody"}, "no robot account"),
        ({"root_rule": {"rule_kind": "tag_glob_csv", "rule_value": []}}, "at least one tag pattern"),
        ({"external_registry_config": {"proxy": {"https_proxy": "http://proxy:3128"}}}, "proxies"),
    ],
)
def test_bad_configurations_are_refused_with_a_reason(repository, login, alice, change, message):
    response = login(alice).post(URL, {**BODY, **change}, format="json")

    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    assert not RepositoryMirror.objects.exists()


def test_missing_required_fields_are_named(repository, login, alice):
    response = login(alice).post(URL, {"external_reference": BODY["external_reference"]}, format="json")

    assert response.status_code == 400
    assert "sync_interval" in response.json()["error_message"] and "robot_username" in response.json()["error_message"]


def test_a_robot_of_another_namespace_is_refused(repository, login, alice, bob):
    robot_create(namespace=bob.namespace, shortname="mirror")

    response = login(alice).post(URL, {**BODY, "robot_username": "bob+mirror"}, format="json")

    assert response.status_code == 400 and "another namespace" in response.content.decode()


def test_put_changes_only_the_fields_given(repository, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")

    changed = client.put(URL, {"root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["*"]}, "sync_interval": 600, "is_enabled": False}, format="json")

    assert changed.status_code == 201, changed.content
    body = client.get(URL).json()
    assert (body["root_rule"]["rule_value"], body["sync_interval"], body["is_enabled"]) == (["*"], 600, False)
    assert body["external_registry_username"] == "puller" and body["external_reference"] == BODY["external_reference"]
    mirror = RepositoryMirror.objects.get()
    assert mirror.password_encrypted  # unchanged


def test_a_password_without_a_username_is_refused(repository, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")

    response = client.put(URL, {"external_registry_password": "x"}, format="json")

    assert response.status_code == 400 and "username" in response.content.decode()


def test_sync_now_requests_a_sync_the_scheduler_queues_and_cancel_withdraws_it(repository, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")  # first sync in 2030

    assert mirrors_queue_due() == []
    assert client.post(f"{URL}/sync-now").status_code == 204
    assert client.get(URL).json()["sync_status"] == "SYNC_NOW"
    assert client.post(f"{URL}/sync-cancel").status_code == 204
    assert client.get(URL).json()["sync_status"] == "CANCEL"
    assert mirrors_queue_due() == []
    assert client.post(f"{URL}/sync-cancel").status_code == 404  # nothing to cancel any more

    assert client.post(f"{URL}/sync-now").status_code == 204
    assert mirrors_queue_due() == [RepositoryMirror.objects.get().pk]


def test_cancel_of_a_running_sync_raises_its_flag_and_sync_now_is_refused_meanwhile(repository, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")
    RepositoryMirror.objects.update(status=MirrorStatus.SYNCING, sync_token="t", sync_expires_at="2099-01-01T00:00:00Z")

    assert client.post(f"{URL}/sync-now").status_code == 409
    assert client.post(f"{URL}/sync-cancel").status_code == 204
    assert RepositoryMirror.objects.get().cancel_requested is True


def test_a_repository_without_a_mirror_answers_404(repository, login, alice):
    client = login(alice)

    assert client.get(URL).status_code == 404
    assert client.put(URL, {"sync_interval": 600}, format="json").status_code == 404
    assert client.post(f"{URL}/sync-now").status_code == 404


def test_only_repository_admins_may_see_or_change_the_mirror(repository, login, alice, bob, anonymous):
    login(alice).post(URL, BODY, format="json")
    client = login(bob)

    assert client.get(URL).status_code == 404  # bob cannot even see the private repository
    permission_set(repository=repository, role="write", user=bob)
    assert client.get(URL).status_code == 403
    assert client.put(URL, {"sync_interval": 600}, format="json").status_code == 403
    assert client.post(f"{URL}/sync-now").status_code == 403
    assert anonymous.get(URL).status_code == 401
    permission_set(repository=repository, role="admin", user=bob)
    assert client.get(URL).status_code == 200


def test_a_new_username_alone_keeps_the_password_and_a_null_username_clears_both(repository, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")

    assert client.put(URL, {"external_registry_username": "other"}, format="json").status_code == 201
    mirror = RepositoryMirror.objects.get()
    assert (secret_decrypt(mirror.username_encrypted), secret_decrypt(mirror.password_encrypted)) == ("other", "very-secret-password")

    assert client.put(URL, {"external_registry_username": None, "external_registry_password": None}, format="json").status_code == 201
    mirror.refresh_from_db()
    assert (mirror.username_encrypted, mirror.password_encrypted) == ("", "")
    assert client.get(URL).json()["external_registry_username"] is None


def test_in_mirror_state_only_the_mirror_robot_may_push(repository, login, alice):
    from accounts.models import Robot
    from accounts.services import principal_for_robot
    from repositories.access import Action, is_allowed

    assert login(alice).post(URL, BODY, format="json").status_code == 201
    repository.refresh_from_db()
    mirror_robot = Robot.objects.get(shortname="mirror")
    other = robot_create(namespace=repository.namespace, shortname="other").robot
    permission_set(repository=repository, role="write", robot=other)

    assert is_allowed(principal_for_robot(mirror_robot), Action.PUSH, repository)
    assert not is_allowed(principal_for_robot(other), Action.PUSH, repository)
