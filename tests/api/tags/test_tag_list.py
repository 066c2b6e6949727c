"""GET /api/v1/repository/<repo>/tag/: Quay's tag history list."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from repositories.models import Repository, Tag
from repositories.services.repositories import repository_set_visibility
from repositories.services.tags import tag_delete, tag_point
from tests.api.tags.helpers import push_image, push_index, tags_url


def test_history_lists_live_and_ended_lifetimes_newest_first(world, login):
    old = push_image(world.repository, "latest")
    new = push_image(world.repository, "latest")
    body = login(world.reader).get(tags_url(world)).json()
    assert [(t["name"], t["manifest_digest"]) for t in body["tags"]] == [("latest", new.digest), ("latest", old.digest)]
    assert "end_ts" not in body["tags"][0] and "end_ts" in body["tags"][1]
    assert body["page"] == 1 and body["has_additional"] is False


def test_a_tag_carries_quay_fields(world, login):
    manifest = push_image(world.repository, "v1", layers=2)
    tag = login(world.reader).get(tags_url(world)).json()["tags"][0]
    assert set(tag) == {"name", "reversion", "start_ts", "manifest_digest", "is_manifest_list", "size", "last_modified", "immutable"}
    assert tag["size"] == sum(layer["size"] for layer in json.loads(bytes(manifest.content))["layers"])
    assert tag["is_manifest_list"] is False and tag["reversion"] is False and tag["immutable"] is False
    assert tag["last_modified"].endswith("-0000")


def test_an_expiring_tag_shows_its_expiration(world, login):
    push_image(world.repository, "v1")
    expires = timezone.now() + timedelta(days=3)
    Tag.objects.filter(name="v1").update(expires_at=expires)
    tag = login(world.reader).get(tags_url(world)).json()["tags"][0]
    assert tag["end_ts"] == int(expires.timestamp())
    assert tag["expiration"].endswith("-0000")


def test_only_active_tags_leaves_out_history(world, login):
    push_image(world.repository, "latest")
    current = push_image(world.repository, "latest")
    push_image(world.repository, "gone")
    tag_delete(repository=world.repository, name="gone")
    body = login(world.reader).get(tags_url(world), {"onlyActiveTags": "true"}).json()
    assert [(t["name"], t["manifest_digest"]) for t in body["tags"]] == [("latest", current.digest)]


def test_hidden_tags_are_never_listed(world, login):
    manifest = push_image(world.repository, "v1")
    Tag.objects.create(repository=world.repository, name="$temp-x", manifest=manifest, lifetime_start=timezone.now(), hidden=True)
    names = [t["name"] for t in login(world.reader).get(tags_url(world)).json()["tags"]]
    assert names == ["v1"]


def test_specific_tag_lists_only_that_tag(world, login):
    push_image(world.repository, "a")
    push_image(world.repository, "b")
    names = [t["name"] for t in login(world.reader).get(tags_url(world), {"specificTag": "a"}).json()["tags"]]
    assert names == ["a"]


def test_filter_like_matches_part_of_the_name_ignoring_case(world, login):
    push_image(world.repository, "Release-1", extra_tags=("release-2", "nightly"))
    names = sorted(t["name"] for t in login(world.reader).get(tags_url(world), {"filter_tag_name": "like:release"}).json()["tags"])
    assert names == ["Release-1", "release-2"]


def test_filter_eq_matches_the_exact_name(world, login):
    push_image(world.repository, "v1", extra_tags=("v10",))
    names = [t["name"] for t in login(world.reader).get(tags_url(world), {"filter_tag_name": "eq:v1"}).json()["tags"]]
    assert names == ["v1"]


def test_a_filter_without_an_operation_is_a_clear_400(world, login):
    response = login(world.reader).get(tags_url(world), {"filter_tag_name": "v1"})
    assert response.status_code == 400
    assert "filter_tag_name" in response.json()["error_message"]


def test_pages_report_whether_more_follow(world, login):
    manifest = push_image(world.repository, "t0")
    for i in range(1, 5):
        tag_point(repository=world.repository, name=f"t{i}", manifest=manifest, now=timezone.now() + timedelta(seconds=i))
    client = login(world.reader)
    first = client.get(tags_url(world), {"limit": 3}).json()
    second = client.get(tags_url(world), {"limit": 3, "page": 2}).json()
    assert [t["name"] for t in first["tags"]] == ["t4", "t3", "t2"] and first["has_additional"] is True
    assert [t["name"] for t in second["tags"]] == ["t1", "t0"] and second["has_additional"] is False and second["page"] == 2


def test_limit_is_capped_at_one_hundred(world, login):
    manifest = push_image(world.repository, "t0")
    now = timezone.now()
    Tag.objects.bulk_create(
        [Tag(repository=world.repository, name=f"x{i}", manifest=manifest, lifetime_start=now - timedelta(seconds=i)) for i in range(105)]
    )
    body = login(world.reader).get(tags_url(world), {"limit": 500}).json()
    assert len(body["tags"]) == 100 and body["has_additional"] is True


def test_a_non_numeric_page_is_a_400(world, login):
    assert login(world.reader).get(tags_url(world), {"page": "two"}).status_code == 400


def test_an_index_is_listed_as_a_manifest_list_without_size(world, login):
    child = push_image(world.repository, None)
    push_index(world.repository, "multi", [child])
    tag = login(world.reader).get(tags_url(world)).json()["tags"][0]
    assert tag["is_manifest_list"] is True and tag["size"] is None


def test_anonymous_callers_read_tags_of_a_public_repository(world, api):
    push_image(world.repository, "v1")
    repository_set_visibility(repository=world.repository, visibility=Repository.Visibility.PUBLIC)
    response = api.get(tags_url(world))
    assert response.status_code == 200 and response.json()["tags"][0]["name"] == "v1"


def test_anonymous_callers_get_404_for_a_private_repository(world, api):
    assert api.get(tags_url(world)).status_code == 404


def test_a_user_without_a_role_gets_404(world, login):
    assert login(world.outsider).get(tags_url(world)).status_code == 404


def test_a_jwt_limited_to_repo_read_lists_tags(world, jwt):
    push_image(world.repository, "v1")
    assert jwt(world.reader, scope="repo:read").get(tags_url(world)).status_code == 200


def test_a_jwt_without_a_repo_scope_gets_404(world, jwt):
    assert jwt(world.reader, scope="user:read").get(tags_url(world)).status_code == 404


def test_listing_a_page_takes_a_bounded_number_of_queries(world, login, django_assert_max_num_queries):
    manifests = [push_image(world.repository, f"v{i}") for i in range(6)]
    for i, manifest in enumerate(manifests):
        tag_point(repository=world.repository, name="latest", manifest=manifest, now=timezone.now() + timedelta(seconds=i))
    client = login(world.reader)
    with django_assert_max_num_queries(12):
        response = client.get(tags_url(world), {"limit": 100})
    assert len(response.json()["tags"]) == 12
