"""The organization mirror REST API: Quay's paths, the password never shown, validation, org
admin only, verify (bad credentials reported clearly), the discovered repositories (paged, per
repository status) and the mirror health summary."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Robot
from accounts.services import robot_create
from organizations.models import Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.models import AuditLog, Repository
from repositories.models.mirror import MirrorStatus, OrganizationMirror, OrganizationMirrorRepository
from repositories.services.mirror import MirrorSettings, mirror_create
from repositories.services.mirror_org import org_mirror_sync, secret_decrypt
from tests.factories import RepositoryFactory
from tests.mirror.conftest import make_image

URL = "/api/v1/organization/acme/mirror"
BODY = {
    "is_enabled": True,
    "external_registry_url": "http://127.0.0.1:5999",
    "external_namespace": "lib",
    "external_registry_username": "puller",
    "external_registry_password": "very-secret-password",
    "external_registry_config": {"verify_tls": False},
    "repository_filters": ["app-*"],
    "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["v*"]},
    "architecture_filter": ["amd64"],
    "visibility": "public",
    "delete_stale_repos": True,
    "sync_interval": 3600,
    "sync_start_date": "2030-01-02T03:04:05Z",
    "robot_username": "acme+mirror",
}


@pytest.fixture
def org(db, alice):
    organization = organization_create(name="acme", creator=alice)
    robot_create(namespace=organization.namespace, shortname="mirror")
    return organization


@pytest.mark.django_db
def test_an_org_admin_configures_the_mirror_and_reads_it_back_without_the_password(org, login, alice):
    client = login(alice)

    created = client.post(URL, BODY, format="json")

    assert created.status_code == 201, created.content
    body = client.get(URL).json()
    assert b"very-secret-password" not in created.content
    assert "external_registry_password" not in body
    assert (body["external_registry_url"], body["external_namespace"], body["external_registry_username"]) == ("http://127.0.0.1:5999", "lib", "puller")
    assert (body["repository_filters"], body["root_rule"]["rule_value"], body["visibility"], body["delete_stale_repos"]) == (["app-*"], ["v*"], "public", True)
    assert (body["sync_status"], body["next_sync_date"], body["robot_username"], body["repository_count"]) == ("NEVER_RUN", "2030-01-02T03:04:05Z", "acme+mirror", 0)
    assert body["external_registry_config"]["verify_tls"] is False
    stored = OrganizationMirror.objects.get()
    assert "very-secret-password" not in stored.password_encrypted and secret_decrypt(stored.password_encrypted) == "very-secret-password"
    assert AuditLog.objects.filter(kind="org_mirror_config_changed", namespace_name="acme").exists()
    assert client.post(URL, BODY, format="json").status_code == 409


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"external_registry_url": "http://10.0.0.7:5000"}, "private network"),
        ({"external_registry_url": "http://127.0.0.1:5000/lib"}, "without a path"),
        ({"external_namespace": "Upper Case"}, "not a valid namespace"),
        ({"robot_username": "acme+nobody"}, "no robot account"),
        ({"repositories": ["ok", "Bad Name"]}, "invalid repository names"),
        ({"root_rule": {"rule_kind": "tag_glob_csv", "rule_value": []}}, "at least one tag pattern"),
    ],
)
def test_bad_configurations_are_refused_with_a_reason(org, login, alice, change, message):
    response = login(alice).post(URL, {**BODY, **change}, format="json")

    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    assert not OrganizationMirror.objects.exists()


@pytest.mark.django_db
def test_missing_required_fields_are_named(org, login, alice):
    response = login(alice).post(URL, {"external_namespace": "lib"}, format="json")

    assert response.status_code == 400
    assert all(name in response.content.decode() for name in ("external_registry_url", "sync_interval", "sync_start_date", "robot_username"))


@pytest.mark.django_db
def test_a_robot_of_another_namespace_is_refused(org, login, alice, bob):
    robot_create(namespace=bob.namespace, shortname="mirror")

    response = login(alice).post(URL, {**BODY, "robot_username": "bob+mirror"}, format="json")

    assert response.status_code == 400 and "another namespace" in response.content.decode()


@pytest.mark.django_db
def test_put_changes_only_the_fields_given_and_delete_returns_the_repositories_to_the_org(org, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")
    repository = RepositoryFactory(namespace=org.namespace, name="app-one")
    robot = Robot.objects.get(namespace=org.namespace, shortname="mirror")
    mirror = mirror_create(repository=repository, values=MirrorSettings(
        external_reference="http://127.0.0.1:5999/lib/app-one", sync_interval=3600, sync_start_date=OrganizationMirror.objects.get().sync_start_date,
        tag_patterns=["v*"], robot=robot,
    ))
    OrganizationMirrorRepository.objects.create(org_mirror=OrganizationMirror.objects.get(), upstream_name="lib/app-one", repository=repository)

    changed = client.put(URL, {"sync_interval": 600, "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["1.*"]}}, format="json")

    assert changed.status_code == 200, changed.content
    assert (changed.json()["sync_interval"], changed.json()["repository_filters"], changed.json()["external_registry_username"]) == (600, ["app-*"], "puller")
    mirror.refresh_from_db()
    assert (mirror.sync_interval, mirror.tag_patterns) == (600, ["1.*"])  # the repository mirrors follow

    assert client.delete(URL).status_code == 204
    assert not OrganizationMirror.objects.exists()
    mirror.refresh_from_db()
    repository.refresh_from_db()
    assert mirror.is_enabled is False and repository.state == Repository.State.NORMAL
    assert client.get(URL).status_code == 404


@pytest.mark.django_db
def test_only_org_admins_may_see_or_change_the_mirror(org, login, alice, bob, anonymous, root):
    login(alice).post(URL, BODY, format="json")
    team = team_upsert(organization=org, name="devs", role=Team.TeamRole.CREATOR)
    team_member_add(team=team, user=bob)
    member = login(bob)

    assert anonymous.get(URL).status_code == 401
    for method, path in [("get", URL), ("put", URL), ("delete", URL), ("post", f"{URL}/sync-now"), ("post", f"{URL}/sync-cancel"),
                         ("post", f"{URL}/verify"), ("get", f"{URL}/repositories")]:
        response = getattr(member, method)(path, {}, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
        assert "administrator" in response.json()["detail"]
    assert login(root).get(URL).status_code == 200  # a superuser may
    admins = team_upsert(organization=org, name="admins", role=Team.TeamRole.ADMIN)
    team_member_add(team=admins, user=bob)
    assert member.get(URL).status_code == 200
    assert login(alice).get("/api/v1/organization/nosuch/mirror").status_code == 404


@pytest.mark.django_db
def test_sync_now_and_cancel(org, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")

    assert client.post(f"{URL}/sync-cancel").status_code == 404  # nothing running or requested
    assert client.post(f"{URL}/sync-now").status_code == 204
    assert OrganizationMirror.objects.get().status == MirrorStatus.SYNC_NOW
    assert client.post(f"{URL}/sync-cancel").status_code == 204
    assert OrganizationMirror.objects.get().status == MirrorStatus.CANCEL
    client.put(URL, {"is_enabled": False}, format="json")
    refused = client.post(f"{URL}/sync-now")
    assert refused.status_code == 409 and "disabled" in refused.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_verify_reports_bad_credentials_clearly_and_good_ones_with_the_repositories(org, login, alice, basic_upstream):
    basic_upstream.push_image("lib/app-one", "v1", make_image("verify"))
    basic_upstream.push_image("lib/other", "v1", make_image("verify-other"))
    client = login(alice)
    client.post(URL, {**BODY, "external_registry_url": basic_upstream.url, "external_registry_password": "wrong-password"}, format="json")

    bad = client.post(f"{URL}/verify")

    assert bad.status_code == 200
    assert bad.json()["success"] is False
    assert "authentication failed" in bad.json()["message"] and "check the user name and password" in bad.json()["message"]
    good = client.post(f"{URL}/verify", {"external_registry_username": "puller", "external_registry_password": "pull-secret"}, format="json")
    assert good.json() == {"success": True, "message": good.json()["message"], "repositories": ["lib/app-one"]}
    assert secret_decrypt(OrganizationMirror.objects.get().password_encrypted) == "wrong-password"  # verify never saves


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_verify_before_any_configuration_tests_the_given_upstream(org, login, alice, upstream):
    upstream.push_image("lib/app-one", "v1", make_image("verify-new"))
    client = login(alice)

    assert client.post(f"{URL}/verify").status_code == 404
    answer = client.post(f"{URL}/verify", {"external_registry_url": upstream.url, "external_namespace": "lib"}, format="json")

    assert answer.json()["success"] is True and answer.json()["repositories"] == ["lib/app-one"]
    assert not OrganizationMirror.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_the_discovered_repositories_are_listed_with_their_status_in_pages(org, login, alice, upstream):
    for name in ("app-a", "app-b", "app-c"):
        upstream.push_image(f"lib/{name}", "v1", make_image(name))
    client = login(alice)
    anonymous_body = {k: v for k, v in BODY.items() if not k.startswith("external_registry_")}
    assert client.post(URL, {**anonymous_body, "external_registry_url": upstream.url}, format="json").status_code == 201
    org_mirror_sync(org_mirror_id=OrganizationMirror.objects.get().pk)

    first = client.get(f"{URL}/repositories", {"limit": 2})
    second = client.get(f"{URL}/repositories", {"limit": 2, "page": 2})

    assert first.status_code == 200
    assert [(r["upstream_name"], r["repository"], r["sync_status"]) for r in first.json()["repositories"]] == [
        ("lib/app-a", "acme/app-a", "SUCCESS"), ("lib/app-b", "acme/app-b", "SUCCESS"),
    ]
    assert (first.json()["total"], first.json()["has_additional"], second.json()["has_additional"]) == (3, True, False)
    assert [r["upstream_name"] for r in second.json()["repositories"]] == ["lib/app-c"]
    assert client.get(f"{URL}/repositories", {"status": "FAIL"}).json()["total"] == 0
    assert client.get(f"{URL}/repositories", {"limit": 0}).status_code == 400
    with CaptureQueriesContext(connection) as queries:
        client.get(f"{URL}/repositories", {"limit": 100})
    assert len(queries) < 15  # no query per repository


@pytest.mark.django_db
def test_mirror_health_summarises_the_namespaces_the_caller_administers(org, login, alice, bob, root):
    robot = Robot.objects.get(namespace=org.namespace, shortname="mirror")
    for name, status in (("good", MirrorStatus.SUCCESS), ("bad", MirrorStatus.FAIL)):
        repository = RepositoryFactory(namespace=org.namespace, name=name)
        mirror = mirror_create(repository=repository, values=MirrorSettings(
            external_reference=f"http://127.0.0.1:5999/lib/{name}", sync_interval=3600, sync_start_date=org.created, tag_patterns=["*"], robot=robot,
        ))
        type(mirror).objects.filter(pk=mirror.pk).update(status=status, last_error="boom" if status == MirrorStatus.FAIL else "")

    summary = login(alice).get("/api/v1/repository/mirror/health").json()
    detailed = login(alice).get("/api/v1/repository/mirror/health", {"detailed": "true", "namespace": "acme"}).json()

    assert summary["healthy"] is False
    [acme] = summary["namespaces"]
    assert (acme["namespace"], acme["total"], acme["failing"], acme["by_status"]) == ("acme", 2, 1, {"SUCCESS": 1, "FAIL": 1})
    assert "mirrors" not in acme
    assert {m["repository"]: m["last_error"] for m in detailed["namespaces"][0]["mirrors"]} == {"acme/bad": "boom", "acme/good": ""}
    assert login(bob).get("/api/v1/repository/mirror/health").json() == {"healthy": True, "namespaces": []}  # not an admin of acme
    assert len(login(root).get("/api/v1/repository/mirror/health").json()["namespaces"]) == 1


@pytest.mark.django_db
def test_hostile_input_gets_a_4xx_never_a_5xx(org, login, alice):
    client = login(alice)
    client.post(URL, BODY, format="json")
    bodies = [
        {"external_namespace": "a\x00b"}, {"repositories": ["a\x00b"]}, {"repository_filters": ["\x00"]}, {"robot_username": "acme+\x00"},
        {"external_registry_url": "http://\x00/"}, {"root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["\x00"]}},
        {"repositories": "not-a-list"}, {"visibility": "secret"}, {"sync_interval": -1}, {"architecture_filter": ["a b"]},
    ]
    for body in bodies:
        for method, path in (("put", URL), ("post", f"{URL}/verify")):
            response = getattr(client, method)(path, body, format="json")
            assert 400 <= response.status_code < 500, (method, body, response.status_code, response.content[:300])
    for params in ({"status": "\x00"}, {"status": "NOPE"}, {"page": "x"}, {"limit": "1000"}):
        assert client.get(f"{URL}/repositories", params).status_code == 400, params
    assert client.get("/api/v1/repository/mirror/health", {"namespace": "a\x00"}).status_code == 400
