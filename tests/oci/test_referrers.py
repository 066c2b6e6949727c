"""``GET /v2/<name>/referrers/<digest>``: the OCI index of manifests whose ``subject`` is <digest>."""

from __future__ import annotations

import pytest

from tests.oci.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    assert_error,
    digest_of,
    follow_pages,
    image_manifest,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    to_bytes,
)

pytestmark = pytest.mark.live


@pytest.fixture
def subject(http, registry, name):
    return push_image(http, registry, name, "v1")


def _referrers(http, registry, name, digest, **params):
    return http.get(f"{registry}/v2/{name}/referrers/{digest}", params=params)


def test_referrers_of_a_manifest_nothing_refers_to_is_an_empty_index(http, registry, name, subject):
    response = _referrers(http, registry, name, subject.digest)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    assert response.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_referrers_of_a_digest_the_repository_does_not_hold_is_an_empty_index(http, registry, name, subject):
    response = _referrers(http, registry, name, digest_of(b"not here"))
    assert response.status_code == 200
    assert response.json()["manifests"] == []


def test_referrers_list_each_referrer_with_artifact_type_and_annotations(http, registry, name, subject):
    sbom = push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.sbom", annotations={"org.example.kind": "sbom"})
    sig = push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.sig")
    manifests = _referrers(http, registry, name, subject.digest).json()["manifests"]
    by_digest = {d["digest"]: d for d in manifests}
    assert by_digest == {
        sbom.digest: {
            "mediaType": OCI_MANIFEST,
            "digest": sbom.digest,
            "size": len(sbom.raw),
            "artifactType": "application/vnd.example.sbom",
            "annotations": {"org.example.kind": "sbom"},
        },
        sig.digest: {"mediaType": OCI_MANIFEST, "digest": sig.digest, "size": len(sig.raw), "artifactType": "application/vnd.example.sig"},
    }


def test_referrer_without_artifact_type_is_typed_by_its_config_media_type(http, registry, name, subject):
    config = b'{"kind": "attestation"}'
    push_blob(http, registry, name, config)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.example.config+json", "digest": digest_of(config), "size": len(config)},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.raw)},
    }
    referrer = push_manifest(http, registry, name, None, document)
    (listed,) = _referrers(http, registry, name, subject.digest).json()["manifests"]
    assert listed["digest"] == referrer.digest
    assert listed["artifactType"] == "application/vnd.example.config+json"


def test_index_referrer_without_artifact_type_is_listed_without_one(http, registry, name, subject):
    member = push_artifact(http, registry, name)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": member.digest, "size": len(member.raw)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.raw)},
        "annotations": {"org.example.bundle": "yes"},
    }
    index = push_manifest(http, registry, name, None, document)
    assert index.response.headers["OCI-Subject"] == subject.digest
    (listed,) = _referrers(http, registry, name, subject.digest).json()["manifests"]
    assert listed == {"mediaType": OCI_INDEX, "digest": index.digest, "size": len(index.raw), "annotations": {"org.example.bundle": "yes"}}


def test_referrers_may_refer_to_a_subject_that_was_never_pushed(http, registry, name, subject):
    ghost = push_image(http, registry, f"{name}-elsewhere")
    referrer = push_artifact(http, registry, name, subject=ghost)
    assert [d["digest"] for d in _referrers(http, registry, name, ghost.digest).json()["manifests"]] == [referrer.digest]


def test_artifact_type_filter_keeps_only_matching_referrers_and_says_so(http, registry, name, subject):
    sbom = push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.sbom")
    push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.sig")
    response = _referrers(http, registry, name, subject.digest, artifactType="application/vnd.example.sbom")
    assert response.status_code == 200
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in response.json()["manifests"]] == [sbom.digest]


def test_unfiltered_referrers_do_not_claim_a_filter(http, registry, name, subject):
    push_artifact(http, registry, name, subject=subject)
    assert "OCI-Filters-Applied" not in _referrers(http, registry, name, subject.digest).headers


def test_referrers_paginate_with_n_and_a_link_to_the_next_page(http, registry, name, subject):
    pushed = {push_artifact(http, registry, name, subject=subject).digest for _ in range(5)}
    first = _referrers(http, registry, name, subject.digest, n=2)
    assert len(first.json()["manifests"]) == 2
    assert "next" in first.links
    listed, pages = follow_pages(http, registry, first.url, "manifests")
    assert pages == 3
    assert [d["digest"] for d in listed] == [d["digest"] for d in _referrers(http, registry, name, subject.digest).json()["manifests"]]
    assert {d["digest"] for d in listed} == pushed


def test_referrer_deleted_by_digest_is_no_longer_listed(http, registry, name, subject):
    kept = push_artifact(http, registry, name, subject=subject)
    gone = push_artifact(http, registry, name, subject=subject)
    assert http.delete(f"{registry}/v2/{name}/manifests/{gone.digest}").status_code == 202
    assert [d["digest"] for d in _referrers(http, registry, name, subject.digest).json()["manifests"]] == [kept.digest]


def test_tag_schema_fallback_index_is_merged_into_the_referrers(http, registry, name, subject):
    native = push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.native")
    legacy = push_artifact(http, registry, name, artifact_type="application/vnd.example.legacy")  # pushed without subject
    fallback = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": legacy.digest, "size": len(legacy.raw), "artifactType": "application/vnd.example.legacy"},
            {"mediaType": OCI_MANIFEST, "digest": native.digest, "size": len(native.raw), "artifactType": "application/vnd.example.native"},
        ],
    }
    tag = subject.digest.replace(":", "-")
    push_manifest(http, registry, name, tag, fallback)
    listed = _referrers(http, registry, name, subject.digest).json()["manifests"]
    assert sorted(d["digest"] for d in listed) == sorted([native.digest, legacy.digest])
    filtered = _referrers(http, registry, name, subject.digest, artifactType="application/vnd.example.legacy").json()["manifests"]
    assert [d["digest"] for d in filtered] == [legacy.digest]


def test_tag_schema_fallback_for_a_sha512_subject_uses_the_first_64_hex_characters(http, registry, name):
    config = b'{"os": "linux"}'
    push_blob(http, registry, name, config, algorithm="sha512")
    raw = to_bytes(image_manifest(config, [], algorithm="sha512"))
    subject = digest_of(raw, "sha512")
    assert http.put(f"{registry}/v2/{name}/manifests/{subject}", data=raw, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    legacy = push_artifact(http, registry, name, artifact_type="application/vnd.example.legacy")
    fallback = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": legacy.digest, "size": len(legacy.raw), "artifactType": "application/vnd.example.legacy"}],
    }
    push_manifest(http, registry, name, "sha512-" + subject.removeprefix("sha512:")[:64], fallback)
    assert [d["digest"] for d in _referrers(http, registry, name, subject).json()["manifests"]] == [legacy.digest]


def test_filtered_referrers_paginate_within_the_filter(http, registry, name, subject):
    wanted = {push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.a").digest for _ in range(3)}
    for _ in range(2):
        push_artifact(http, registry, name, subject=subject, artifact_type="application/vnd.example.b")
    first = f"{registry}/v2/{name}/referrers/{subject.digest}?n=1&artifactType=application/vnd.example.a"
    listed, pages = follow_pages(http, registry, first, "manifests")
    assert {d["digest"] for d in listed} == wanted
    assert pages == 3


def test_referrers_of_an_index_subject_are_listed(http, registry, name, subject):
    index = push_manifest(
        http, registry, name, "multi",
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.raw)}]},
    )
    referrer = push_artifact(http, registry, name, subject=index)
    assert [d["digest"] for d in _referrers(http, registry, name, index.digest).json()["manifests"]] == [referrer.digest]


def test_referrers_with_an_invalid_digest_is_400_digest_invalid(http, registry, name, subject):
    assert_error(_referrers(http, registry, name, "sha256:nothex"), 400, "DIGEST_INVALID")


def test_referrers_of_an_unknown_repository_is_name_unknown(http, registry, name):
    assert_error(_referrers(http, registry, name, digest_of(b"x")), 404, "NAME_UNKNOWN")
