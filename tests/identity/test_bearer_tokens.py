"""Bearer tokens on /v2: forged, expired or foreign tokens are refused with the Bearer challenge;
missing grants produce 401 (anonymous) or 403 DENIED (a token lacking the scope), and the
challenge names the scope to ask for."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from tests.identity.helpers import (
    bearer,
    challenge,
    digest_of,
    error_codes,
    hs256_token,
    other_private_key,
    push_blob,
    signing_key,
    tampered,
    token,
    unsigned_token,
    valid_claims,
)

pytestmark = pytest.mark.live

PULL_PRIVATE = [{"type": "repository", "name": "alice/private", "actions": ["pull"]}]


@pytest.fixture(scope="module")
def real_key(live_world) -> tuple[str, str]:
    requests.get(f"{live_world.url}/v2/auth", params={"scope": "repository:alice/public:pull"})  # makes sure a key exists
    return signing_key(live_world)


@pytest.fixture
def base(live_world) -> str:
    return live_world.url


@pytest.fixture
def audience(base) -> str:
    return base.split("//")[1]


def tags_of_private(http, base, jwt_token):
    return http.get(f"{base}/v2/alice/private/tags/list", headers=bearer(jwt_token))


def assert_refused_with_challenge(response, base):
    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]
    params = challenge(response)
    assert params["realm"] == f"{base}/v2/auth"
    assert params["service"] == base.split("//")[1]


def test_a_token_signed_by_the_registry_key_with_valid_claims_is_accepted(http, base, real_key, audience):
    """The control case: the forging helpers produce tokens the server accepts when nothing is wrong."""
    kid, private_pem = real_key
    forged = jwt.encode(valid_claims(audience, PULL_PRIVATE), private_pem, algorithm="RS256", headers={"kid": kid})

    assert tags_of_private(http, base, forged).status_code == 200


def test_an_expired_token_is_refused(http, base, real_key, audience):
    kid, private_pem = real_key
    now = int(time.time())
    expired = jwt.encode(valid_claims(audience, PULL_PRIVATE, iat=now - 700, nbf=now - 700, exp=now - 100), private_pem, algorithm="RS256", headers={"kid": kid})

    assert_refused_with_challenge(tags_of_private(http, base, expired), base)


def test_a_token_for_another_audience_is_refused(http, base, real_key):
    kid, private_pem = real_key
    foreign = jwt.encode(valid_claims("registry.example.com", PULL_PRIVATE), private_pem, algorithm="RS256", headers={"kid": kid})

    assert_refused_with_challenge(tags_of_private(http, base, foreign), base)


def test_a_token_from_another_issuer_is_refused(http, base, real_key, audience):
    kid, private_pem = real_key
    foreign = jwt.encode(valid_claims(audience, PULL_PRIVATE, iss="someone-else"), private_pem, algorithm="RS256", headers={"kid": kid})

    assert_refused_with_challenge(tags_of_private(http, base, foreign), base)


def test_a_token_signed_by_another_key_under_the_registry_key_id_is_refused(http, base, real_key, audience):
    kid, _ = real_key
    forged = jwt.encode(valid_claims(audience, PULL_PRIVATE), other_private_key(), algorithm="RS256", headers={"kid": kid})

    assert_refused_with_challenge(tags_of_private(http, base, forged), base)


def test_a_token_signed_by_an_unknown_key_is_refused(http, base, audience):
    forged = jwt.encode(valid_claims(audience, PULL_PRIVATE), other_private_key(), algorithm="RS256", headers={"kid": "f" * 32})

    assert_refused_with_challenge(tags_of_private(http, base, forged), base)


def test_an_unsigned_alg_none_token_is_refused(http, base, real_key, audience):
    kid, _ = real_key

    assert_refused_with_challenge(tags_of_private(http, base, unsigned_token(valid_claims(audience, PULL_PRIVATE), kid)), base)


def test_an_hs256_token_keyed_with_the_public_key_is_refused(http, base, live_world, real_key, audience):
    kid, _ = real_key
    public_pem = live_world.query(f"SigningKey.objects.get(kid={kid!r}).public_key_pem", "from accounts.models import SigningKey")
    confused = hs256_token(valid_claims(audience, PULL_PRIVATE), kid, secret=public_pem.encode())

    assert_refused_with_challenge(tags_of_private(http, base, confused), base)


def test_a_token_with_edited_claims_is_refused(http, base, live_world):
    real = token(http, base, "repository:alice/public:pull", auth=live_world.login("bob"))
    widened = tampered(real, access=[{"type": "repository", "name": "alice/private", "actions": ["pull", "push"]}])

    assert_refused_with_challenge(tags_of_private(http, base, widened), base)


def test_a_garbage_bearer_token_is_refused(http, base):
    assert_refused_with_challenge(tags_of_private(http, base, "not.a.jwt"), base)


def test_a_refresh_token_is_not_accepted_as_a_bearer_token(http, base, live_world):
    response = http.get(f"{base}/v2/auth", params={"scope": "repository:alice/private:pull", "offline_token": "true"}, auth=live_world.login("alice"))
    refresh = response.json()["refresh_token"]

    assert_refused_with_challenge(tags_of_private(http, base, refresh), base)


# -- challenges naming the scope -------------------------------------------------------------
def test_anonymous_access_to_v2_is_answered_with_the_bearer_challenge(http, base):
    response = http.get(f"{base}/v2/")

    assert_refused_with_challenge(response, base)
    assert "scope" not in challenge(response)


def test_anonymous_pull_of_a_private_repository_gets_401_naming_the_pull_scope(http, base):
    response = http.get(f"{base}/v2/alice/private/manifests/v1")

    assert_refused_with_challenge(response, base)
    assert challenge(response)["scope"] == "repository:alice/private:pull"


def test_a_token_for_another_repository_gets_403_denied_with_the_challenge(http, base, live_world):
    other = token(http, base, "repository:alice/public:pull", auth=live_world.login("alice"))

    response = tags_of_private(http, base, other)

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert challenge(response)["scope"] == "repository:alice/private:pull"


def test_an_upload_with_a_pull_only_token_gets_403_denied_naming_pull_and_push(http, base, live_world):
    pull_only = token(http, base, "repository:alice/private:pull", auth=live_world.login("alice"))

    response = push_blob(http, base, "alice/private", b"layer", headers=bearer(pull_only))

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert challenge(response)["scope"] == "repository:alice/private:pull,push"


def test_an_upload_with_a_push_token_is_accepted(http, base, live_world):
    push = token(http, base, "repository:alice/private:pull,push", auth=live_world.login("alice"))

    response = push_blob(http, base, "alice/private", b"pushed with a bearer token", headers=bearer(push))

    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest_of(b"pushed with a bearer token")


def test_a_mount_names_the_source_repository_pull_scope_in_the_challenge(http, base):
    response = http.post(
        f"{base}/v2/alice/mounted/blobs/uploads/", params={"mount": digest_of(b"anything"), "from": "alice/private"}
    )

    assert_refused_with_challenge(response, base)
    assert challenge(response)["scope"].split(" ") == ["repository:alice/mounted:pull,push", "repository:alice/private:pull"]


def test_a_basic_principal_without_permission_gets_403_denied(http, base, live_world):
    response = http.get(f"{base}/v2/alice/private/tags/list", auth=live_world.login("bob"))

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
