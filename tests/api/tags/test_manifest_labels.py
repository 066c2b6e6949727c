"""GET /api/v1/repository/<repo>/manifest/<digest> and its labels."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from repositories.models import AuditLog, Label, Repository, Tag
from repositories.services.repositories import repository_set_visibility
from tests.api.tags.helpers import manifest_url, push_image, push_index


def test_a_manifest_shows_its_bytes_config_type_and_layers(world, login):
    manifest = push_image(world.repository, "v1", layers=2)
    body = login(world.reader).get(manifest_url(world, manifest.digest)).json()
    assert body["digest"] == manifest.digest and body["is_manifest_list"] is False
    assert body["manifest_data"] == bytes(manifest.content).decode()
    assert body["config_media_type"] == "application/vnd.oci.image.config.v1+json"
    layers = json.loads(body["manifest_data"])["layers"]
    assert [(l["index"], l["compressed_size"], l["blob_digest"]) for l in body["layers"]] == [
        (i, layer["size"], layer["digest"]) for i, layer in enumerate(layers)
    ]


def test_layers_carry_the_history_of_the_image_config(world, login):
    manifest = push_image(world.repository, "v1", layers=2)
    layer = login(world.reader).get(manifest_url(world, manifest.digest)).json()["layers"][1]
    assert layer["command"] == ["/bin/sh -c step 1"] and layer["author"] == "ci"
    assert layer["created_datetime"] == "Sat, 07 Nov 2026 20:26:40 -0000"
    assert layer["is_remote"] is False and layer["urls"] is None


def test_an_index_is_a_manifest_list_without_layers(world, login):
    child = push_image(world.repository, None)
    index = push_index(world.repository, "multi", [child])
    body = login(world.reader).get(manifest_url(world, index.digest)).json()
    assert body["is_manifest_list"] is True and body["layers"] is None and body["config_media_type"] is None


def test_an_unknown_digest_is_a_404(world, login):
    assert login(world.reader).get(manifest_url(world, "sha256:" + "0" * 64)).status_code == 404


def test_a_malformed_digest_is_a_404(world, login):
    assert login(world.reader).get(manifest_url(world, "sha256:zz!")).status_code == 404


def test_anonymous_callers_read_manifests_of_a_public_repository(world, api):
    manifest = push_image(world.repository, "v1")
    repository_set_visibility(repository=world.repository, visibility=Repository.Visibility.PUBLIC)
    assert api.get(manifest_url(world, manifest.digest)).status_code == 200


def test_a_user_without_a_role_gets_404_for_a_manifest(world, login):
    manifest = push_image(world.repository, "v1")
    assert login(world.outsider).get(manifest_url(world, manifest.digest)).status_code == 404


# -- labels ----------------------------------------------------------------------------------------
def test_a_writer_adds_a_label(world, login):
    manifest = push_image(world.repository, "v1")
    response = login(world.writer).post(
        manifest_url(world, manifest.digest, "/labels"), {"key": "com.example.owner", "value": "team-a", "media_type": "text/plain"}, format="json"
    )
    assert response.status_code == 201
    label = response.json()["label"]
    assert (label["key"], label["value"], label["source_type"], label["media_type"]) == ("com.example.owner", "team-a", "api", "text/plain")
    assert response["Location"] == manifest_url(world, manifest.digest, f"/labels/{label['id']}")
    assert AuditLog.objects.get(kind="manifest_label_add").metadata["key"] == "com.example.owner"


def test_a_label_without_media_type_is_json_when_its_value_is(world, login):
    manifest = push_image(world.repository, "v1")
    response = login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), {"key": "meta", "value": '{"a": 1}'}, format="json")
    assert response.json()["label"]["media_type"] == "application/json"


def test_a_label_key_outside_the_grammar_is_a_400(world, login):
    manifest = push_image(world.repository, "v1")
    response = login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), {"key": "Bad Key", "value": "x"}, format="json")
    assert response.status_code == 400 and "invalid format" in response.json()["error_message"]


def test_a_reserved_label_prefix_is_a_400(world, login):
    manifest = push_image(world.repository, "v1")
    response = login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), {"key": "com.docker.thing", "value": "x"}, format="json")
    assert response.status_code == 400 and response.json()["error_message"] == "Label has a reserved prefix"


def test_an_unknown_label_media_type_is_a_400(world, login):
    manifest = push_image(world.repository, "v1")
    body = {"key": "k", "value": "x", "media_type": "image/png"}
    assert login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), body, format="json").status_code == 400


def test_a_json_label_must_hold_json(world, login):
    manifest = push_image(world.repository, "v1")
    body = {"key": "k", "value": "not json", "media_type": "application/json"}
    assert login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), body, format="json").status_code == 400


def test_a_label_value_with_nul_is_a_400(world, login):
    manifest = push_image(world.repository, "v1")
    body = {"key": "k", "value": "a\x00b"}
    assert login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), body, format="json").status_code == 400


def test_a_reader_may_not_add_labels(world, login):
    manifest = push_image(world.repository, "v1")
    body = {"key": "k", "value": "x"}
    assert login(world.reader).post(manifest_url(world, manifest.digest, "/labels"), body, format="json").status_code == 403


def test_labels_are_listed_with_a_key_prefix_filter(world, login):
    manifest = push_image(world.repository, "v1", labels={"org.example.a": "1", "org.example.b": "2", "other": "3"})
    client = login(world.reader)
    everything = client.get(manifest_url(world, manifest.digest, "/labels")).json()["labels"]
    filtered = client.get(manifest_url(world, manifest.digest, "/labels"), {"filter": "org.example."}).json()["labels"]
    assert sorted(l["key"] for l in everything) == ["org.example.a", "org.example.b", "other"]
    assert sorted(l["key"] for l in filtered) == ["org.example.a", "org.example.b"]


def test_one_label_is_fetched_by_its_id(world, login):
    manifest = push_image(world.repository, "v1", labels={"k": "v"})
    label = Label.objects.get(manifest=manifest)
    body = login(world.reader).get(manifest_url(world, manifest.digest, f"/labels/{label.uuid}")).json()
    assert body == {"id": str(label.uuid), "key": "k", "value": "v", "source_type": "manifest", "media_type": "text/plain"}


def test_an_unknown_label_id_is_a_404(world, login):
    manifest = push_image(world.repository, "v1")
    assert login(world.reader).get(manifest_url(world, manifest.digest, "/labels/not-a-uuid")).status_code == 404


def test_a_writer_deletes_an_api_label(world, login):
    manifest = push_image(world.repository, "v1")
    client = login(world.writer)
    label = client.post(manifest_url(world, manifest.digest, "/labels"), {"key": "k", "value": "v"}, format="json").json()["label"]
    assert client.delete(manifest_url(world, manifest.digest, f"/labels/{label['id']}")).status_code == 204
    assert not Label.objects.filter(manifest=manifest).exists()
    assert AuditLog.objects.get(kind="manifest_label_delete").metadata["key"] == "k"


def test_a_label_from_the_image_config_cannot_be_deleted(world, login):
    manifest = push_image(world.repository, "v1", labels={"k": "v"})
    label = Label.objects.get(manifest=manifest)
    response = login(world.writer).delete(manifest_url(world, manifest.digest, f"/labels/{label.uuid}"))
    assert response.status_code == 400 and Label.objects.filter(pk=label.pk).exists()


def test_a_reader_may_not_delete_labels(world, login):
    manifest = push_image(world.repository, "v1")
    label = Label.objects.create(manifest=manifest, uuid="6f1c4f0e-2b7a-4f57-9a43-0c7f5b7d8e21", key="k", value="v")
    assert login(world.reader).delete(manifest_url(world, manifest.digest, f"/labels/{label.uuid}")).status_code == 403


def test_listing_labels_takes_a_bounded_number_of_queries(world, login, django_assert_max_num_queries):
    manifest = push_image(world.repository, "v1", labels={f"k{i}": str(i) for i in range(30)})
    client = login(world.reader)
    with django_assert_max_num_queries(8):
        response = client.get(manifest_url(world, manifest.digest, "/labels"))
    assert len(response.json()["labels"]) == 30


def test_an_expires_after_label_added_through_the_api_sets_the_expiry_of_the_live_tags(world, login):
    manifest = push_image(world.repository, "v1")
    response = login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), {"key": "quay.expires-after", "value": "2d"}, format="json")

    assert response.status_code == 201, response.content
    tag = Tag.objects.get(repository=world.repository, name="v1", lifetime_end__isnull=True)
    assert abs(tag.expires_at - (timezone.now() + timedelta(days=2))) < timedelta(minutes=1)


def test_an_immutable_label_added_through_the_api_makes_the_live_tags_immutable(world, login):
    manifest = push_image(world.repository, "v1")
    response = login(world.writer).post(manifest_url(world, manifest.digest, "/labels"), {"key": "quay.immutable", "value": "true"}, format="json")

    assert response.status_code == 201, response.content
    assert Tag.objects.get(repository=world.repository, name="v1", lifetime_end__isnull=True).immutable
