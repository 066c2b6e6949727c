"""DELETE /api/v1/repository/<repo>/tag/<tag> and POST .../tag/<tag>/restore (the time machine)."""

from __future__ import annotations

import base64
from datetime import timedelta

from django.utils import timezone

from repositories.models import AuditLog, Manifest, Tag
from repositories.services.manifests import manifest_delete
from tests.api.tags.conftest import PASSWORD
from tests.api.tags.helpers import push_image, tags_url


def _live(world, name: str) -> Tag | None:
    return Tag.objects.filter(repository=world.repository, name=name, lifetime_end__isnull=True).first()


def _v2_get(client, world, user, reference: str):
    credentials = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    return client.get(
        f"/v2/{world.name}/manifests/{reference}",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
        HTTP_ACCEPT="application/vnd.oci.image.manifest.v1+json",
    )


def test_deleting_a_tag_ends_its_lifetime(world, login):
    push_image(world.repository, "v1")
    assert login(world.writer).delete(tags_url(world, "v1")).status_code == 204
    assert _live(world, "v1") is None
    assert Tag.objects.filter(repository=world.repository, name="v1").count() == 1
    assert AuditLog.objects.get(kind="delete_tag").metadata == {"tag": "v1"}


def test_a_deleted_tag_no_longer_resolves_on_v2(world, login, client):
    push_image(world.repository, "v1")
    assert _v2_get(client, world, world.reader, "v1").status_code == 200
    login(world.writer).delete(tags_url(world, "v1"))
    assert _v2_get(client, world, world.reader, "v1").status_code == 404


def test_a_tag_whose_expiry_passed_no_longer_resolves_on_v2(world, client):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _v2_get(client, world, world.reader, "v1")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN", response.content


def test_deleting_an_immutable_tag_is_a_409(world, login):
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1").update(immutable=True)
    assert login(world.writer).delete(tags_url(world, "v1")).status_code == 409
    assert _live(world, "v1") is not None


def test_deleting_a_missing_tag_is_a_404(world, login):
    assert login(world.writer).delete(tags_url(world, "nope")).status_code == 404


def test_a_reader_may_not_delete_tags(world, login):
    push_image(world.repository, "v1")
    assert login(world.reader).delete(tags_url(world, "v1")).status_code == 403


def test_restoring_points_the_tag_back_as_a_reversion(world, login):
    old = push_image(world.repository, "v1")
    push_image(world.repository, "v1")
    response = login(world.writer).post(tags_url(world, "v1/restore"), {"manifest_digest": old.digest}, format="json")
    assert response.status_code == 200 and response.json() == {}
    live = _live(world, "v1")
    assert live.manifest == old and live.reversion is True
    assert AuditLog.objects.get(kind="revert_tag").metadata["manifest_digest"] == old.digest


def test_a_deleted_tag_can_be_restored(world, login):
    manifest = push_image(world.repository, "v1")
    client = login(world.writer)
    client.delete(tags_url(world, "v1"))
    assert client.post(tags_url(world, "v1/restore"), {"manifest_digest": manifest.digest}, format="json").status_code == 200
    assert _live(world, "v1").manifest == manifest


def test_restoring_a_manifest_deleted_by_digest_brings_it_back(world, login, client):
    manifest = push_image(world.repository, "v1")
    manifest_delete(repository=world.repository, reference=manifest.digest)
    response = login(world.writer).post(tags_url(world, "v1/restore"), {"manifest_digest": manifest.digest}, format="json")
    assert response.status_code == 200
    assert Manifest.objects.get(pk=manifest.pk).deleted_at is None
    assert _v2_get(client, world, world.reader, "v1").status_code == 200


def test_restoring_outside_the_time_machine_window_is_a_400(world, login):
    old = push_image(world.repository, "v1")
    push_image(world.repository, "v1")
    window = world.repository.namespace.tag_expiration_s
    Tag.objects.filter(manifest=old).update(lifetime_end=timezone.now() - timedelta(seconds=window + 60))
    response = login(world.writer).post(tags_url(world, "v1/restore"), {"manifest_digest": old.digest}, format="json")
    assert response.status_code == 400
    assert _live(world, "v1").manifest != old


def test_restoring_a_manifest_the_tag_never_pointed_at_is_a_400(world, login):
    push_image(world.repository, "v1")
    other = push_image(world.repository, "v2")
    response = login(world.writer).post(tags_url(world, "v1/restore"), {"manifest_digest": other.digest}, format="json")
    assert response.status_code == 400


def test_restoring_without_a_digest_is_a_400(world, login):
    push_image(world.repository, "v1")
    assert login(world.writer).post(tags_url(world, "v1/restore"), {}, format="json").status_code == 400


def test_restoring_over_an_immutable_tag_is_a_409(world, login):
    old = push_image(world.repository, "v1")
    push_image(world.repository, "v1")
    Tag.objects.filter(name="v1", lifetime_end__isnull=True).update(immutable=True)
    response = login(world.writer).post(tags_url(world, "v1/restore"), {"manifest_digest": old.digest}, format="json")
    assert response.status_code == 409


def test_a_reader_may_not_restore_tags(world, login):
    old = push_image(world.repository, "v1")
    push_image(world.repository, "v1")
    assert login(world.reader).post(tags_url(world, "v1/restore"), {"manifest_digest": old.digest}, format="json").status_code == 403


def test_a_restored_lifetime_is_listed_as_a_reversion(world, login):
    old = push_image(world.repository, "v1")
    push_image(world.repository, "v1")
    client = login(world.writer)
    client.post(tags_url(world, "v1/restore"), {"manifest_digest": old.digest}, format="json")
    first = client.get(tags_url(world)).json()["tags"][0]
    assert first["manifest_digest"] == old.digest and first["reversion"] is True
