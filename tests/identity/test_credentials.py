"""What counts as credentials: passwords, app tokens (with the user name or ``$app``), robot
tokens, HTTP Basic directly on /v2, and the OAuth2 grants of ``POST /v2/auth``."""

from __future__ import annotations

import pytest

from tests.identity.helpers import bearer, claims_of, error_codes, push_blob, token_response

pytestmark = pytest.mark.live


def _altered(secret: str) -> str:
    """The secret with its last character changed (never equal to the original)."""
    return secret[:-1] + ("y" if secret.endswith("x") else "x")

PRIVATE_PULL = "repository:alice/private:pull"


@pytest.fixture
def base(live_world) -> str:
    return live_world.url


def oauth2(http, base, **fields: str):
    return http.post(f"{base}/v2/auth", data={"service": base.split("//")[1], "client_id": "tests", **fields})


# -- app tokens ------------------------------------------------------------------------------
def test_an_app_token_with_the_user_name_acts_as_that_user(http, base, live_world):
    response = token_response(http, base, PRIVATE_PULL, auth=("alice", live_world.app_tokens["alice"]))

    assert response.status_code == 200
    assert claims_of(response.json()["token"])["sub"] == "alice"


def test_an_app_token_with_the_app_user_name_acts_as_its_owner(http, base, live_world):
    response = token_response(http, base, PRIVATE_PULL, auth=("$app", live_world.app_tokens["alice"]))

    claims = claims_of(response.json()["token"])
    assert claims["sub"] == "alice"
    assert claims["access"][0]["actions"] == ["pull"]


def test_an_app_token_with_another_users_name_is_refused(http, base, live_world):
    response = token_response(http, base, PRIVATE_PULL, auth=("bob", live_world.app_tokens["alice"]))

    assert response.status_code == 401


@pytest.mark.parametrize("username", ["alice", "$app"])
def test_an_expired_app_token_is_refused(http, base, live_world, username):
    response = token_response(http, base, PRIVATE_PULL, auth=(username, live_world.expired_app_token))

    assert response.status_code == 401


# -- robots ----------------------------------------------------------------------------------
def test_a_robot_token_logs_the_robot_in(http, base, live_world):
    response = token_response(http, base, "repository:acme/shared:push", auth=("acme+ci", live_world.robot_token))

    claims = claims_of(response.json()["token"])
    assert claims["sub"] == "acme+ci"
    assert claims["access"][0]["actions"] == ["push"]


def test_a_wrong_robot_token_is_refused(http, base, live_world):
    response = token_response(http, base, "repository:acme/shared:pull", auth=("acme+ci", _altered(live_world.robot_token)))

    assert response.status_code == 401


def test_a_robot_token_under_another_robots_name_is_refused(http, base, live_world):
    response = token_response(http, base, "repository:acme/shared:pull", auth=("acme+other", live_world.robot_token))

    assert response.status_code == 401


def test_a_robot_pushes_with_basic_credentials_where_it_has_write(http, base, live_world):
    response = push_blob(http, base, "acme/shared", b"from the ci robot", auth=("acme+ci", live_world.robot_token))

    assert response.status_code == 201


# -- HTTP Basic directly on /v2 ----------------------------------------------------------------
def test_basic_credentials_open_the_v2_base_endpoint(http, base, live_world):
    assert http.get(f"{base}/v2/", auth=("alice", live_world.password)).status_code == 200


def test_basic_credentials_pull_a_private_manifest(http, base, live_world):
    response = http.get(
        f"{base}/v2/alice/private/manifests/v1", auth=("carol", live_world.password), headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
    )

    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == live_world.images["alice/private"]


def test_wrong_basic_credentials_on_v2_get_401_with_the_bearer_challenge(http, base):
    response = http.get(f"{base}/v2/alice/private/tags/list", auth=("alice", "wrong-password-here"))

    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHORIZED"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_malformed_basic_credentials_on_v2_get_401(http, base):
    response = http.get(f"{base}/v2/", headers={"Authorization": "Basic !!!not-base64"})

    assert response.status_code == 401


def test_an_unknown_authorization_scheme_on_v2_gets_401(http, base):
    response = http.get(f"{base}/v2/", headers={"Authorization": "Digest username=alice"})

    assert response.status_code == 401


# -- POST /v2/auth: OAuth2 password and refresh_token grants ---------------------------------
def test_the_password_grant_issues_an_access_token_with_the_granted_scope(http, base, live_world):
    response = oauth2(http, base, grant_type="password", username="carol", password=live_world.password, scope="repository:alice/private:pull,push")

    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "repository:alice/private:pull"
    assert "refresh_token" not in body
    assert http.get(f"{base}/v2/alice/private/tags/list", headers=bearer(body["access_token"])).status_code == 200


def test_the_password_grant_with_offline_access_adds_a_refresh_token(http, base, live_world):
    response = oauth2(http, base, grant_type="password", username="alice", password=live_world.password, access_type="offline")

    assert claims_of(response.json()["refresh_token"])["typ"] == "refresh"


def test_the_password_grant_with_a_wrong_password_is_refused(http, base):
    response = oauth2(http, base, grant_type="password", username="alice", password="not-her-password")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_the_refresh_token_grant_issues_a_fresh_access_token(http, base, live_world):
    refresh = oauth2(http, base, grant_type="password", username="alice", password=live_world.password, access_type="offline").json()["refresh_token"]

    response = oauth2(http, base, grant_type="refresh_token", refresh_token=refresh, scope=PRIVATE_PULL)

    assert response.status_code == 200
    assert response.json()["scope"] == PRIVATE_PULL
    assert http.get(f"{base}/v2/alice/private/tags/list", headers=bearer(response.json()["access_token"])).status_code == 200


def test_the_refresh_token_grant_is_refused_after_the_password_changes(http, base, live_world):
    refresh = oauth2(http, base, grant_type="password", username="frank", password=live_world.password, access_type="offline").json()["refresh_token"]
    assert oauth2(http, base, grant_type="refresh_token", refresh_token=refresh).status_code == 200

    live_world.shell("from accounts.models import User\nu = User.objects.get(username='frank')\nu.set_password('a-brand-new-password')\nu.save()")
    response = oauth2(http, base, grant_type="refresh_token", refresh_token=refresh)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_the_refresh_token_grant_refuses_a_garbage_token(http, base):
    response = oauth2(http, base, grant_type="refresh_token", refresh_token="garbage.token.here")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_the_refresh_token_grant_refuses_an_access_token(http, base, live_world):
    access = oauth2(http, base, grant_type="password", username="alice", password=live_world.password).json()["access_token"]

    response = oauth2(http, base, grant_type="refresh_token", refresh_token=access)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_unknown_grant_type_is_refused(http, base):
    response = oauth2(http, base, grant_type="client_credentials")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_a_malformed_scope_in_an_oauth2_request_is_refused(http, base, live_world):
    response = oauth2(http, base, grant_type="password", username="alice", password=live_world.password, scope="repository:alice")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_an_app_token_works_as_the_password_of_the_password_grant(http, base, live_world):
    response = oauth2(http, base, grant_type="password", username="$app", password=live_world.app_tokens["carol"], scope=PRIVATE_PULL)

    assert response.json()["scope"] == PRIVATE_PULL



@pytest.mark.parametrize("obtained_by", ["oauth2-password-grant", "docker-offline-token"])
def test_a_refresh_token_obtained_with_an_app_token_dies_when_the_app_token_is_revoked(http, base, live_world, obtained_by):
    app_token = live_world.query(
        "app_token_create(user=User.objects.get(username='alice'), title='revoked soon').token",
        "from accounts.models import User\nfrom accounts.services import app_token_create",
    )
    if obtained_by == "oauth2-password-grant":
        refresh = oauth2(http, base, grant_type="password", username="$app", password=app_token, access_type="offline").json()["refresh_token"]
    else:
        refresh = token_response(http, base, auth=("alice", app_token), offline_token="true").json()["refresh_token"]
    assert oauth2(http, base, grant_type="refresh_token", refresh_token=refresh).status_code == 200

    live_world.shell(f"from accounts.models import AppToken\nfrom accounts.services import app_token_revoke\napp_token_revoke(app_token=AppToken.objects.get(token_prefix={app_token[:16]!r}))")
    response = oauth2(http, base, grant_type="refresh_token", refresh_token=refresh)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_refresh_token_obtained_with_a_password_survives_an_unrelated_app_token_revocation(http, base, live_world):
    refresh = oauth2(http, base, grant_type="password", username="carol", password=live_world.password, access_type="offline").json()["refresh_token"]
    live_world.shell(
        "from accounts.models import User\nfrom accounts.services import app_token_create, app_token_revoke\n"
        "app_token_revoke(app_token=app_token_create(user=User.objects.get(username='carol'), title='spare').app_token)"
    )

    assert oauth2(http, base, grant_type="refresh_token", refresh_token=refresh).status_code == 200
