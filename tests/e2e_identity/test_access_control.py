"""Permissions seen through real clients: a team's read role, READ_ONLY repositories, public and
private repositories, and what an outsider can learn about a private repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import ALL_MANIFEST_TYPES, LayoutImage, layout_image, requires
from tests.e2e_identity.support import (
    ORG,
    Tool,
    bearer,
    fetch_token,
    layout_with_image,
    manifest_digest,
    repository_update,
    run_failing,
    skopeo,
    tags,
    token_access,
)

pytestmark = [pytest.mark.e2e, pytest.mark.live]

DENIED_BODY = {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied", "detail": None}]}
UNAUTHORIZED_BODY = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}


def _push_as(registry, creds, layout: Path, tag: str, name: str) -> None:
    skopeo("copy", "--quiet", "--dest-creds", creds.pair, "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{registry.host}/{name}:{tag}")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, dict[str, LayoutImage]]:
    """One OCI layout with ``v1`` (pushed by the owner) and ``other`` (what others try to push).
    The repositories below are seeded with skopeo from it."""
    missing = [tool for tool in ("skopeo", "umoci") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install {' '.join(missing)}; .ci/run installs it)")
    workdir = tmp_path_factory.mktemp("access-images")
    layout, v1 = layout_with_image(workdir, "v1", "access v1")
    _layout, other = layout_with_image(workdir, "other", "access other")
    return layout, {"v1": v1, "other": other}


# -- a team with the read role ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(auth_registry, identities, images) -> str:
    """``acme/shared``: pushed by alice; the ``readers`` team (bob) gets the read role."""
    layout, _ = images
    name = f"{ORG}/shared"
    _push_as(auth_registry, identities.password, layout, "v1", name)
    assert repository_update(auth_registry, name, team_read="readers") == {"visibility": "private", "state": "NORMAL"}
    return name


@requires("skopeo", "umoci")
def test_team_reader_pulls_with_skopeo_but_cannot_push(auth_registry, identities, images, shared, auth_file: Path, tmp_path: Path):
    layout, image = images
    host, reader = auth_registry.host, identities.reader
    skopeo("login", "--authfile", auth_file, "--tls-verify=false", "-u", reader.username, "-p", reader.secret, host)

    skopeo("copy", "--quiet", "--authfile", auth_file, "--src-tls-verify=false", f"docker://{host}/{shared}:v1", f"oci:{tmp_path / 'pulled'}:v1")
    assert layout_image(tmp_path / "pulled", "v1").digest == image["v1"].digest

    # A new image: its first write is the blob upload, refused before anything is stored.
    refused = run_failing([
        "skopeo", "copy", "--quiet", "--authfile", auth_file, "--dest-tls-verify=false", f"oci:{layout}:other", f"docker://{host}/{shared}:other",
    ])  # fmt: skip
    assert "denied" in refused.stderr
    assert "initiating layer upload" in refused.stderr
    # The image already there under a new tag: blobs exist, the manifest PUT is refused.
    refused = run_failing([
        "skopeo", "copy", "--quiet", "--authfile", auth_file, "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{host}/{shared}:v1-copy",
    ])  # fmt: skip
    assert "denied" in refused.stderr
    assert "writing manifest" in refused.stderr

    owner = identities.password
    assert tags(auth_registry, shared, owner) == ["v1"]
    token = fetch_token(auth_registry, f"repository:{shared}:pull", creds=owner)
    for layer in image["other"].layer_digests:
        assert bearer(auth_registry, f"/v2/{shared}/blobs/{layer}", token, method="HEAD").status_code == 404


def test_team_reader_pulls_with_podman_but_cannot_push(auth_registry, identities, images, shared, podman: Tool):
    _, image = images
    host, reader = auth_registry.host, identities.reader
    podman("login", "-u", reader.username, "-p", reader.secret, host)
    podman("pull", "--quiet", f"{host}/{shared}:v1")
    (info,) = json.loads(podman("image", "inspect", f"{host}/{shared}:v1").stdout)
    assert info["Digest"] == image["v1"].digest

    podman("tag", f"{host}/{shared}:v1", f"{host}/{shared}:from-podman")
    refused = podman.fails("push", "--quiet", f"{host}/{shared}:from-podman")
    assert "denied" in refused.stderr
    assert tags(auth_registry, shared, identities.password) == ["v1"]


def test_team_reader_token_grants_pull_only(auth_registry, identities, shared):
    token = fetch_token(auth_registry, f"repository:{shared}:pull,push,delete", creds=identities.reader)
    assert token_access(token) == [{"type": "repository", "name": shared, "actions": ["pull"]}]
    response = bearer(auth_registry, f"/v2/{shared}/blobs/uploads/", token, method="POST")
    assert response.status_code == 403
    assert response.json() == DENIED_BODY
    # The challenge names the scope a push needs, so a client could ask again.
    assert f'scope="repository:{shared}:pull,push"' in response.headers["WWW-Authenticate"]


# -- READ_ONLY -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frozen(auth_registry, identities, images) -> str:
    layout, _ = images
    name = f"{ORG}/frozen"
    _push_as(auth_registry, identities.password, layout, "v1", name)
    assert repository_update(auth_registry, name, state="READ_ONLY")["state"] == "READ_ONLY"
    return name


@requires("skopeo", "umoci")
def test_skopeo_push_into_a_read_only_repository_is_refused_with_read_only(auth_registry, identities, images, frozen, tmp_path: Path):
    layout, image = images
    host, owner = auth_registry.host, identities.password
    for tag in ("other", "v1"):  # a new image (blob upload refused) and the same one (manifest PUT refused)
        refused = run_failing([
            "skopeo", "copy", "--quiet", "--dest-creds", owner.pair, "--dest-tls-verify=false",
            f"oci:{layout}:{tag}", f"docker://{host}/{frozen}:{tag}-again",
        ])  # fmt: skip
        assert f"repository {frozen} is read-only" in refused.stderr
    assert tags(auth_registry, frozen, owner) == ["v1"]

    # Reads still work.
    skopeo("copy", "--quiet", "--src-creds", owner.pair, "--src-tls-verify=false", f"docker://{host}/{frozen}:v1", f"oci:{tmp_path / 'pulled'}:v1")
    assert layout_image(tmp_path / "pulled", "v1").digest == image["v1"].digest


def test_podman_push_into_a_read_only_repository_is_refused_with_read_only(auth_registry, identities, frozen, podman: Tool):
    host, owner = auth_registry.host, identities.password
    podman("login", "-u", owner.username, "-p", owner.secret, host)
    podman("pull", "--quiet", f"{host}/{frozen}:v1")
    podman("tag", f"{host}/{frozen}:v1", f"{host}/{frozen}:podman")
    refused = podman.fails("push", "--quiet", f"{host}/{frozen}:podman")
    assert "read-only" in refused.stderr
    assert tags(auth_registry, frozen, owner) == ["v1"]


def test_read_only_refusal_over_http_is_denied_with_the_reason(auth_registry, identities, frozen):
    # Even the owner's token asks for push in vain; the refusal says why.
    token = fetch_token(auth_registry, f"repository:{frozen}:pull,push", creds=identities.password)
    assert token_access(token) == [{"type": "repository", "name": frozen, "actions": ["pull"]}]
    for method, path in (("POST", f"/v2/{frozen}/blobs/uploads/"), ("PUT", f"/v2/{frozen}/manifests/v2"), ("DELETE", f"/v2/{frozen}/manifests/v1")):
        response = bearer(auth_registry, path, token, method=method)
        assert response.status_code == 403, (method, path, response.text)
        (error,) = response.json()["errors"]
        assert error["code"] == "DENIED"
        assert error["message"] == f"repository {frozen} is read-only"


# -- public and private ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_and_private(auth_registry, identities, images) -> tuple[str, str]:
    layout, _ = images
    public, private = f"{ORG}/public", f"{ORG}/secret"
    _push_as(auth_registry, identities.password, layout, "v1", public)
    _push_as(auth_registry, identities.password, layout, "v1", private)
    assert repository_update(auth_registry, public, visibility="public")["visibility"] == "public"
    return public, private


@requires("skopeo", "umoci")
def test_anonymous_pull_of_a_public_repository(auth_registry, images, public_and_private, tmp_path: Path):
    _, image = images
    public, _private = public_and_private
    reference = f"docker://{auth_registry.host}/{public}:v1"
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--no-creds", reference).stdout)
    assert inspected["Digest"] == image["v1"].digest
    assert "E2E_LABEL=access v1" in inspected["Env"]
    skopeo("copy", "--quiet", "--src-no-creds", "--src-tls-verify=false", reference, f"oci:{tmp_path / 'pulled'}:v1")
    pulled = layout_image(tmp_path / "pulled", "v1")
    assert pulled.digest == image["v1"].digest and pulled.raw == image["v1"].raw
    # Anonymous tokens carry pull and nothing more.
    token = fetch_token(auth_registry, f"repository:{public}:pull,push")
    assert token_access(token) == [{"type": "repository", "name": public, "actions": ["pull"]}]


@requires("skopeo")
def test_private_repository_is_invisible_to_anonymous_and_outsiders_through_skopeo(auth_registry, identities, public_and_private):
    _, private = public_and_private
    host, outsider = auth_registry.host, identities.outsider
    missing = f"{ORG}/no-such-repo"

    def inspect_fails(name: str, *creds: str) -> str:
        refused = run_failing(["skopeo", "inspect", "--tls-verify=false", *creds, f"docker://{host}/{name}:v1"])
        return refused.stderr.replace(name, "<name>")

    anonymous = inspect_fails(private, "--no-creds")
    assert "unauthorized" in anonymous
    assert anonymous.split("msg=", 1)[1] == inspect_fails(missing, "--no-creds").split("msg=", 1)[1]
    as_outsider = inspect_fails(private, "--creds", outsider.pair)
    assert "denied" in as_outsider
    assert as_outsider.split("msg=", 1)[1] == inspect_fails(missing, "--creds", outsider.pair).split("msg=", 1)[1]
    # The owner sees it, so the refusals above are about who asks.
    assert json.loads(skopeo("inspect", "--tls-verify=false", "--creds", identities.password.pair, f"docker://{host}/{private}:v1").stdout)["Name"]


def _catalog(registry, creds) -> list[str]:
    token = fetch_token(registry, "registry:catalog:*", creds=creds)
    assert token_access(token) == [{"type": "registry", "name": "catalog", "actions": ["*"]}]
    response = bearer(registry, "/v2/_catalog?n=1000", token)
    assert response.status_code == 200, response.text
    return response.json()["repositories"]


def test_catalog_with_an_outsiders_token_lists_public_but_not_private(auth_registry, identities, public_and_private):
    public, private = public_and_private
    outsider_view = _catalog(auth_registry, identities.outsider)
    assert public in outsider_view
    assert private not in outsider_view
    assert all(name == public or not name.startswith(f"{ORG}/") for name in outsider_view)
    owner_view = _catalog(auth_registry, identities.password)
    assert {public, private} <= set(owner_view)
    # Anonymous callers get no catalog grant; the catalog then answers 401 with the challenge.
    anonymous = fetch_token(auth_registry, "registry:catalog:*")
    assert token_access(anonymous) == []
    response = bearer(auth_registry, "/v2/_catalog", anonymous)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED_BODY
    assert 'scope="registry:catalog:*"' in response.headers["WWW-Authenticate"]


def _answers(registry, name: str, *, token: str | None = None, basic: tuple[str, str] | None = None) -> list[tuple]:
    """(status, body, WWW-Authenticate with the name masked) for every read of ``name``."""
    digest = "sha256:" + "0" * 64
    out = []
    for method, path in (
        ("GET", f"/v2/{name}/manifests/v1"), ("HEAD", f"/v2/{name}/manifests/v1"), ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/blobs/{digest}"), ("GET", f"/v2/{name}/referrers/{digest}"),
    ):  # fmt: skip
        headers = {"Accept": ALL_MANIFEST_TYPES}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = requests.request(method, f"{registry.url}{path}", headers=headers, auth=basic, timeout=30)
        body = response.json() if response.content else None
        challenge = response.headers.get("WWW-Authenticate", "")
        out.append((method, path.replace(name, "<name>"), response.status_code, body, challenge.replace(name, "<name>")))
    return out


def test_private_repository_answers_outsiders_exactly_like_a_missing_one(auth_registry, identities, public_and_private):
    """Moorage answers 401 UNAUTHORIZED (with the Bearer challenge) to anonymous callers and 403
    DENIED to authenticated outsiders, for a private repository and a missing one alike."""
    _, private = public_and_private
    outsider = identities.outsider
    missing_repo, missing_namespace = f"{ORG}/no-such-repo", "ghost-org/nothing"

    anonymous = _answers(auth_registry, private)
    assert {(status, json.dumps(body)) for *_, status, body, _ in anonymous} == {(401, json.dumps(UNAUTHORIZED_BODY)), (401, "null")}
    assert all(challenge.startswith("Bearer realm=") for *_, challenge in anonymous)

    scopes = [f"repository:{name}:pull" for name in (private, missing_repo, missing_namespace)]
    token = fetch_token(auth_registry, *scopes, creds=outsider)
    assert token_access(token) == [{"type": "repository", "name": name, "actions": []} for name in (private, missing_repo, missing_namespace)]
    with_token = _answers(auth_registry, private, token=token)
    with_basic = _answers(auth_registry, private, basic=outsider.basic)
    assert {(status, json.dumps(body)) for *_, status, body, _ in with_token} == {(403, json.dumps(DENIED_BODY)), (403, "null")}

    for name in (missing_repo, missing_namespace):
        assert _answers(auth_registry, name) == anonymous
        assert _answers(auth_registry, name, token=token) == with_token
        assert _answers(auth_registry, name, basic=outsider.basic) == with_basic
        # The token service grants the same nothing, anonymous or not.
        assert token_access(fetch_token(auth_registry, f"repository:{name}:pull")) == [{"type": "repository", "name": name, "actions": []}]
    assert token_access(fetch_token(auth_registry, f"repository:{private}:pull")) == [{"type": "repository", "name": private, "actions": []}]

    # The owner, for contrast, reads the private repository.
    assert manifest_digest(auth_registry, private, "v1", identities.password).startswith("sha256:")
