"""Failed-login throttling: after repeated failures a user name (5) or a client address (20) is
answered 429 with ``Retry-After``, on /v2 (Basic) and on both forms of /v2/auth.

Every test runs from its own loopback source address (the ``http`` fixture), and the user names
that get locked out are unique, so no lockout leaks into another test or a later run sharing Redis.
"""

from __future__ import annotations

import random
import time
import uuid

import pytest
import requests

from tests.identity.helpers import SourceAddressAdapter, error_codes, token_response

pytestmark = pytest.mark.live

USER_THRESHOLD = 5
ADDRESS_THRESHOLD = 20


@pytest.fixture
def base(live_world) -> str:
    return live_world.url


def ghost_robot() -> str:
    """A robot name nobody has (refused without hashing a password: fast failures)."""
    return f"acme+ghost{uuid.uuid4().hex[:10]}"


def retry_after(response: requests.Response) -> int:
    assert response.status_code == 429, response.text
    value = int(response.headers["Retry-After"])
    assert 1 <= value <= 300
    return value


def test_a_user_name_is_locked_out_after_repeated_failures_on_v2(http, base, live_world):
    user = live_world.throttled_user
    for _ in range(USER_THRESHOLD):
        assert http.get(f"{base}/v2/", auth=(user, "wrong-password")).status_code == 401

    response = http.get(f"{base}/v2/", auth=(user, live_world.password))  # even the right password waits

    retry_after(response)
    assert error_codes(response) == ["TOOMANYREQUESTS"]


def test_the_lockout_ends_after_retry_after(http, base, live_world):
    robot = ghost_robot()
    for _ in range(USER_THRESHOLD):
        token_response(http, base, auth=(robot, "wrong"))
    wait = retry_after(token_response(http, base, auth=(robot, "wrong")))

    time.sleep(wait)

    assert token_response(http, base, auth=(robot, "wrong")).status_code == 401


def test_a_locked_out_user_name_does_not_block_other_users_from_the_same_address(http, base, live_world):
    robot = ghost_robot()
    for _ in range(USER_THRESHOLD):
        token_response(http, base, auth=(robot, "wrong"))

    assert token_response(http, base, auth=(robot, "wrong")).status_code == 429
    assert token_response(http, base, auth=live_world.login("carol")).status_code == 200


def test_an_address_is_locked_out_after_repeated_failures_with_different_user_names(http, base, live_world):
    for _ in range(ADDRESS_THRESHOLD):
        assert token_response(http, base, auth=(ghost_robot(), "wrong")).status_code == 401

    retry_after(token_response(http, base, auth=live_world.login("carol")))


def test_an_address_lockout_does_not_block_another_address(http, base, live_world):
    for _ in range(ADDRESS_THRESHOLD):
        token_response(http, base, auth=(ghost_robot(), "wrong"))
    with requests.Session() as elsewhere:
        elsewhere.mount("http://", SourceAddressAdapter(f"127.0.{random.randrange(2, 255)}.{random.randrange(1, 255)}"))

        assert token_response(elsewhere, base, auth=live_world.login("carol")).status_code == 200


def test_the_token_service_answers_429_with_retry_after_while_locked_out(http, base):
    robot = ghost_robot()
    for _ in range(USER_THRESHOLD):
        assert token_response(http, base, "repository:acme/shared:pull", auth=(robot, "wrong")).status_code == 401

    response = token_response(http, base, "repository:acme/shared:pull", auth=(robot, "wrong"))

    retry_after(response)
    assert error_codes(response) == ["TOOMANYREQUESTS"]


def test_the_oauth2_password_grant_answers_429_slow_down_while_locked_out(http, base):
    robot = ghost_robot()
    for _ in range(USER_THRESHOLD):
        http.post(f"{base}/v2/auth", data={"grant_type": "password", "username": robot, "password": "wrong"})

    response = http.post(f"{base}/v2/auth", data={"grant_type": "password", "username": robot, "password": "wrong"})

    retry_after(response)
    assert response.json()["error"] == "slow_down"


def test_a_successful_login_resets_the_failure_count_of_the_user_name(http, base, live_world):
    user = live_world.resettable_user
    for _ in range(USER_THRESHOLD - 1):
        assert token_response(http, base, auth=(user, "wrong")).status_code == 401
    assert token_response(http, base, auth=live_world.login(user)).status_code == 200

    for _ in range(USER_THRESHOLD - 1):
        assert token_response(http, base, auth=(user, "wrong")).status_code == 401
    assert token_response(http, base, auth=live_world.login(user)).status_code == 200
