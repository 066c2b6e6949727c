"""Repository permissions through the services, and the read-only audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import robot_create
from organizations.services import organization_create
from repositories.models import AuditLog, RepositoryPermission
from tests.admin.conftest import url

pytestmark = pytest.mark.django_db


def _add(client, repository, role, **grantee):
    data = {"repository": repository.pk, "role": role, "user": "", "robot": "", "team": "", "_save": "Save"}
    data.update({name: value.pk for name, value in grantee.items()})
    return client.post(url("repositories.repositorypermission", "add"), data)


def test_the_permission_list_shows_repository_grantee_and_role(superuser_client, world):
    response = superuser_client.get(url("repositories.repositorypermission", "changelist"))

    [row] = response.context["cl"].result_list
    assert b"acme/web" in response.content and b"user bob" in response.content and row.role == "write"


def test_adding_a_permission_grants_it_through_the_service_with_an_audit_entry(superuser_client, world):
    repository = world.objects["repositories.repository"]

    response = _add(superuser_client, repository, "read", team=world.developers)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert RepositoryPermission.objects.get(team=world.developers).role == "read"
    entry = AuditLog.objects.get(kind="change_repo_permission")
    assert (entry.performer_name, entry.repository_name) == ("root", "acme/web")
    assert (entry.metadata["team"], entry.metadata["role"]) == ("developers", "read")


def test_a_robot_of_another_namespace_is_refused_with_a_form_error(superuser_client, world):
    organization_create(name="other", creator=world.alice)
    stranger = robot_create(namespace=world.alice.namespace, shortname="builder").robot
    repository = world.objects["repositories.repository"]

    response = _add(superuser_client, repository, "write", robot=stranger)

    assert response.status_code == 200
    assert "belongs to another namespace" in str(response.context["adminform"].form.errors["robot"])
    assert not RepositoryPermission.objects.filter(robot=stranger).exists()


def test_the_namespace_owner_is_refused_a_grant_with_a_form_error(superuser_client, world):
    repository = world.objects["repositories.repository"]
    owner_repository = type(repository).objects.create(namespace=world.alice.namespace, name="own", full_name="alice/own")

    response = _add(superuser_client, owner_repository, "read", user=world.alice)

    assert response.status_code == 200
    assert "always admin" in str(response.context["adminform"].form.errors["user"])


def test_a_permission_needs_exactly_one_grantee(superuser_client, world):
    response = _add(superuser_client, world.objects["repositories.repository"], "read", user=world.alice, robot=world.robot)

    assert response.status_code == 200
    assert "exactly one user, robot or team" in str(response.context["adminform"].form.non_field_errors())


def test_a_second_grant_to_the_same_grantee_is_refused(superuser_client, world):
    response = _add(superuser_client, world.objects["repositories.repository"], "admin", user=world.bob)

    assert response.status_code == 200
    assert "already has a role" in str(response.context["adminform"].form.non_field_errors())
    assert RepositoryPermission.objects.get(user=world.bob).role == "write"


def test_changing_a_permission_changes_only_its_role(superuser_client, world):
    permission = world.objects["repositories.repositorypermission"]

    response = superuser_client.post(
        url("repositories.repositorypermission", "change", permission.pk), {"role": "admin", "user": world.alice.pk}
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    permission.refresh_from_db()
    assert (permission.user, permission.role) == (world.bob, "admin")
    assert AuditLog.objects.filter(kind="change_repo_permission", metadata__username="bob", metadata__role="admin").count() == 1


def test_deleting_a_permission_removes_it_with_an_audit_entry(superuser_client, world):
    permission = world.objects["repositories.repositorypermission"]

    response = superuser_client.post(url("repositories.repositorypermission", "delete", permission.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not RepositoryPermission.objects.exists()
    assert AuditLog.objects.filter(kind="delete_repo_permission", metadata__username="bob").count() == 1


def test_deleting_selected_permissions_goes_through_the_service(superuser_client, world):
    permission = world.objects["repositories.repositorypermission"]

    superuser_client.post(
        url("repositories.repositorypermission", "changelist"),
        {"action": "delete_selected", "_selected_action": [permission.pk], "post": "yes"},
    )

    assert not RepositoryPermission.objects.exists()
    assert AuditLog.objects.filter(kind="delete_repo_permission").count() == 1


# -- audit log ---------------------------------------------------------------------------------


@pytest.fixture
def entries(world):
    old = AuditLog.objects.create(kind="login_failure", performer_name="mallory", ip="198.51.100.1", metadata={"username": "root"})
    AuditLog.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=30))
    return old


def test_the_audit_log_lists_time_kind_performer_namespace_repository_and_ip(superuser_client, entries):
    response = superuser_client.get(url("repositories.auditlog", "changelist"))

    headers = [h["text"] for h in response.context["result_headers"]]
    assert headers == ["created", "kind", "performer", "namespace name", "repository name", "ip"]
    assert [e.kind for e in response.context["cl"].result_list] == ["push_repo", "login_failure"]
    assert b"192.0.2.7" in response.content


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ({"kind": "login_failure"}, ["login_failure"]),
        ({"q": "mallory"}, ["login_failure"]),
        ({"q": "acme/web"}, ["push_repo"]),
        ({"created__gte": (timezone.now() - timedelta(days=7)).isoformat(sep=" ")}, ["push_repo"]),
    ],
)
def test_the_audit_log_filters_by_kind_and_date_and_searches_performer_and_repository(superuser_client, entries, query, kinds):
    response = superuser_client.get(url("repositories.auditlog", "changelist"), query)

    assert response.status_code == 200
    assert [e.kind for e in response.context["cl"].result_list] == kinds


def test_an_audit_entry_shows_its_metadata_pretty_printed(superuser_client, world):
    entry = world.objects["repositories.auditlog"]

    response = superuser_client.get(url("repositories.auditlog", "change", entry.pk))

    assert b'<pre style="white-space: pre-wrap; margin: 0">{\n  &quot;manifest_digest&quot;' in response.content


def test_audit_entries_cannot_be_added_changed_or_deleted_even_by_a_superuser(superuser_client, world):
    entry = world.objects["repositories.auditlog"]

    assert superuser_client.get(url("repositories.auditlog", "add")).status_code == 403
    assert superuser_client.post(url("repositories.auditlog", "change", entry.pk), {"kind": "x"}).status_code == 403
    assert superuser_client.post(url("repositories.auditlog", "delete", entry.pk), {"post": "yes"}).status_code == 403
    page = superuser_client.get(url("repositories.auditlog", "changelist"))
    assert b'name="action"' not in page.content
    assert AuditLog.objects.get(pk=entry.pk).kind == "push_repo"
