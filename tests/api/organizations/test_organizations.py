"""``/api/v1/organization/`` and ``/api/v1/organization/<orgname>``."""

from __future__ import annotations

from accounts.models import Namespace, Robot
from accounts.services import user_create
from organizations.models import Organization, Team, TeamMember
from organizations.services import team_member_add, team_upsert
from repositories.models import Repository
from repositories.services.gc import repository_purge
from tests.api.organizations.conftest import audit_entries

ORG = "/api/v1/organization/acme"


# --- create -----------------------------------------------------------------------------------


def test_a_signed_in_user_creates_an_organization_and_joins_its_owners_team(login, carol):
    response = login(carol).post("/api/v1/organization/", {"name": "widgets", "email": "ops@widgets.test"}, format="json")
    assert response.status_code == 201
    assert response.json() == "Created"
    organization = Organization.objects.get(namespace__name="widgets")
    assert organization.email == "ops@widgets.test"
    owners = organization.teams.get(name="owners")
    assert owners.role == Team.TeamRole.ADMIN
    assert list(owners.members.values_list("user__username", flat=True)) == ["carol"]


def test_creating_an_organization_is_audited(login, carol):
    login(carol).post("/api/v1/organization/", {"name": "widgets"}, format="json")
    [entry] = audit_entries("org_create", "widgets")
    assert entry.performer_name == "carol"
    assert entry.metadata["namespace"] == "widgets"


def test_a_jwt_user_creates_an_organization(bearer, carol):
    assert bearer(carol).post("/api/v1/organization/", {"name": "widgets"}, format="json").status_code == 201


def test_an_organization_cannot_take_a_user_name(as_alice, carol):
    response = as_alice.post("/api/v1/organization/", {"name": "carol"}, format="json")
    assert response.status_code == 409
    assert response.json()["error_type"] == "name_taken"


def test_an_organization_name_outside_the_grammar_is_a_bad_request(as_alice):
    response = as_alice.post("/api/v1/organization/", {"name": "Not Valid"}, format="json")
    assert response.status_code == 400
    assert not Namespace.objects.filter(name="Not Valid").exists()


def test_an_organization_without_a_name_is_a_bad_request(as_alice):
    response = as_alice.post("/api/v1/organization/", {"email": "x@example.test"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_anonymous_callers_cannot_create_organizations(anonymous, db):
    assert anonymous.post("/api/v1/organization/", {"name": "widgets"}, format="json").status_code == 401


def test_robots_cannot_create_organizations(robot_client, acme_robot):
    response = robot_client(acme_robot).post("/api/v1/organization/", {"name": "widgets"}, format="json")
    assert response.status_code == 403
    assert not Namespace.objects.filter(name="widgets").exists()


def test_a_token_without_user_admin_scope_cannot_create_organizations(bearer, carol):
    response = bearer(carol, scope="repo:read").post("/api/v1/organization/", {"name": "widgets"}, format="json")
    assert response.status_code == 403


# --- read -------------------------------------------------------------------------------------


def test_an_admin_sees_email_teams_and_time_machine_window(as_alice, devs):
    body = as_alice.get(ORG).json()
    assert body["name"] == "acme"
    assert body["email"] == "registry@acme.test"
    assert body["is_admin"] is True and body["is_member"] is True
    assert body["ordered_teams"] == ["owners", "devs"]
    assert body["teams"]["devs"] == {
        "name": "devs", "description": "developers", "role": "member", "can_view": True, "repo_count": 0, "member_count": 1, "is_synced": False,
    }
    assert body["tag_expiration_s"] == 14 * 24 * 3600


def test_a_member_sees_the_teams_but_can_view_only_their_own(as_bob):
    body = as_bob.get(ORG).json()
    assert body["is_admin"] is False and body["is_member"] is True
    assert body["email"] == ""
    assert body["teams"]["devs"]["can_view"] is True
    assert body["teams"]["owners"]["can_view"] is False
    assert "tag_expiration_s" not in body


def test_an_outsider_sees_only_the_public_summary(as_carol, acme):
    assert as_carol.get(ORG).json() == {"name": "acme", "email": "", "is_admin": False, "is_member": False}


def test_anonymous_callers_see_only_the_public_summary(anonymous, acme):
    response = anonymous.get(ORG)
    assert response.status_code == 200
    assert response.json() == {"name": "acme", "email": "", "is_admin": False, "is_member": False}


def test_a_read_only_superuser_sees_everything_without_being_admin(as_auditor, acme):
    body = as_auditor.get(ORG).json()
    assert body["is_admin"] is False
    assert body["email"] == "registry@acme.test"
    assert body["ordered_teams"] == ["owners"]


def test_an_unknown_organization_is_not_found(as_alice):
    response = as_alice.get("/api/v1/organization/nope")
    assert response.status_code == 404
    assert response.json()["error_type"] == "not_found"


def test_a_user_namespace_is_not_an_organization(as_alice, carol):
    assert as_alice.get("/api/v1/organization/carol").status_code == 404


def test_reading_an_organization_takes_a_bounded_number_of_queries(as_alice, acme, django_assert_max_num_queries):
    for index in range(10):
        team_upsert_with_member(acme, f"team{index}")
    with django_assert_max_num_queries(8):
        body = as_alice.get(ORG).json()
    assert len(body["teams"]) == 11


def team_upsert_with_member(organization, name):
    team = team_upsert(organization=organization, name=name, role="member")
    team_member_add(team=team, user=user_create(username=f"{name}-user", password=None))


# --- change -----------------------------------------------------------------------------------


def test_an_admin_changes_the_email_and_time_machine_window(as_alice, acme):
    response = as_alice.put(ORG, {"email": "new@acme.test", "tag_expiration_s": 3600}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == "new@acme.test"
    assert response.json()["tag_expiration_s"] == 3600
    acme.refresh_from_db()
    assert acme.email == "new@acme.test"
    assert Namespace.objects.get(name="acme").tag_expiration_s == 3600


def test_changing_the_email_is_audited_with_the_old_address(as_alice, acme):
    as_alice.put(ORG, {"email": "new@acme.test"}, format="json")
    [entry] = audit_entries("org_change_email")
    assert entry.metadata["email"] == "new@acme.test"
    assert entry.metadata["old_email"] == "registry@acme.test"


def test_changing_the_time_machine_window_is_audited(as_alice, acme):
    as_alice.put(ORG, {"tag_expiration_s": 60}, format="json")
    assert [e.metadata["tag_expiration"] for e in audit_entries("org_change_tag_expiration")] == [60]


def test_a_negative_time_machine_window_is_a_bad_request(as_alice, acme):
    response = as_alice.put(ORG, {"tag_expiration_s": -1}, format="json")
    assert response.status_code == 400
    assert "tag_expiration_s" in response.json()["errors"]


def test_a_member_cannot_change_the_organization(as_bob, acme):
    assert as_bob.put(ORG, {"email": "evil@example.test"}, format="json").status_code == 403
    acme.refresh_from_db()
    assert acme.email == "registry@acme.test"


def test_an_outsider_cannot_change_the_organization(as_carol, acme):
    assert as_carol.put(ORG, {"email": "evil@example.test"}, format="json").status_code == 403


def test_anonymous_callers_cannot_change_the_organization(anonymous, acme):
    assert anonymous.put(ORG, {"email": "evil@example.test"}, format="json").status_code == 401


def test_a_read_only_superuser_cannot_change_the_organization(as_auditor, acme):
    assert as_auditor.put(ORG, {"email": "evil@example.test"}, format="json").status_code == 403


def test_a_superuser_changes_any_organization(as_root, acme):
    assert as_root.put(ORG, {"email": "root@acme.test"}, format="json").status_code == 200


def test_an_admin_token_needs_the_org_admin_scope_to_change_the_organization(bearer, alice, acme):
    assert bearer(alice, scope="user:admin").put(ORG, {"email": "x@acme.test"}, format="json").status_code == 403
    assert bearer(alice, scope="org:admin").put(ORG, {"email": "x@acme.test"}, format="json").status_code == 200


def test_a_robot_in_the_owners_team_cannot_change_the_organization(robot_client, acme, acme_robot):
    TeamMember.objects.create(team=acme.teams.get(name="owners"), robot=acme_robot.robot)
    assert robot_client(acme_robot).put(ORG, {"email": "bot@acme.test"}, format="json").status_code == 403


# --- delete -----------------------------------------------------------------------------------


def test_an_admin_deletes_an_empty_organization_with_its_robots(as_alice, acme, acme_robot):
    assert as_alice.delete(ORG).status_code == 204
    assert not Organization.objects.filter(pk=acme.pk).exists()
    assert not Namespace.objects.filter(name="acme").exists()
    assert not Robot.objects.filter(pk=acme_robot.robot.pk).exists()
    assert len(audit_entries("org_delete")) == 1


def test_deleting_an_organization_hides_its_repositories_at_once_and_purges_them_later(as_alice, acme, acme_repository):
    assert as_alice.delete(ORG).status_code == 204
    assert not Organization.objects.filter(pk=acme.pk).exists()
    assert not Namespace.objects.filter(name="acme").exists()
    assert not Repository.objects.filter(pk=acme_repository.pk).exists(), "hidden at once"
    pending = Repository.all_objects.get(pk=acme_repository.pk)
    assert pending.deleted_at is not None and pending.namespace.name == "~deleted"
    assert repository_purge(repository_id=pending.pk)
    assert not Repository.all_objects.filter(pk=pending.pk).exists()
    assert len(audit_entries("org_delete")) == 1
    # The name is free again at once.
    assert as_alice.post("/api/v1/organization/", {"name": "acme"}, format="json").status_code == 201


def test_a_member_cannot_delete_the_organization(as_bob, acme):
    assert as_bob.delete(ORG).status_code == 403
    assert Organization.objects.filter(pk=acme.pk).exists()


def test_a_deleted_organization_name_can_be_taken_again(as_alice, acme, login, carol):
    as_alice.delete(ORG)
    assert login(carol).post("/api/v1/organization/", {"name": "acme"}, format="json").status_code == 201
