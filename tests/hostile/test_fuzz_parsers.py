"""Property-based fuzzing (hypothesis) of the parsers that see untrusted bytes first: the manifest
parser, the digest, tag and repository-name grammar, the upload ``Content-Range`` and download
``Range`` parsers, the token service's scope parser and the Basic credentials parser.

The property everywhere: a parser returns a well-formed value or rejects the input with one of
our ``RegistryError`` subclasses (or ``None`` where that is its contract) - never any other
exception. Accepted values are checked for what the callers rely on (a digest that names the
bytes, a range inside the blob, descriptors with valid digests and sizes).

``make test`` runs ``EXAMPLES`` (300) examples per target with a fixed seed; the long variant
(``MOORAGE_LONG_TESTS=1 pytest tests/hostile/test_fuzz_parsers.py -m slow``) runs
``LONG_EXAMPLES`` random ones per target.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import RegistryError
from common.grammar import (
    SUPPORTED_DIGEST_ALGORITHMS, parse_byte_range, parse_content_range, parse_digest, validate_repository_name, validate_tag,
)
from oci.auth import parse_basic
from oci.views.token import parse_scopes
from repositories.media_types import MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST, compute_digest, parse_manifest

EXAMPLES = 300
LONG_EXAMPLES = int(os.environ.get("MOORAGE_FUZZ_EXAMPLES", "20000"))
LONG = os.environ.get("MOORAGE_LONG_TESTS") == "1"

HEX = "0123456789abcdef"

# -- strategies ------------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)

digests = st.one_of(
    st.builds(lambda h: "sha256:" + h, st.text(HEX, min_size=64, max_size=64)),
    st.builds(lambda h: "sha512:" + h, st.text(HEX, min_size=128, max_size=128)),
    st.from_regex(r"[a-z0-9+._-]{0,10}:[A-Za-z0-9=_-]{0,70}", fullmatch=True),
    st.text(max_size=80),
)
media_types = st.sampled_from(sorted(MANIFEST_TYPES) + ["application/vnd.oci.image.layer.v1.tar+gzip", "application/json", "", "x" * 300, "a/b\x00"])


@st.composite
def descriptors(draw: Callable) -> Any:
    descriptor = {
        "mediaType": draw(media_types),
        "digest": draw(digests),
        "size": draw(st.integers(-5, 2**64) | json_scalars),
    }
    if draw(st.booleans()):
        descriptor[draw(st.sampled_from(["data", "urls", "platform", "annotations", "artifactType"]))] = draw(json_values)
    if draw(st.booleans()):
        data = draw(st.binary(max_size=64))
        descriptor.update(data=base64.b64encode(data).decode(), digest=compute_digest(data), size=len(data))
    return descriptor if draw(st.integers(0, 9)) else draw(json_values)


@st.composite
def manifests(draw: Callable) -> bytes:
    """Manifest-shaped JSON with hostile values, valid ones now and then."""
    index = draw(st.booleans())
    body: dict[str, Any] = {"schemaVersion": draw(st.sampled_from([2, 2, 2, 1, "2", None]))}
    if draw(st.integers(0, 4)):
        body["mediaType"] = OCI_INDEX if index else draw(st.sampled_from([OCI_MANIFEST, *sorted(MANIFEST_TYPES)]))
    if index:
        body["manifests"] = draw(st.lists(descriptors(), max_size=4)) if draw(st.integers(0, 5)) else draw(json_values)
    else:
        body["config"] = draw(descriptors())
        body["layers"] = draw(st.lists(descriptors(), max_size=4)) if draw(st.integers(0, 5)) else draw(json_values)
    for key in draw(st.lists(st.sampled_from(["subject", "annotations", "artifactType", "extra"]), max_size=2, unique=True)):
        body[key] = draw(descriptors() if key == "subject" else st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3) if key == "annotations" else json_values)
    raw = json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 6)) == 0:  # byte-level damage
        position = draw(st.integers(0, max(0, len(raw) - 1)))
        raw = raw[:position] + draw(st.binary(max_size=8)) + raw[position + 1 :]
    return raw


# -- properties ------------------------------------------------------------------------------------
def check_manifest(raw: bytes, content_type: str, algorithm: str) -> None:
    try:
        parsed = parse_manifest(raw, content_type, algorithm)
    except RegistryError:
        return
    assert parsed.raw == raw
    assert parsed.digest == compute_digest(raw, algorithm)
    assert parsed.media_type in MANIFEST_TYPES
    for descriptor in (parsed.config, *parsed.layers, *parsed.children, parsed.subject):
        if descriptor is None:
            continue
        parse_digest(descriptor.digest)
        assert isinstance(descriptor.size, int) and not isinstance(descriptor.size, bool) and descriptor.size >= 0
        assert "\x00" not in descriptor.media_type and len(descriptor.media_type) <= 255
        if descriptor.data is not None:
            assert compute_digest(descriptor.data, descriptor.digest.partition(":")[0]) == descriptor.digest


def check_digest(value: str) -> None:
    try:
        digest = parse_digest(value)
    except RegistryError:
        return
    assert str(digest) == value
    assert len(digest.hex) == SUPPORTED_DIGEST_ALGORITHMS[digest.algorithm]


def check_names(value: str) -> None:
    for validate in (validate_repository_name, validate_tag):
        try:
            assert validate(value) == value
        except RegistryError:
            pass


def check_content_range(value: str) -> None:
    result = parse_content_range(value)
    if result is not None:
        start, end = result
        assert 0 <= start <= end < 10**19


def check_byte_range(value: str, size: int) -> None:
    result = parse_byte_range(value, size)
    if result is not None:
        start, end = result
        assert 0 <= start <= end < size


def check_scopes(values: list[str]) -> None:
    try:
        scopes = parse_scopes(values)
    except RegistryError:
        return
    for scope in scopes:
        assert scope.kind in ("repository", "registry") and scope.actions
        if scope.kind == "repository":
            validate_repository_name(scope.name)


def check_basic(header: str) -> None:
    result = parse_basic(header)
    assert result is None or (isinstance(result[0], str) and isinstance(result[1], str))


range_texts = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"(bytes[ =])?-?[0-9]{0,22}-[0-9]{0,22}(/([0-9]{0,22}|\*))?", fullmatch=True),
    st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(-5, 2**70), st.integers(-5, 2**70)),
)
scope_texts = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.builds(lambda n, a: f"repository:{n}:{a}", st.text(max_size=40), st.text(max_size=20)),
        st.from_regex(r"repository(\([a-z]{0,6}\))?:[a-z0-9/._-]{0,30}:[a-z*,]{0,20}", fullmatch=True),
        st.just("registry:catalog:*"),
    ),
    max_size=4,
)
basic_headers = st.one_of(
    st.text(max_size=60),
    st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), st.binary(max_size=40)),
    st.builds(lambda t: "Basic " + t, st.text(max_size=40)),
)

TARGETS: dict[str, tuple[Callable, st.SearchStrategy]] = {
    "manifest-structured": (check_manifest, st.tuples(manifests(), st.sampled_from(["", OCI_MANIFEST, OCI_INDEX, "application/json", "text/plain"]), st.sampled_from(["sha256", "sha512"]))),
    "manifest-bytes": (check_manifest, st.tuples(st.binary(max_size=300), st.sampled_from(["", OCI_MANIFEST]), st.just("sha256"))),
    "digest": (check_digest, st.tuples(digests)),
    "names-and-tags": (check_names, st.tuples(st.text(max_size=300) | st.from_regex(r"[a-z0-9._/-]{1,80}", fullmatch=True))),
    "content-range": (check_content_range, st.tuples(range_texts)),
    "byte-range": (check_byte_range, st.tuples(range_texts, st.integers(0, 2**63))),
    "scopes": (check_scopes, st.tuples(scope_texts)),
    "basic-credentials": (check_basic, st.tuples(basic_headers)),
}


def _run(target: str, examples: int, *, derandomize: bool) -> None:
    check, strategy = TARGETS[target]

    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy)
    def fuzz(arguments: tuple) -> None:
        check(*arguments)

    fuzz()


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_parser_never_raises_anything_but_a_clean_rejection(target):
    _run(target, EXAMPLES, derandomize=True)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="long fuzzing run: set MOORAGE_LONG_TESTS=1")
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_parser_long_fuzzing_run(target):
    _run(target, LONG_EXAMPLES, derandomize=False)
