"""Scope escalation on /v2 and /v2/auth against a real server with access control on: a token for
one repository used on another (same namespace, other namespace), a pull token used to push, a
robot of organization ``acme`` reaching into ``alice``, widened claims, wildcard and traversal
names in scopes, oversized and repeated scopes. Every attempt is refused (401/403 with an OCI
error body and a ``WWW-Authenticate: Bearer`` challenge, or a token that grants nothing) and
never a 5xx. The forged-signature, ``alg: none``, expired and other-key cases live in
tests/identity/test_bearer_tokens.py; this file is about what a *valid* token may reach."""

from __future__ import annotations

import json
import os

import pytest

from tests.identity.conftest import http, identity_registry, live_world, source_ip  # noqa: F401 - shared live fixtures
from tests.identity.helpers import bearer, challenge, claims_of, digest_of, error_codes, tampered, token, token_response

pytestmark = pytest.mark.live

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def base(live_world) -> str:  # noqa: F811
    return live_world.url


def assert_refused(response, *, statuses=(401, 403), challenged: bool = True) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert error_codes(response)[0] in ("UNAUTHORIZED", "DENIED", "NAME_UNKNOWN"), response.text
    if challenged:  # a Basic principal refused for lack of a role is a plain 403 DENIED
        assert challenge(response)["realm"].endswith("/v2/auth")


def pull_manifest(http, base, name: str, jwt_token: str):  # noqa: F811
    return http.get(f"{base}/v2/{name}/manifests/v1", headers={**bearer(jwt_token), "Accept": OCI_MANIFEST})


def push_blob_with(http, base, name: str, jwt_token: str):  # noqa: F811
    data = os.urandom(64)
    return http.post(f"{base}/v2/{name}/blobs/uploads/", params={"digest": digest_of(data)}, data=data, headers=bearer(jwt_token))


# -- a valid token used beyond its scope -----------------------------------------------------------
def test_a_token_for_one_repository_does_not_open_another_in_the_same_namespace(http, base, live_world):  # noqa: F811
    public_only = token(http, base, "repository:alice/public:pull", auth=live_world.login("carol"))

    assert pull_manifest(http, base, "alice/public", public_only).status_code == 200  # the control
    assert_refused(pull_manifest(http, base, "alice/private", public_only))
    assert_refused(pull_manifest(http, base, "alice/frozen", public_only))


def test_a_token_for_one_namespace_does_not_open_another_namespace(http, base, live_world):  # noqa: F811
    alices = token(http, base, "repository:alice/private:pull", auth=live_world.login("alice"))

    assert_refused(pull_manifest(http, base, "acme/shared", alices))
    assert_refused(push_blob_with(http, base, "acme/shared", alices))


def test_a_pull_token_cannot_push_even_where_the_user_may_push(http, base, live_world):  # noqa: F811
    pull_only = token(http, base, "repository:alice/private:pull", auth=live_world.login("alice"))

    response = push_blob_with(http, base, "alice/private", pull_only)

    assert_refused(response)
    assert 'scope="repository:alice/private:pull,push"' in response.headers["WWW-Authenticate"]


def test_a_reader_asking_for_push_gets_a_token_without_it_and_the_push_is_refused(http, base, live_world):  # noqa: F811
    asked = token(http, base, "repository:alice/private:pull,push,delete,*", auth=live_world.login("carol"))

    assert claims_of(asked)["access"] == [{"type": "repository", "name": "alice/private", "actions": ["pull"]}]
    assert_refused(push_blob_with(http, base, "alice/private", asked))
    delete = http.delete(f"{base}/v2/alice/private/manifests/{live_world.images['alice/private']}", headers=bearer(asked))
    assert_refused(delete)


def test_a_robot_of_one_organization_gets_nothing_in_another_namespace(http, base, live_world):  # noqa: F811
    robot = ("acme+ci", live_world.robot_token)
    asked = token(http, base, "repository:alice/private:pull,push", "repository:acme/shared:pull,push", auth=robot)

    access = {entry["name"]: entry["actions"] for entry in claims_of(asked)["access"]}
    assert access.get("alice/private", []) == []
    assert set(access["acme/shared"]) == {"pull", "push"}
    assert_refused(pull_manifest(http, base, "alice/private", asked))
    basic = http.get(f"{base}/v2/alice/private/tags/list", auth=robot)
    assert_refused(basic, statuses=(403,), challenged=False)


def test_a_robot_cannot_create_a_repository_in_another_namespace(http, base, live_world):  # noqa: F811
    robot = ("acme+ci", live_world.robot_token)
    asked = token(http, base, "repository:alice/robot-made:pull,push", auth=robot)

    assert_refused(push_blob_with(http, base, "alice/robot-made", asked))
    assert not live_world.query("Repository.objects.filter(full_name='alice/robot-made').exists()", "from repositories.models import Repository")


def test_a_token_with_a_widened_access_claim_is_refused(http, base, live_world):  # noqa: F811
    real = token(http, base, "repository:alice/public:pull", auth=live_world.login("carol"))
    widened = tampered(real, access=[{"type": "repository", "name": "acme/shared", "actions": ["pull", "push"]}])
    other_subject = tampered(real, sub="alice", context={"kind": "user", "name": "alice"})

    assert_refused(pull_manifest(http, base, "acme/shared", widened))
    assert_refused(pull_manifest(http, base, "alice/public", other_subject), statuses=(401,))


# -- hostile scopes --------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", [
    "repository:alice/*:pull",
    "repository:*:pull",
    "repository:alice/../acme/shared:push",
    "repository:alice/%2e%2e/acme:pull",
    "repository:ALICE/private:pull",
    "repository:alice/private:pull:push",
    "repository:alice/priv\u00e4te:pull",
    "repository:alice/private\x00:pull",
    "repository:" + "a/" * 200 + "b:pull",
    "repository:alice/private:" + "pull," * 2000 + "push",
    "registry:catalog:*,push",
    "x" * 20000,
], ids=lambda scope: scope[:40])
def test_hostile_scopes_are_refused_or_grant_nothing(http, base, live_world, scope):  # noqa: F811
    response = token_response(http, base, scope, auth=live_world.login("carol"))

    assert response.status_code < 500, response.text
    if response.status_code == 200:
        for entry in claims_of(response.json()["token"])["access"]:
            assert entry["actions"] == [] or (entry["name"] in ("alice/private", "alice/public") and entry["actions"] == ["pull"]), entry
    else:
        assert response.status_code in (400, 401, 414), response.text
        if "Request Line is too large" not in response.text:  # gunicorn's own refusal, before the app
            assert json.loads(response.text)["errors"][0]["code"] in ("INVALID_REQUEST", "NAME_INVALID", "UNAUTHORIZED")


def test_many_scope_parameters_do_not_crash_the_token_service(http, base, live_world):  # noqa: F811
    scopes = [f"repository:alice/r{i}:pull" for i in range(200)] + ["repository:acme/shared:push"]

    response = token_response(http, base, *scopes, auth=live_world.login("carol"))

    assert response.status_code in (200, 400, 414), response.text
    if response.status_code == 200:
        assert all(entry["actions"] == [] for entry in claims_of(response.json()["token"])["access"] if entry["name"] != "alice/private")


def test_an_anonymous_caller_gets_no_push_anywhere(http, base):  # noqa: F811
    response = token_response(http, base, "repository:alice/public:pull,push", "repository:acme/shared:push")

    assert response.status_code == 200, response.text
    access = {entry["name"]: entry["actions"] for entry in claims_of(response.json()["token"])["access"]}
    assert access.get("alice/public") == ["pull"] and not access.get("acme/shared")
