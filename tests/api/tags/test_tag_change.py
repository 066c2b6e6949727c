"""PUT /api/v1/repository/<repo>/tag/<tag>: create, move, expiration, immutability."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from repositories.models import AuditLog, Repository, Tag
from repositories.services.repositories import repository_set_state
from tests.api.tags.helpers import push_image, tags_url


def _live(world, name: str) -> Tag:
    return Tag.objects.get(repository=world.repository, name=name, lifetime_end__isnull=True)


def test_a_writer_creates_a_tag_on_a_manifest(world, login):
    manifest = push_image(world.repository, None)
    response = login(world.writer).put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json")
    assert response.status_code == 201 and response.json() == "Updated"
    assert _live(world, "v1").manifest == manifest
    entry = AuditLog.objects.get(kind="create_tag")
    assert entry.performer_user == world.writer and entry.metadata["manifest_digest"] == manifest.digest


def test_moving_a_tag_keeps_its_old_lifetime_in_history(world, login):
    old = push_image(world.repository, "v1")
    new = push_image(world.repository, None)
    login(world.writer).put(tags_url(world, "v1"), {"manifest_digest": new.digest}, format="json")
    rows = Tag.objects.filter(repository=world.repository, name="v1").order_by("lifetime_start")
    assert [(r.manifest_id, r.lifetime_end is None) for r in rows] == [(old.id, False), (new.id, True)]
    assert AuditLog.objects.get(kind="move_tag").metadata["original_manifest_digest"] == old.digest


def test_a_manifest_unknown_to_the_repository_is_a_404(world, login):
    response = login(world.writer).put(tags_url(world, "v1"), {"manifest_digest": "sha256:" + "0" * 64}, format="json")
    assert response.status_code == 404


def test_moving_an_immutable_tag_is_a_409_tag_immutable(world, login):
    push_image(world.repository, "v1")
    other = push_image(world.repository, None)
    Tag.objects.filter(name="v1").update(immutable=True)
    response = login(world.writer).put(tags_url(world, "v1"), {"manifest_digest": other.digest}, format="json")
    assert response.status_code == 409 and response.json()["error_type"] == "tag_immutable"


def test_an_invalid_tag_name_is_a_400(world, login):
    manifest = push_image(world.repository, None)
    response = login(world.writer).put(tags_url(world, "-bad"), {"manifest_digest": manifest.digest}, format="json")
    assert response.status_code == 400


def test_a_reader_may_not_change_tags(world, login):
    manifest = push_image(world.repository, None)
    assert login(world.reader).put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json").status_code == 403


def test_anonymous_callers_must_authenticate_to_change_tags(world, api):
    assert api.put(tags_url(world, "v1"), {"expiration": None}, format="json").status_code == 401


def test_a_user_without_a_role_gets_404_for_a_tag_change(world, login):
    assert login(world.outsider).put(tags_url(world, "v1"), {"expiration": None}, format="json").status_code == 404


def test_a_jwt_limited_to_repo_read_may_not_change_tags(world, jwt):
    manifest = push_image(world.repository, None)
    response = jwt(world.writer, scope="repo:read").put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json")
    assert response.status_code == 403


def test_a_jwt_with_repo_write_changes_tags(world, jwt):
    manifest = push_image(world.repository, None)
    response = jwt(world.writer, scope="repo:write").put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json")
    assert response.status_code == 201


def test_an_app_token_changes_tags(world, app_token):
    manifest = push_image(world.repository, None)
    assert app_token(world.writer).put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json").status_code == 201


def test_a_robot_with_write_changes_tags(world, robot_token):
    manifest = push_image(world.repository, None)
    response = robot_token("write").put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json")
    assert response.status_code == 201
    assert AuditLog.objects.get(kind="create_tag").performer_robot is not None


def test_a_robot_with_read_may_not_change_tags(world, robot_token):
    manifest = push_image(world.repository, None)
    assert robot_token("read").put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json").status_code == 403


def test_tags_of_a_read_only_repository_cannot_change(world, login):
    manifest = push_image(world.repository, None)
    repository_set_state(repository=world.repository, state=Repository.State.READ_ONLY)
    assert login(world.admin).put(tags_url(world, "v1"), {"manifest_digest": manifest.digest}, format="json").status_code == 403


def test_expiration_sets_when_the_tag_expires(world, login):
    push_image(world.repository, "v1")
    when = int(time.time()) + 3600
    assert login(world.writer).put(tags_url(world, "v1"), {"expiration": when}, format="json").status_code == 201
    assert int(_live(world, "v1").expires_at.timestamp()) == when
    assert AuditLog.objects.get(kind="change_tag_expiration").metadata["old_expiration_date"] is None


def test_a_null_expiration_clears_it(world, login):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(expires_at=timezone.now() + timedelta(days=1))
    login(world.writer).put(tags_url(world, "v1"), {"expiration": None}, format="json")
    assert _live(world, "v1").expires_at is None


def test_an_expiration_in_the_past_is_refused(world, login):
    push_image(world.repository, "v1")
    response = login(world.writer).put(tags_url(world, "v1"), {"expiration": int(time.time()) - 10}, format="json")
    assert response.status_code == 400 and _live(world, "v1").expires_at is None


def test_an_expiration_that_is_not_a_number_is_a_400(world, login):
    push_image(world.repository, "v1")
    assert login(world.writer).put(tags_url(world, "v1"), {"expiration": "soon"}, format="json").status_code == 400


def test_an_absurd_expiration_is_a_400_not_a_crash(world, login):
    push_image(world.repository, "v1")
    assert login(world.writer).put(tags_url(world, "v1"), {"expiration": 1e300}, format="json").status_code == 400


def test_an_expiration_for_a_missing_tag_is_a_404(world, login):
    assert login(world.writer).put(tags_url(world, "nope"), {"expiration": int(time.time()) + 60}, format="json").status_code == 404


def test_an_immutable_tag_cannot_get_an_expiration(world, login):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(immutable=True)
    response = login(world.writer).put(tags_url(world, "v1"), {"expiration": int(time.time()) + 60}, format="json")
    assert response.status_code == 409 and response.json()["error_type"] == "tag_immutable"


def test_a_writer_makes_a_tag_immutable(world, login):
    push_image(world.repository, "v1")
    assert login(world.writer).put(tags_url(world, "v1"), {"immutable": True}, format="json").status_code == 201
    assert _live(world, "v1").immutable is True
    assert AuditLog.objects.get(kind="change_tag_immutability").metadata["immutable"] is True


def test_a_writer_may_not_make_a_tag_mutable_again(world, login):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(immutable=True)
    assert login(world.writer).put(tags_url(world, "v1"), {"immutable": False}, format="json").status_code == 403
    assert _live(world, "v1").immutable is True


def test_an_admin_makes_a_tag_mutable_again(world, login):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(immutable=True)
    assert login(world.admin).put(tags_url(world, "v1"), {"immutable": False}, format="json").status_code == 201
    assert _live(world, "v1").immutable is False


def test_an_expiring_tag_cannot_be_made_immutable(world, login):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(expires_at=timezone.now() + timedelta(days=1))
    assert login(world.writer).put(tags_url(world, "v1"), {"immutable": True}, format="json").status_code == 409


def test_a_new_tag_can_be_created_and_locked_in_one_request(world, login):
    manifest = push_image(world.repository, None)
    response = login(world.writer).put(tags_url(world, "v1"), {"manifest_digest": manifest.digest, "immutable": True}, format="json")
    assert response.status_code == 201 and _live(world, "v1").immutable is True
