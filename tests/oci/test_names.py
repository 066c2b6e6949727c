"""Repository names and tags: the spec's grammar, nested paths, the ``library/`` default."""

from __future__ import annotations

import uuid

import pytest

from tests.oci.helpers import assert_error, digest_of, push_blob, push_image, push_manifest

pytestmark = pytest.mark.live


def _suffix() -> str:
    return uuid.uuid4().hex[:10]


def test_nested_repository_names_work_end_to_end(http, registry):
    name = f"org{_suffix()}/team/app"
    image = push_image(http, registry, name, "v1")
    response = http.get(f"{registry}/v2/{name}/manifests/v1")
    assert response.content == image.raw
    assert http.get(f"{registry}/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}
    assert name in http.get(f"{registry}/v2/_catalog", params={"n": 10000}).json()["repositories"]


def test_name_without_a_namespace_lives_in_library(http, registry):
    name = f"solo{_suffix()}"
    image = push_image(http, registry, name, "v1")
    assert http.get(f"{registry}/v2/library/{name}/manifests/v1").content == image.raw
    assert http.get(f"{registry}/v2/{name}/manifests/v1").content == image.raw
    catalog = http.get(f"{registry}/v2/_catalog", params={"n": 10000}).json()["repositories"]
    assert f"library/{name}" in catalog
    assert name not in catalog


@pytest.mark.parametrize(
    "name",
    ["a", "a0/b1", "a.b", "a_b", "a__b", "a-b", "a---b", "x/y/z/w", "n" * 100 + "/" + "m" * 154],
    ids=["one-letter", "two-components", "dot", "underscore", "double-underscore", "dash", "dashes", "deep", "255-chars"],
)
def test_names_allowed_by_the_grammar_are_accepted(http, registry, name):
    unique = f"{name}{_suffix()}" if len(name) < 200 else name[:-10] + _suffix()
    push_blob(http, registry, unique, b"accepted")
    assert http.get(f"{registry}/v2/{unique}/tags/list").status_code == 200


@pytest.mark.parametrize(
    "name",
    ["Upper/case", "a..b", "a/%2E%2E/b", "-lead", "trail-", "a/_b", "a___b", "a/.b", "a//b", "a.-b", "a" * 256, "x" * 128 + "/" + "y" * 128, "caf%C3%A9"],
    ids=["uppercase", "double-dot", "dot-dot-component", "leading-dash", "trailing-dash", "leading-underscore", "triple-underscore",
         "leading-dot", "empty-component", "dot-dash", "256-chars", "257-chars-nested", "non-ascii"],
)
def test_names_outside_the_grammar_are_name_invalid(http, registry, name):
    assert_error(http.post(f"{registry}/v2/{name}/blobs/uploads/"), 400, "NAME_INVALID")
    assert_error(http.get(f"{registry}/v2/{name}/tags/list"), 400, "NAME_INVALID")


def test_name_without_namespace_too_long_for_library_is_name_invalid(http, registry):
    """``library/`` + 250 characters exceeds the 255 a full name may have."""
    name = "s" * 240 + _suffix()
    assert_error(http.post(f"{registry}/v2/{name}/blobs/uploads/"), 400, "NAME_INVALID")


@pytest.mark.parametrize(
    "tag", ["latest", "_x", "A.b-c_D", "0", "9" * 128], ids=["latest", "leading-underscore", "mixed", "digit", "128-chars"]
)
def test_tags_allowed_by_the_grammar_are_accepted(http, registry, name, tag):
    image = push_image(http, registry, name, tag)
    assert http.get(f"{registry}/v2/{name}/manifests/{tag}").content == image.raw


@pytest.mark.parametrize(
    "tag", ["-x", ".x", "a+b", "a" * 129, "a%20b", "caf%C3%A9"], ids=["leading-dash", "leading-dot", "plus", "129-chars", "space", "non-ascii"]
)
def test_tags_outside_the_grammar_are_tag_invalid(http, registry, name, tag):
    image = push_image(http, registry, name)
    response = push_manifest(http, registry, name, tag, image.raw, image.media_type, expect=None).response
    assert_error(response, 400, "TAG_INVALID")


def test_unknown_repository_is_name_unknown_everywhere(http, registry, name):
    digest = digest_of(b"x")
    for method, path in [
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/manifests/latest"),
        ("GET", f"/v2/{name}/manifests/{digest}"),
        ("GET", f"/v2/{name}/blobs/{digest}"),
        ("DELETE", f"/v2/{name}/manifests/{digest}"),
        ("DELETE", f"/v2/{name}/blobs/{digest}"),
        ("GET", f"/v2/{name}/blobs/uploads/0123456789abcdef0123456789abcdef"),
    ]:
        assert_error(http.request(method, f"{registry}{path}"), 404, "NAME_UNKNOWN")
    head = http.head(f"{registry}/v2/{name}/manifests/latest")
    assert head.status_code == 404
