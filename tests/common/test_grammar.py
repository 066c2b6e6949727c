"""The OCI grammar: repository names, tags, digests, upload Content-Range and download Range."""

from __future__ import annotations

import pytest

from common.errors import DigestInvalidError, NameInvalidError, TagInvalidError
from common.grammar import (
    DEFAULT_NAMESPACE,
    MAX_NAME_LENGTH,
    Digest,
    is_digest_reference,
    parse_byte_range,
    parse_content_range,
    parse_digest,
    split_repository_name,
    validate_repository_name,
    validate_tag,
)

SHA256_HEX = "a" * 64
SHA512_HEX = "0123456789abcdef" * 8


@pytest.mark.parametrize(
    "name",
    [
        "a", "busybox", "library/busybox", "acme/team/app", "a0/b1/c2/d3",
        "a.b", "a_b", "a__b", "a-b", "a--b", "a---b", "a.b_c__d-e--f",
        "x" * MAX_NAME_LENGTH,
    ],
)
def test_valid_repository_names_are_accepted(name):
    assert validate_repository_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "", "A", "Acme/app", "a/", "/a", "a//b", "a..b", "a___b", "a_-b", "a.-b", "-a", "a-", ".a", "a.", "_a",
        "a:b", "a b", "a@b", "ä", "a/../b", "busybox\n", "acme/app\n", "x" * (MAX_NAME_LENGTH + 1),
    ],
)
def test_invalid_repository_names_are_name_invalid(name):
    with pytest.raises(NameInvalidError) as caught:
        validate_repository_name(name)
    assert caught.value.code == "NAME_INVALID"
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("busybox", (DEFAULT_NAMESPACE, "busybox")),
        ("acme/app", ("acme", "app")),
        ("acme/team/app", ("acme", "team/app")),
        ("library/busybox", ("library", "busybox")),
    ],
)
def test_names_split_into_namespace_and_repository(name, expected):
    assert split_repository_name(name) == expected


def test_splitting_an_invalid_name_is_name_invalid():
    with pytest.raises(NameInvalidError):
        split_repository_name("Bad/Name")


def test_a_name_without_namespace_must_still_fit_once_library_is_prefixed():
    longest = "x" * (MAX_NAME_LENGTH - len(DEFAULT_NAMESPACE) - 1)
    assert split_repository_name(longest) == (DEFAULT_NAMESPACE, longest)
    with pytest.raises(NameInvalidError):
        split_repository_name(longest + "x")


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "1", "_hidden", "A-b_c.d", "a" * 128, "sha256-" + SHA256_HEX + ".sig"])
def test_valid_tags_are_accepted(tag):
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b", "a+b", "a b", "ä", "latest\n"])
def test_invalid_tags_are_tag_invalid(tag):
    with pytest.raises(TagInvalidError):
        validate_tag(tag)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"sha256:{SHA256_HEX}", Digest("sha256", SHA256_HEX)),
        (f"sha512:{SHA512_HEX}", Digest("sha512", SHA512_HEX)),
    ],
)
def test_supported_digests_parse_and_print_back(value, expected):
    digest = parse_digest(value)
    assert digest == expected
    assert str(digest) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "invalid digest"),
        ("sha256", "invalid digest"),
        ("sha256:", "invalid digest"),
        (":" + SHA256_HEX, "invalid digest"),
        (f"sha256:{'A' * 64}", "invalid digest encoding"),  # the hex must be lower case
        (f"sha256:{'a' * 63}", "invalid digest encoding"),
        (f"sha256:{'a' * 65}", "invalid digest encoding"),
        (f"sha256:{'g' * 64}", "invalid digest encoding"),
        (f"sha512:{SHA256_HEX}", "invalid digest encoding"),
        (f"md5:{'a' * 32}", "unsupported digest algorithm 'md5'"),
        (f"SHA256:{SHA256_HEX}", "invalid digest"),
        (f"sha256:{SHA256_HEX}/x", "invalid digest"),
        ("sha256:" + "a" * 400, "invalid digest"),
        (f"sha256:{SHA256_HEX}\n", "invalid digest"),
    ],
)
def test_bad_digests_are_digest_invalid_with_a_reason(value, reason):
    with pytest.raises(DigestInvalidError) as caught:
        parse_digest(value)
    assert caught.value.message == reason
    assert caught.value.code == "DIGEST_INVALID"


@pytest.mark.parametrize(
    ("reference", "is_digest"),
    [("latest", False), ("v1.2", False), (f"sha256:{SHA256_HEX}", True), ("sha256:short", True)],
)
def test_manifest_references_are_told_apart(reference, is_digest):
    assert is_digest_reference(reference) is is_digest


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0-99", (0, 99)),
        ("0-0", (0, 0)),
        ("100-199", (100, 199)),
        ("bytes 0-99/100", (0, 99)),
        ("bytes=5-10", (5, 10)),
        ("0-99/*", (0, 99)),
        ("  3-4  ", (3, 4)),
        ("99-0", None),
        ("abc", None),
        ("-5", None),
        ("0-", None),
        ("1-2-3", None),
        ("", None),
        ("0x10-0x20", None),
        ("1" * 20 + "-" + "1" * 20, None),
        ("\u0660-\u0669", None),  # Arabic-Indic digits are digits to Python, not to HTTP
    ],
)
def test_upload_content_range_parsing(header, expected):
    assert parse_content_range(header) == expected


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=10-", 100, (10, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-200", 100, (0, 99)),
        ("bytes=50-500", 100, (50, 99)),
        ("bytes=99-99", 100, (99, 99)),
        ("bytes=0-0", 1, (0, 0)),
        ("bytes=100-", 100, None),
        ("bytes=10-5", 100, None),
        ("bytes=-0", 100, None),
        ("bytes=-", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("items=0-1", 100, None),
        ("0-1", 100, None),
        ("bytes=-5", 0, None),
        ("bytes=0-", 0, None),
        ("bytes=\u0660-\u0669", 100, None),
    ],
)
def test_download_range_parsing(header, size, expected):
    assert parse_byte_range(header, size) == expected
