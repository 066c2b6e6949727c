"""``/v2/<name>/manifests/<reference>``: every manifest type, byte for byte, with its errors,
tags on push, content negotiation and deletion."""

from __future__ import annotations

import json

import pytest

from tests.oci.helpers import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_DESCRIPTOR,
    EMPTY_DIGEST,
    MIB,
    OCI_INDEX,
    OCI_MANIFEST,
    OCI_NONDISTRIBUTABLE_LAYER,
    assert_error,
    descriptor,
    digest_of,
    error_codes,
    image_manifest,
    index_of,
    inline_data,
    push_blob,
    push_image,
    push_manifest,
    random_bytes,
    to_bytes,
)

pytestmark = pytest.mark.live

AMD64 = {"architecture": "amd64", "os": "linux"}
ARM64 = {"architecture": "arm64", "os": "linux"}


def _get(http, registry, name, reference, accept: str | None = None):
    return http.get(f"{registry}/v2/{name}/manifests/{reference}", headers={"Accept": accept} if accept else {})


def _assert_served(response, pushed) -> None:
    assert response.status_code == 200, response.text
    assert response.content == pushed.raw
    assert digest_of(response.content) == pushed.digest
    assert response.headers["Docker-Content-Digest"] == pushed.digest
    assert response.headers["Content-Type"] == pushed.media_type
    assert response.headers["Content-Length"] == str(len(pushed.raw))


def _tags(http, registry, name) -> list[str]:
    response = http.get(f"{registry}/v2/{name}/tags/list")
    assert response.status_code == 200
    return response.json()["tags"] or []


def _oci_image(http, registry, name) -> dict:
    config, layer = b'{"architecture":"amd64","os":"linux"}', random_bytes(300)
    push_blob(http, registry, name, config)
    push_blob(http, registry, name, layer)
    return image_manifest(config, [layer])


# -- round trips -----------------------------------------------------------------------------
def test_oci_image_manifest_put_by_tag_is_served_byte_for_byte_by_tag_and_by_digest(http, registry, name):
    pushed = push_manifest(http, registry, name, "v1", _oci_image(http, registry, name))
    assert pushed.response.headers["Docker-Content-Digest"] == pushed.digest
    assert pushed.response.headers["Location"].endswith(f"/v2/{name}/manifests/{pushed.digest}")
    _assert_served(_get(http, registry, name, "v1"), pushed)
    _assert_served(_get(http, registry, name, pushed.digest), pushed)


def test_head_of_a_manifest_reports_type_length_and_digest_without_a_body(http, registry, name):
    pushed = push_manifest(http, registry, name, "v1", _oci_image(http, registry, name))
    for reference in ("v1", pushed.digest):
        response = http.head(f"{registry}/v2/{name}/manifests/{reference}")
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["Content-Length"] == str(len(pushed.raw))
        assert response.headers["Docker-Content-Digest"] == pushed.digest
        assert response.headers["Content-Type"] == OCI_MANIFEST


def test_content_type_parameters_are_ignored(http, registry, name):
    pushed = push_manifest(http, registry, name, "v1", _oci_image(http, registry, name), f"{OCI_MANIFEST}; charset=utf-8")
    response = _get(http, registry, name, "v1")
    assert response.content == pushed.raw
    assert response.headers["Content-Type"] == OCI_MANIFEST


def test_manifest_without_a_media_type_field_takes_its_type_from_content_type(http, registry, name):
    document = _oci_image(http, registry, name)
    del document["mediaType"]
    pushed = push_manifest(http, registry, name, "v1", document, OCI_MANIFEST)
    _assert_served(_get(http, registry, name, "v1"), pushed)


def test_manifest_pushed_to_one_repository_is_not_visible_in_another(http, registry, name):
    pushed = push_image(http, registry, name, "v1")
    other = push_image(http, registry, f"{name}-other", "v2")
    assert other.digest != pushed.digest
    assert_error(_get(http, registry, f"{name}-other", pushed.digest), 404, "MANIFEST_UNKNOWN")
    assert_error(_get(http, registry, f"{name}-other", "v1"), 404, "MANIFEST_UNKNOWN")


def test_manifest_put_by_digest_is_stored_without_a_tag(http, registry, name):
    pushed = push_manifest(http, registry, name, None, _oci_image(http, registry, name))
    _assert_served(_get(http, registry, name, pushed.digest), pushed)
    assert _tags(http, registry, name) == []


def test_manifest_put_by_a_sha512_digest_is_addressed_by_that_digest(http, registry, name):
    config, layer = b"{}", random_bytes(100)
    push_blob(http, registry, name, config, algorithm="sha512")
    push_blob(http, registry, name, layer, algorithm="sha512")
    raw = to_bytes(image_manifest(config, [layer], algorithm="sha512"))
    digest = digest_of(raw, "sha512")
    response = http.put(f"{registry}/v2/{name}/manifests/{digest}", data=raw, headers={"Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest
    served = _get(http, registry, name, digest)
    assert served.content == raw
    assert served.headers["Docker-Content-Digest"] == digest


def test_oci_image_index_round_trips_byte_for_byte(http, registry, name):
    amd = push_image(http, registry, name)
    arm = push_image(http, registry, name)
    document = index_of([(amd.raw, OCI_MANIFEST, AMD64), (arm.raw, OCI_MANIFEST, ARM64)], annotations={"org.example": "x"})
    pushed = push_manifest(http, registry, name, "multi", document)
    _assert_served(_get(http, registry, name, "multi", accept=OCI_INDEX), pushed)
    _assert_served(_get(http, registry, name, pushed.digest, accept=OCI_INDEX), pushed)


def test_docker_schema2_manifest_round_trips_byte_for_byte(http, registry, name):
    pushed = push_image(http, registry, name, "docker", media_type=DOCKER_MANIFEST)
    _assert_served(_get(http, registry, name, "docker", accept=DOCKER_MANIFEST), pushed)


def test_docker_manifest_list_round_trips_byte_for_byte(http, registry, name):
    amd = push_image(http, registry, name, media_type=DOCKER_MANIFEST)
    arm = push_image(http, registry, name, media_type=DOCKER_MANIFEST)
    document = index_of([(amd.raw, DOCKER_MANIFEST, AMD64), (arm.raw, DOCKER_MANIFEST, ARM64)], media_type=DOCKER_LIST)
    pushed = push_manifest(http, registry, name, "list", document)
    _assert_served(_get(http, registry, name, "list", accept=f"{DOCKER_LIST}, {DOCKER_MANIFEST}"), pushed)


def test_pushing_the_same_manifest_twice_is_idempotent(http, registry, name):
    document = _oci_image(http, registry, name)
    first = push_manifest(http, registry, name, "v1", document)
    second = push_manifest(http, registry, name, "v1", document)
    assert first.digest == second.digest
    _assert_served(_get(http, registry, name, "v1"), first)


def test_pushing_a_tag_again_moves_it_to_the_new_manifest(http, registry, name):
    push_image(http, registry, name, "latest")
    newer = push_image(http, registry, name, "latest")
    _assert_served(_get(http, registry, name, "latest"), newer)


# -- artifacts (image-spec 1.1) -------------------------------------------------------------
def test_artifact_with_the_empty_config_needs_no_upload_of_it(http, registry, name):
    layer = random_bytes(200)
    push_blob(http, registry, name, layer)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": EMPTY_DESCRIPTOR,
        "layers": [descriptor(layer, "application/vnd.example.sig")],
    }
    pushed = push_manifest(http, registry, name, "sig", document)
    _assert_served(_get(http, registry, name, "sig"), pushed)
    empty = http.get(f"{registry}/v2/{name}/blobs/{EMPTY_DIGEST}")
    assert empty.status_code == 200
    assert empty.content == b"{}"


def test_artifact_with_zero_layers_is_accepted(http, registry, name):
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.note", "config": EMPTY_DESCRIPTOR, "layers": []}
    pushed = push_manifest(http, registry, name, "note", document)
    _assert_served(_get(http, registry, name, "note"), pushed)


def test_layer_carried_in_a_data_field_needs_no_upload(http, registry, name):
    layer = b"inline content"
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.inline",
        "config": dict(EMPTY_DESCRIPTOR, data=inline_data(b"{}")),
        "layers": [descriptor(layer, "text/plain", data=inline_data(layer))],
    }
    pushed = push_manifest(http, registry, name, "inline", document)
    _assert_served(_get(http, registry, name, "inline"), pushed)
    assert http.get(f"{registry}/v2/{name}/blobs/{digest_of(layer)}").content == layer


def test_data_field_that_does_not_match_its_digest_is_manifest_invalid(http, registry, name):
    layer = b"inline content"
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": EMPTY_DESCRIPTOR,
        "layers": [descriptor(layer, "text/plain", data=inline_data(b"other content!"))],
    }
    assert_error(push_manifest(http, registry, name, "bad", document, expect=None).response, 400, "MANIFEST_INVALID")


def test_unknown_top_level_fields_and_odd_formatting_are_kept_byte_for_byte(http, registry, name):
    document = _oci_image(http, registry, name)
    raw = (
        b'{"x-vendor":{"nested":[1,2,{"deep":true}]} ,\n  "schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'",'
        b'"config":' + json.dumps(document["config"]).encode() + b",\t"
        b'"layers":' + json.dumps(document["layers"]).encode() + b', "zz-unknown": "\\u00e9t\\u00e9" }'
    )
    pushed = push_manifest(http, registry, name, "odd", raw, OCI_MANIFEST)
    _assert_served(_get(http, registry, name, "odd"), pushed)


def test_non_distributable_layers_need_not_be_uploaded(http, registry, name):
    document = _oci_image(http, registry, name)
    foreign = random_bytes(50)
    document["layers"].append(descriptor(foreign, OCI_NONDISTRIBUTABLE_LAYER, urls=["https://example.com/layer"]))
    pushed = push_manifest(http, registry, name, "foreign", document)
    _assert_served(_get(http, registry, name, "foreign"), pushed)


# -- refused pushes --------------------------------------------------------------------------
def test_manifest_naming_missing_blobs_lists_each_one_as_manifest_blob_unknown(http, registry, name):
    config, present, missing_a, missing_b = b'{"os":"linux"}', random_bytes(10), random_bytes(10), random_bytes(10)
    push_blob(http, registry, name, present)
    document = image_manifest(config, [present, missing_a, missing_b])
    response = push_manifest(http, registry, name, "v1", document, expect=None).response
    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"] * 3
    reported = {error["detail"]["digest"] for error in response.json()["errors"]}
    assert reported == {digest_of(config), digest_of(missing_a), digest_of(missing_b)}
    assert_error(_get(http, registry, name, "v1"), 404, "MANIFEST_UNKNOWN")


def test_index_naming_a_missing_child_manifest_is_manifest_blob_unknown(http, registry, name):
    present = push_image(http, registry, name)
    absent = to_bytes(image_manifest(b"{}", [b"never pushed"]))
    document = index_of([(present.raw, OCI_MANIFEST, AMD64), (absent, OCI_MANIFEST, ARM64)])
    response = push_manifest(http, registry, name, "multi", document, expect=None).response
    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
    assert response.json()["errors"][0]["detail"]["digest"] == digest_of(absent)


def test_manifest_of_exactly_4_mib_is_accepted(http, registry, name):
    document = _oci_image(http, registry, name)
    document["annotations"] = {"padding": ""}
    padding = 4 * MIB - len(to_bytes(document))
    document["annotations"]["padding"] = "p" * padding
    raw = to_bytes(document)
    assert len(raw) == 4 * MIB
    push_manifest(http, registry, name, "big", raw, OCI_MANIFEST)


def test_manifest_over_4_mib_is_413_size_invalid(http, registry, name):
    document = _oci_image(http, registry, name)
    document["annotations"] = {"padding": "p" * (4 * MIB)}
    response = push_manifest(http, registry, name, "huge", document, expect=None).response
    assert_error(response, 413, "SIZE_INVALID")
    assert_error(_get(http, registry, name, "huge"), 404, "MANIFEST_UNKNOWN")


def test_content_type_that_disagrees_with_the_media_type_is_manifest_invalid(http, registry, name):
    document = _oci_image(http, registry, name)
    response = push_manifest(http, registry, name, "v1", document, DOCKER_MANIFEST, expect=None).response
    assert_error(response, 400, "MANIFEST_INVALID")


def test_body_that_is_not_json_is_manifest_invalid(http, registry, name):
    response = push_manifest(http, registry, name, "v1", b'{"schemaVersion": 2,', OCI_MANIFEST, expect=None).response
    assert_error(response, 400, "MANIFEST_INVALID")


def test_put_by_a_digest_that_is_not_the_body_digest_is_digest_invalid(http, registry, name):
    document = _oci_image(http, registry, name)
    wrong = digest_of(b"another manifest")
    response = push_manifest(http, registry, name, wrong, document, expect=None).response
    assert_error(response, 400, "DIGEST_INVALID")
    assert_error(_get(http, registry, name, wrong), 404, "MANIFEST_UNKNOWN")


# -- subject and tags on push ----------------------------------------------------------------
def test_manifest_with_a_subject_answers_the_oci_subject_header(http, registry, name):
    subject = push_image(http, registry, name, "v1")
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": EMPTY_DESCRIPTOR,
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.raw)},
    }
    pushed = push_manifest(http, registry, name, None, document)
    assert pushed.response.headers["OCI-Subject"] == subject.digest


def test_manifest_without_a_subject_answers_no_oci_subject_header(http, registry, name):
    pushed = push_image(http, registry, name, "v1")
    assert "OCI-Subject" not in pushed.response.headers


def test_put_by_digest_with_tag_parameters_tags_it_and_answers_one_oci_tag_per_tag(http, registry, name):
    document = _oci_image(http, registry, name)
    pushed = push_manifest(http, registry, name, None, document, params=[("tag", "a"), ("tag", "b")])
    assert sorted(pushed.response.raw.headers.getlist("OCI-Tag")) == ["a", "b"]
    for tag in ("a", "b"):
        _assert_served(_get(http, registry, name, tag), pushed)
    assert _tags(http, registry, name) == ["a", "b"]


def test_invalid_tag_parameter_is_tag_invalid_and_nothing_is_tagged(http, registry, name):
    document = _oci_image(http, registry, name)
    response = push_manifest(http, registry, name, None, document, params=[("tag", "good"), ("tag", "-bad")], expect=None).response
    assert_error(response, 400, "TAG_INVALID")
    assert_error(_get(http, registry, name, "good"), 404, "MANIFEST_UNKNOWN")


# -- content negotiation ---------------------------------------------------------------------
@pytest.fixture
def multi_platform(http, registry, name):
    amd = push_image(http, registry, name)
    arm = push_image(http, registry, name)
    index = push_manifest(http, registry, name, "multi", index_of([(arm.raw, OCI_MANIFEST, ARM64), (amd.raw, OCI_MANIFEST, AMD64)]))
    return index, amd


def test_get_serves_the_index_when_the_client_accepts_it(http, registry, name, multi_platform):
    index, _amd = multi_platform
    _assert_served(_get(http, registry, name, "multi", accept=f"{OCI_MANIFEST}, {OCI_INDEX}"), index)


def test_get_serves_the_linux_amd64_child_when_the_client_accepts_only_image_manifests(http, registry, name, multi_platform):
    _index, amd = multi_platform
    _assert_served(_get(http, registry, name, "multi", accept=OCI_MANIFEST), amd)


def test_get_of_a_manifest_the_client_cannot_accept_is_manifest_unknown(http, registry, name):
    push_image(http, registry, name, "v1")
    assert_error(_get(http, registry, name, "v1", accept=DOCKER_MANIFEST), 404, "MANIFEST_UNKNOWN")


def test_get_with_accept_parameters_and_wildcards_serves_the_manifest(http, registry, name):
    pushed = push_image(http, registry, name, "v1")
    _assert_served(_get(http, registry, name, "v1", accept=f"{DOCKER_MANIFEST}; q=0.9, */*; q=0.1"), pushed)


# -- unknown and deleted ---------------------------------------------------------------------
def test_unknown_tag_and_unknown_digest_are_manifest_unknown(http, registry, name):
    push_image(http, registry, name, "v1")
    assert_error(_get(http, registry, name, "nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(_get(http, registry, name, digest_of(b"nope")), 404, "MANIFEST_UNKNOWN")
    assert http.head(f"{registry}/v2/{name}/manifests/nope").status_code == 404


def test_delete_by_tag_removes_only_that_tag(http, registry, name):
    document = _oci_image(http, registry, name)
    pushed = push_manifest(http, registry, name, "a", document)
    push_manifest(http, registry, name, "b", document)
    assert http.delete(f"{registry}/v2/{name}/manifests/a").status_code == 202
    assert_error(_get(http, registry, name, "a"), 404, "MANIFEST_UNKNOWN")
    _assert_served(_get(http, registry, name, "b"), pushed)
    _assert_served(_get(http, registry, name, pushed.digest), pushed)
    assert _tags(http, registry, name) == ["b"]


def test_delete_by_digest_removes_the_manifest_and_every_tag_on_it(http, registry, name):
    document = _oci_image(http, registry, name)
    pushed = push_manifest(http, registry, name, "a", document)
    push_manifest(http, registry, name, "b", document)
    other = push_image(http, registry, name, "c")
    assert http.delete(f"{registry}/v2/{name}/manifests/{pushed.digest}").status_code == 202
    for reference in ("a", "b", pushed.digest):
        assert_error(_get(http, registry, name, reference), 404, "MANIFEST_UNKNOWN")
    assert _tags(http, registry, name) == ["c"]
    _assert_served(_get(http, registry, name, "c"), other)


def test_delete_of_an_unknown_manifest_is_manifest_unknown(http, registry, name):
    push_image(http, registry, name, "v1")
    assert_error(http.delete(f"{registry}/v2/{name}/manifests/{digest_of(b'nope')}"), 404, "MANIFEST_UNKNOWN")
    assert_error(http.delete(f"{registry}/v2/{name}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_deleted_manifest_can_be_pushed_again(http, registry, name):
    document = _oci_image(http, registry, name)
    pushed = push_manifest(http, registry, name, "v1", document)
    assert http.delete(f"{registry}/v2/{name}/manifests/{pushed.digest}").status_code == 202
    push_manifest(http, registry, name, "v1", document)
    _assert_served(_get(http, registry, name, "v1"), pushed)
