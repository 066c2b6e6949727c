"""GET, PUT, DELETE /api/v1/repository/<repo>; changevisibility; changestate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from repositories.models import AuditLog, Blob, BlobUpload, Manifest, Repository, RepositoryPermission, Star, Tag
from repositories.services.gc import repository_purge
from repositories.services.uploads import BodyStream, blob_upload_append, blob_upload_start
from storagebackends.registry import reset_cache
from tests.factories import BlobFactory, ManifestBlobFactory, ManifestFactory, TagFactory

WEB = "/api/v1/repository/acme/web"


@pytest.fixture
def tagged(world):
    """acme/web:latest over a manifest with two blobs (300 bytes), and an ended tag 'old'."""
    manifest = ManifestFactory(repository=world.repos["web"])
    ManifestBlobFactory(manifest=manifest, blob=BlobFactory(size=100))
    ManifestBlobFactory(manifest=manifest, blob=BlobFactory(size=200))
    TagFactory(repository=world.repos["web"], name="latest", manifest=manifest)
    TagFactory(repository=world.repos["web"], name="old", manifest=manifest, lifetime_end=timezone.now())
    return manifest


def test_a_reader_sees_the_repository_in_quays_shape(session_client, world, tagged):
    body = session_client("rita").get(WEB).json()
    assert {k: body[k] for k in ("namespace", "name", "kind", "description", "is_public", "is_organization", "state", "tag_expiration_s")} == {
        "namespace": "acme", "name": "web", "kind": "image", "description": "The web front end", "is_public": False,
        "is_organization": True, "state": "NORMAL", "tag_expiration_s": 14 * 24 * 3600,
    }
    assert (body["can_write"], body["can_admin"], body["is_starred"]) == (False, False, False)


def test_live_tags_come_with_digest_size_and_date(session_client, world, tagged):
    tags = session_client("rita").get(WEB).json()["tags"]
    assert list(tags) == ["latest"]
    assert tags["latest"]["manifest_digest"] == tagged.digest
    assert tags["latest"]["size"] == 300
    assert tags["latest"]["last_modified"].endswith("-0000")
    assert "expiration" not in tags["latest"]


def test_an_expiring_tag_shows_its_expiration(session_client, world, tagged):
    Tag.objects.filter(name="latest").update(expires_at=timezone.now() + timedelta(days=1))
    assert "expiration" in session_client("rita").get(WEB).json()["tags"]["latest"]


def test_include_tags_false_leaves_tags_out(session_client, world, tagged):
    assert "tags" not in session_client("rita").get(WEB, {"includeTags": "false"}).json()


def test_a_team_writer_can_write_but_not_admin(session_client, world):
    body = session_client("tess").get(WEB).json()
    assert (body["can_write"], body["can_admin"]) == (True, False)


def test_a_read_only_repository_cannot_be_written_even_by_its_admin(session_client, world):
    Repository.objects.filter(pk=world.repos["web"].pk).update(state="READ_ONLY")
    body = session_client("olga").get(WEB).json()
    assert (body["can_write"], body["can_admin"]) == (False, True)


def test_a_private_repository_is_not_found_for_outsiders(session_client, world):
    assert session_client("nora").get(WEB).status_code == 404


def test_anonymous_callers_read_public_repositories(anonymous, world):
    assert anonymous.get("/api/v1/repository/acme/public-docs").status_code == 200


def test_nested_repository_names_resolve(session_client, world):
    body = session_client("alice").get("/api/v1/repository/alice/tools/cli").json()
    assert (body["namespace"], body["name"]) == ("alice", "tools/cli")


def test_showing_a_repository_costs_a_bounded_number_of_queries(session_client, world, tagged, django_assert_max_num_queries):
    for i in range(20):
        TagFactory(repository=world.repos["web"], name=f"t{i}")
    client = session_client("tess")
    with django_assert_max_num_queries(15):
        assert len(client.get(WEB).json()["tags"]) == 21


def test_a_writer_changes_the_description(jwt_client, world):
    response = jwt_client("tess").put(WEB, {"description": "new **text**"}, format="json")
    assert response.status_code == 200 and response.json() == {"success": True}
    assert Repository.objects.get(pk=world.repos["web"].pk).description == "new **text**"
    assert AuditLog.objects.get(kind="set_repo_description").metadata["description"] == "new **text**"


def test_a_reader_may_not_change_the_description(session_client, world):
    assert session_client("rita").put(WEB, {"description": "x"}, format="json").status_code == 403


def test_a_missing_description_is_a_field_error(session_client, world):
    response = session_client("olga").put(WEB, {}, format="json")
    assert response.status_code == 400 and "description" in response.json()["errors"]


def test_an_admin_deletes_the_repository_and_everything_in_it(session_client, world, tagged):
    Star.objects.create(user=world.users["tess"], repository=world.repos["web"])
    response = session_client("olga").delete(WEB)
    assert response.status_code == 204
    # Gone at once for every lookup, its name free again; the content goes with the purge task.
    assert not Repository.objects.filter(full_name="acme/web").exists()
    assert session_client("olga").get(WEB).status_code == 404
    hidden = Repository.all_objects.get(pk=world.repos["web"].pk)
    assert hidden.deleted_at is not None and hidden.full_name == f"~deleted/{hidden.pk}"
    assert repository_purge(repository_id=hidden.pk) is True
    assert repository_purge(repository_id=hidden.pk) is False  # idempotent
    assert not Repository.all_objects.filter(pk=hidden.pk).exists()
    assert not Manifest.objects.filter(repository_id=world.repos["web"].pk).exists()
    assert not RepositoryPermission.objects.filter(repository_id=world.repos["web"].pk).exists()
    assert Blob.objects.count() == 2  # bytes are left to garbage collection
    entry = AuditLog.objects.get(kind="delete_repo")
    assert (entry.repository_name, entry.performer_name, entry.repository_id) == ("acme/web", "olga", None)


@pytest.fixture
def storage_root(settings, tmp_path):
    """Filesystem storage under tmp_path as the only location."""
    settings.MOORAGE_STORAGE_LOCATIONS = {"local": {"driver": "filesystem", "options": {"location": str(tmp_path / "storage")}}}
    settings.MOORAGE_STORAGE_PREFERENCE = ["local"]
    reset_cache()
    yield tmp_path / "storage"
    reset_cache()


def test_deleting_a_repository_removes_its_upload_sessions_and_their_partial_data(
    session_client, world, storage_root, django_capture_on_commit_callbacks
):
    upload = blob_upload_append(upload=blob_upload_start(repository=world.repos["web"]), body=BodyStream([b"partial"], 7))
    assert any((storage_root / "uploads" / upload.id).rglob("*"))
    with django_capture_on_commit_callbacks(execute=True):
        assert session_client("olga").delete(WEB).status_code == 204
    assert repository_purge(repository_id=world.repos["web"].pk)
    assert not BlobUpload.objects.filter(id=upload.id).exists()
    assert not any(p.is_file() for p in (storage_root / "uploads").rglob("*"))


def test_a_writer_may_not_delete_the_repository(session_client, world):
    assert session_client("tess").delete(WEB).status_code == 403
    assert Repository.objects.filter(full_name="acme/web").exists()


def test_an_admin_makes_a_repository_public(session_client, world):
    response = session_client("olga").post(f"{WEB}/changevisibility", {"visibility": "public"}, format="json")
    assert response.status_code == 200
    assert Repository.objects.get(full_name="acme/web").visibility == "public"
    assert AuditLog.objects.get(kind="change_repo_visibility").metadata["visibility"] == "public"


def test_a_writer_may_not_change_visibility(session_client, world):
    assert session_client("tess").post(f"{WEB}/changevisibility", {"visibility": "public"}, format="json").status_code == 403


def test_an_unknown_visibility_is_refused(session_client, world):
    assert session_client("olga").post(f"{WEB}/changevisibility", {"visibility": "open"}, format="json").status_code == 400


def test_an_admin_freezes_and_unfreezes_a_repository(session_client, world):
    client = session_client("olga")
    assert client.put(f"{WEB}/changestate", {"state": "READ_ONLY"}, format="json").status_code == 200
    assert client.put(f"{WEB}/changestate", {"state": "NORMAL"}, format="json").status_code == 200
    assert Repository.objects.get(full_name="acme/web").state == "NORMAL"
    assert [e.metadata["state_changed"] for e in AuditLog.objects.filter(kind="change_repo_state").order_by("id")] == ["READ_ONLY", "NORMAL"]


def test_an_unknown_state_is_refused(session_client, world):
    assert session_client("olga").put(f"{WEB}/changestate", {"state": "FROZEN"}, format="json").status_code == 400


def test_a_repo_read_token_cannot_change_state_even_for_an_admin(jwt_client, world):
    assert jwt_client("olga", scope="repo:read").put(f"{WEB}/changestate", {"state": "READ_ONLY"}, format="json").status_code == 403


def test_an_app_token_acts_as_its_user(app_token_client, world):
    assert app_token_client("olga").post(f"{WEB}/changevisibility", {"visibility": "public"}, format="json").status_code == 200
