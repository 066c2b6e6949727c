"""``GET /v2/auth``, the Docker token service, against a live server with access control on:
scope grammar, downscoping, anonymous tokens, and what the issued token is."""

from __future__ import annotations

import jwt
import pytest

from tests.identity.helpers import bearer, claims_of, error_codes, granted, token, token_response

pytestmark = pytest.mark.live


@pytest.fixture
def base(live_world) -> str:
    return live_world.url


@pytest.fixture
def alice(live_world) -> tuple[str, str]:
    return live_world.login("alice")


# -- credentials -----------------------------------------------------------------------------
def test_a_request_without_credentials_or_scope_is_refused_with_401(http, base):
    response = token_response(http, base)

    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]
    assert response.headers["WWW-Authenticate"]


def test_a_wrong_password_is_refused_with_401(http, base):
    response = token_response(http, base, "repository:alice/private:pull", auth=("alice", "not-her-password"))

    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]


@pytest.mark.parametrize("auth", [None, ("alice", "not-her-password")], ids=["no-credentials", "wrong-password"])
def test_the_token_service_challenges_for_basic_credentials(http, base, auth):
    response = token_response(http, base, auth=auth)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_an_unknown_user_is_refused_with_401(http, base):
    response = token_response(http, base, "repository:alice/private:pull", auth=("nobody-here", "whatever-password"))

    assert response.status_code == 401


def test_a_non_basic_authorization_header_is_refused_with_401(http, base):
    response = http.get(f"{base}/v2/auth", params={"scope": "repository:alice/private:pull"}, headers={"Authorization": "Token abc"})

    assert response.status_code == 401


def test_docker_login_without_a_scope_gets_a_token_granting_nothing(http, base, alice):
    response = token_response(http, base, auth=alice)

    assert response.status_code == 200
    assert claims_of(response.json()["token"])["access"] == []


def test_a_token_obtained_with_a_password_works_on_v2(http, base, live_world):
    jwt_token = token(http, base, "repository:alice/private:pull", auth=("alice", live_world.password))

    response = http.get(f"{base}/v2/alice/private/manifests/v1", headers={**bearer(jwt_token), "Accept": "application/vnd.oci.image.manifest.v1+json"})

    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == live_world.images["alice/private"]


def test_the_response_carries_token_access_token_expiry_and_issue_time(http, base, alice):
    body = token_response(http, base, "repository:alice/private:pull", auth=alice).json()

    assert body["token"] == body["access_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] >= 60
    assert body["issued_at"].endswith("Z")


def test_the_token_is_an_rs256_jwt_for_this_registry_naming_its_signing_key(http, base, alice):
    jwt_token = token(http, base, "repository:alice/private:pull", auth=alice)

    header = jwt.get_unverified_header(jwt_token)
    claims = claims_of(jwt_token)
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["aud"] == base.split("//")[1]
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == token_response(http, base, auth=alice).json()["expires_in"]


def test_offline_token_true_adds_a_refresh_token(http, base, alice):
    response = token_response(http, base, "repository:alice/private:pull", auth=alice, offline_token="true")

    assert claims_of(response.json()["refresh_token"])["typ"] == "refresh"


# -- scope grammar ---------------------------------------------------------------------------
def test_a_valid_scope_is_granted(http, base, alice):
    assert granted(http, base, "repository:alice/private:pull,push", auth=alice) == [
        {"type": "repository", "name": "alice/private", "actions": ["pull", "push"]}
    ]


def test_several_scope_parameters_are_each_granted(http, base, alice):
    access = granted(http, base, "repository:alice/private:pull", "repository:alice/public:push", auth=alice)

    assert access == [
        {"type": "repository", "name": "alice/private", "actions": ["pull"]},
        {"type": "repository", "name": "alice/public", "actions": ["push"]},
    ]


def test_space_separated_scopes_in_one_parameter_are_each_granted(http, base, alice):
    access = granted(http, base, "repository:alice/private:pull repository:alice/public:pull", auth=alice)

    assert [entry["name"] for entry in access] == ["alice/private", "alice/public"]


def test_the_catalog_scope_is_granted_to_a_signed_in_user(http, base, alice):
    assert granted(http, base, "registry:catalog:*", auth=alice) == [{"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_the_catalog_scope_is_silently_dropped_for_anonymous_callers(http, base):
    assert granted(http, base, "registry:catalog:*") == []


def test_the_star_action_is_granted_whole_to_an_admin(http, base, alice):
    assert granted(http, base, "repository:alice/private:*", auth=alice)[0]["actions"] == ["*"]


def test_the_star_action_is_split_into_what_a_reader_may_do(http, base, live_world):
    access = granted(http, base, "repository:alice/private:*", auth=live_world.login("carol"))

    assert access[0]["actions"] == ["pull"]


@pytest.mark.parametrize(
    "scope",
    [
        "repository:alice/private",
        "repository:alice/private:",
        "repo:alice/private:pull",
        "repository::pull",
        "repository:alice/private:pull,",
        "repository:alice/private:fly",
        "registry:catalog:pull",
        "registry:catalog",
    ],
)
def test_a_malformed_scope_is_refused_with_400(http, base, alice, scope):
    response = token_response(http, base, scope, auth=alice)

    assert response.status_code == 400
    assert error_codes(response) == ["INVALID_REQUEST"]


@pytest.mark.parametrize("name", ["Alice/Private", "alice//private", "alice/private/", "-alice/private", "alice/pri vate", "a" * 256])
def test_a_scope_naming_an_invalid_repository_is_refused_with_400(http, base, alice, name):
    response = token_response(http, base, f"repository:{name}:pull", auth=alice)

    assert response.status_code == 400
    assert error_codes(response) in (["NAME_INVALID"], ["INVALID_REQUEST"])


# -- downscoping -----------------------------------------------------------------------------
def test_actions_the_caller_may_not_perform_are_silently_dropped(http, base, live_world):
    access = granted(http, base, "repository:alice/private:pull,push,delete", auth=live_world.login("carol"))

    assert access == [{"type": "repository", "name": "alice/private", "actions": ["pull"]}]


def test_a_caller_without_any_role_gets_a_token_with_no_actions(http, base, live_world):
    access = granted(http, base, "repository:alice/private:pull,push", auth=live_world.login("bob"))

    assert access == [{"type": "repository", "name": "alice/private", "actions": []}]


def test_push_is_dropped_on_a_read_only_repository_even_for_its_owner(http, base, alice):
    assert granted(http, base, "repository:alice/frozen:pull,push", auth=alice)[0]["actions"] == ["pull"]


def test_a_robot_token_is_granted_what_the_robot_may_do(http, base, live_world):
    access = granted(http, base, "repository:acme/shared:pull,push,*", "repository:alice/private:pull", auth=("acme+ci", live_world.robot_token))

    assert access == [
        {"type": "repository", "name": "acme/shared", "actions": ["pull", "push", "delete"]},
        {"type": "repository", "name": "alice/private", "actions": []},
    ]


# -- anonymous -------------------------------------------------------------------------------
def test_an_anonymous_token_grants_pull_of_public_repositories_only(http, base):
    access = granted(http, base, "repository:alice/public:pull,push", "repository:alice/private:pull")

    assert access == [
        {"type": "repository", "name": "alice/public", "actions": ["pull"]},
        {"type": "repository", "name": "alice/private", "actions": []},
    ]


def test_an_anonymous_token_pulls_a_public_image(http, base, live_world):
    jwt_token = token(http, base, "repository:alice/public:pull")

    response = http.get(f"{base}/v2/alice/public/tags/list", headers=bearer(jwt_token))

    assert response.status_code == 200
    assert response.json()["tags"] == ["v1"]


def test_an_anonymous_token_cannot_create_a_repository(http, base, live_world):
    access = granted(http, base, "repository:alice/anon-made:pull,push")

    assert access[0]["actions"] == []
    assert live_world.query("Repository.objects.filter(full_name='alice/anon-made').exists()", "from repositories.models import Repository") is False
