"""POST /api/v1/repository."""

from __future__ import annotations

from accounts.models import Namespace
from organizations.services import team_member_add
from repositories.models import AuditLog, Repository, RepositoryPermission

URL = "/api/v1/repository"


def test_an_org_creator_creates_a_private_repository_and_becomes_its_admin(session_client, world):
    response = session_client("carl").post(URL, {"namespace": "acme", "repository": "api", "visibility": "private", "description": "d"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"namespace": "acme", "name": "api", "kind": "image"}
    repository = Repository.objects.get(full_name="acme/api")
    assert (repository.visibility, repository.description) == ("private", "d")
    assert RepositoryPermission.objects.get(repository=repository, user=world.users["carl"]).role == "admin"


def test_creating_a_repository_writes_a_create_repo_audit_entry(session_client, world):
    session_client("carl").post(URL, {"namespace": "acme", "repository": "api", "visibility": "public", "description": ""}, format="json")
    entry = AuditLog.objects.get(kind="create_repo")
    assert (entry.performer_name, entry.repository_name, entry.metadata["visibility"]) == ("carl", "acme/api", "public")


def test_without_a_namespace_the_repository_goes_to_the_callers_own(jwt_client, world):
    response = jwt_client("alice").post(URL, {"repository": "team/app", "visibility": "public", "description": ""}, format="json")
    assert response.status_code == 201
    assert Repository.objects.get(full_name="alice/team/app").visibility == "public"


def test_an_existing_repository_is_a_conflict(session_client, world):
    response = session_client("olga").post(URL, {"namespace": "acme", "repository": "web", "visibility": "private", "description": ""}, format="json")
    assert response.status_code == 409
    assert response.json()["error_message"] == "Repository already exists"


def test_a_plain_org_member_may_not_create_repositories(session_client, world):
    response = session_client("tess").post(URL, {"namespace": "acme", "repository": "api", "visibility": "private", "description": ""}, format="json")
    assert response.status_code == 403
    assert not Repository.objects.filter(full_name="acme/api").exists()


def test_nobody_creates_in_another_users_namespace(session_client, world):
    response = session_client("nora").post(URL, {"namespace": "alice", "repository": "x", "visibility": "private", "description": ""}, format="json")
    assert response.status_code == 403


def test_a_token_without_the_repo_create_scope_cannot_create(jwt_client, world):
    response = jwt_client("olga", scope="repo:admin").post(URL, {"namespace": "acme", "repository": "api", "visibility": "private"}, format="json")
    assert response.status_code == 403


def test_a_token_with_the_repo_create_scope_can_create(jwt_client, world):
    response = jwt_client("olga", scope="repo:create").post(URL, {"namespace": "acme", "repository": "api", "visibility": "private"}, format="json")
    assert response.status_code == 201


def test_anonymous_callers_must_authenticate(anonymous, world):
    response = anonymous.post(URL, {"namespace": "acme", "repository": "api", "visibility": "private"}, format="json")
    assert response.status_code == 401


def test_a_name_outside_the_grammar_is_a_bad_request(session_client, world):
    response = session_client("olga").post(URL, {"namespace": "acme", "repository": "Bad Name", "visibility": "private"}, format="json")
    assert response.status_code == 400
    assert response.json()["error_type"] == "name_invalid"


def test_an_unknown_visibility_is_a_field_error(session_client, world):
    response = session_client("olga").post(URL, {"namespace": "acme", "repository": "api", "visibility": "secret"}, format="json")
    assert response.status_code == 400
    assert "visibility" in response.json()["errors"]


def test_a_superuser_gets_not_found_for_a_namespace_that_does_not_exist(session_client, world):
    response = session_client("root").post(URL, {"namespace": "ghost", "repository": "x", "visibility": "private"}, format="json")
    assert response.status_code == 404
    assert not Namespace.objects.filter(name="ghost").exists()


def test_an_org_robot_in_a_creator_team_creates_and_gets_admin(robot_client, world):
    team_member_add(team=world.teams["creators"], robot=world.robot)
    response = robot_client.post(URL, {"namespace": "acme", "repository": "built", "visibility": "private"}, format="json")
    assert response.status_code == 201
    assert RepositoryPermission.objects.get(repository__full_name="acme/built", robot=world.robot).role == "admin"


def test_the_registry_read_only_switch_refuses_creation(session_client, world, settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "read_only": True}
    response = session_client("olga").post(URL, {"namespace": "acme", "repository": "api", "visibility": "private"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["error_message"]
