"""``GET /v2/<name>/tags/list`` and ``GET /v2/_catalog``: order and keyset pagination."""

from __future__ import annotations

import random

import pytest

from tests.oci.helpers import absolute, assert_error, follow_pages, push_blob, push_image, push_manifest, unique_name

pytestmark = pytest.mark.live

# Upper and lower case, digits and every separator the tag grammar allows.
TAGS = ["latest", "Latest2", "v1.0", "v1.0-rc1", "v1_0", "v10", "v2", "_private", "0.9", "ALPHA", "alpha-1", "beta", "Beta.2", "z"]


def _lexical(tags: list[str]) -> list[str]:
    """The spec's order for tags: "lexical order (i.e. case-insensitive alphanumeric order)"."""
    return sorted(tags, key=lambda tag: (tag.lower(), tag))


@pytest.fixture
def tagged(http, registry, name) -> list[str]:
    image = push_image(http, registry, name)
    shuffled = random.sample(TAGS, len(TAGS))
    push_manifest(http, registry, name, None, image.raw, image.media_type, params=[("tag", tag) for tag in shuffled])
    return _lexical(TAGS)


def _tags(http, registry, name, **params):
    response = http.get(f"{registry}/v2/{name}/tags/list", params=params)
    assert response.status_code == 200, response.text
    return response


# -- tags/list -------------------------------------------------------------------------------
def test_tags_list_names_the_repository_and_lists_tags_in_lexical_order(http, registry, name, tagged):
    body = _tags(http, registry, name).json()
    assert body == {"name": name, "tags": tagged}


def test_tags_list_without_n_has_no_link(http, registry, name, tagged):
    assert "Link" not in _tags(http, registry, name).headers


def test_tags_list_with_n_returns_the_first_n_and_a_link_to_the_rest(http, registry, name, tagged):
    response = _tags(http, registry, name, n=4)
    assert response.json()["tags"] == tagged[:4]
    assert response.links["next"]["url"]


def test_following_tags_list_links_to_the_end_yields_every_tag_once_in_order(http, registry, name, tagged):
    listed, pages = follow_pages(http, registry, f"{registry}/v2/{name}/tags/list?n=3", "tags")
    assert listed == tagged
    assert pages == 5


def test_tags_list_last_starts_after_the_named_tag(http, registry, name, tagged):
    after = tagged[5]
    assert _tags(http, registry, name, n=3, last=after).json()["tags"] == tagged[6:9]
    assert _tags(http, registry, name, last=after).json()["tags"] == tagged[6:]


def test_tags_list_last_need_not_be_an_existing_tag(http, registry, name, tagged):
    assert _tags(http, registry, name, last="v1.0-zzz").json()["tags"] == [t for t in tagged if (t.lower(), t) > ("v1.0-zzz", "v1.0-zzz")]


def test_tags_list_with_n_zero_is_empty_and_has_no_link(http, registry, name, tagged):
    response = _tags(http, registry, name, n=0)
    assert response.json()["tags"] == []
    assert "Link" not in response.headers


def test_tags_list_with_n_larger_than_the_list_returns_everything_without_link(http, registry, name, tagged):
    response = _tags(http, registry, name, n=len(tagged))
    assert response.json()["tags"] == tagged
    assert "Link" not in response.headers


@pytest.mark.parametrize("n", ["abc", "-1", "1.5", "0x10"])
def test_tags_list_with_an_invalid_n_is_400(http, registry, name, tagged, n):
    response = http.get(f"{registry}/v2/{name}/tags/list", params={"n": n})
    assert response.status_code == 400
    assert response.json()["errors"]


def test_tags_list_of_a_repository_without_tags_is_empty(http, registry, name):
    push_blob(http, registry, name, b"repository exists")
    assert _tags(http, registry, name).json()["tags"] == []


def test_deleted_tags_are_not_listed(http, registry, name, tagged):
    assert http.delete(f"{registry}/v2/{name}/manifests/{tagged[0]}").status_code == 202
    assert _tags(http, registry, name).json()["tags"] == tagged[1:]


def test_tags_list_of_an_unknown_repository_is_name_unknown(http, registry, name):
    assert_error(http.get(f"{registry}/v2/{name}/tags/list"), 404, "NAME_UNKNOWN")


# -- _catalog --------------------------------------------------------------------------------
@pytest.fixture
def catalogued(http, registry) -> list[str]:
    """A few repositories whose names sort around separators (``-`` < ``.`` < ``/`` < ``_``)."""
    base = unique_name("catalog")
    names = [f"{base}-x", f"{base}.x", f"{base}/x", f"{base}_x", f"{base}/a/b", base]
    for repository in random.sample(names, len(names)):
        push_blob(http, registry, repository, b"exists")
    return sorted(names)


def _catalog(http, registry, **params) -> list[str]:
    response = http.get(f"{registry}/v2/_catalog", params=params)
    assert response.status_code == 200, response.text
    return response.json()["repositories"]


def test_catalog_lists_repositories_in_lexical_order(http, registry, catalogued):
    listed = _catalog(http, registry, n=10000)
    assert listed == sorted(listed)
    assert [r for r in listed if r in catalogued] == catalogued


def test_following_catalog_links_to_the_end_yields_the_full_catalog(http, registry, catalogued):
    everything = _catalog(http, registry, n=10000)
    listed, pages = follow_pages(http, registry, f"{registry}/v2/_catalog?n=2", "repositories")
    assert listed == everything
    assert pages == -(-len(everything) // 2)


def test_catalog_last_starts_after_the_named_repository(http, registry, catalogued):
    assert _catalog(http, registry, n=3, last=catalogued[0])[:3] == [r for r in _catalog(http, registry, n=10000) if r > catalogued[0]][:3]


def test_catalog_with_n_zero_is_empty_and_has_no_link(http, registry, catalogued):
    response = http.get(f"{registry}/v2/_catalog", params={"n": 0})
    assert response.json()["repositories"] == []
    assert "Link" not in response.headers


@pytest.mark.parametrize("n", ["abc", "-5"])
def test_catalog_with_an_invalid_n_is_400(http, registry, n):
    response = http.get(f"{registry}/v2/_catalog", params={"n": n})
    assert response.status_code == 400
    assert response.json()["errors"]


def test_catalog_link_is_a_usable_url(http, registry, catalogued):
    response = http.get(f"{registry}/v2/_catalog", params={"n": 1})
    follow = http.get(absolute(registry, response.links["next"]["url"]))
    assert follow.status_code == 200
    assert follow.json()["repositories"] == _catalog(http, registry, n=2)[1:2]
