"""In-process checks of the credential and token primitives: ``credentials_verify``, login
throttling, registry JWTs and the principal a verified token becomes."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import jwt
import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import throttle
from accounts.registry_tokens import InvalidTokenError, forget_cached_keys, signing_key_current, token_issue, token_verify
from accounts.services import app_token_create, credentials_verify, principal_reload, robot_create, robot_regenerate_token, user_create
from oci.auth import principal_from_claims
from organizations.services import organization_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def alice():
    return user_create(username="alice", password=PASSWORD)


@pytest.fixture
def robot():
    organization = organization_create(name="acme", creator=None)
    return robot_create(namespace=organization.namespace, shortname="ci")


# -- credentials_verify ----------------------------------------------------------------------
def test_a_password_verifies_as_the_user(alice):
    principal = credentials_verify(username="alice", password=PASSWORD)

    assert (principal.kind, principal.id, principal.via, principal.namespace_id) == ("user", alice.pk, "password", alice.namespace_id)


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("bob", PASSWORD), ("", PASSWORD), ("alice", ""), ("alice", "x" * 2000)])
def test_wrong_or_missing_credentials_verify_as_nobody(alice, username, password):
    assert credentials_verify(username=username, password=password) is None


def test_a_disabled_user_cannot_sign_in(alice):
    alice.is_active = False
    alice.save()

    assert credentials_verify(username="alice", password=PASSWORD) is None


def test_an_app_token_verifies_with_the_user_name_or_app(alice):
    secret = app_token_create(user=alice, title="cli").token

    assert credentials_verify(username="alice", password=secret).via == "app_token"
    assert credentials_verify(username="$app", password=secret).id == alice.pk


def test_an_app_token_of_a_disabled_user_is_refused(alice):
    secret = app_token_create(user=alice, title="cli").token
    alice.is_active = False
    alice.save()

    assert credentials_verify(username="$app", password=secret) is None


def test_an_expired_app_token_is_refused(alice):
    secret = app_token_create(user=alice, title="old", expires_at=timezone.now() - timedelta(seconds=1)).token

    assert credentials_verify(username="$app", password=secret) is None


def test_an_app_token_with_a_wrong_secret_but_the_right_prefix_is_refused(alice):
    secret = app_token_create(user=alice, title="cli").token

    assert credentials_verify(username="$app", password=secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


def test_a_robot_token_verifies_as_the_robot(robot):
    principal = credentials_verify(username="acme+ci", password=robot.token)

    assert (principal.kind, principal.id, principal.name, principal.via) == ("robot", robot.robot.pk, "acme+ci", "robot_token")


def test_a_regenerated_robot_token_replaces_the_old_one(robot):
    new = robot_regenerate_token(robot=robot.robot)

    assert credentials_verify(username="acme+ci", password=robot.token) is None
    assert credentials_verify(username="acme+ci", password=new.token) is not None


def test_a_supplied_robot_token_is_kept_as_given():
    organization = organization_create(name="acme", creator=None)
    supplied = "m" * 40

    robot_create(namespace=organization.namespace, shortname="migrated", token=supplied)

    assert credentials_verify(username="acme+migrated", password=supplied) is not None


def test_principal_reload_drops_a_disabled_user(alice):
    principal = credentials_verify(username="alice", password=PASSWORD)
    alice.is_active = False
    alice.save()

    assert principal_reload(principal) is None


# -- throttling ------------------------------------------------------------------------------
# The cache may be the shared Redis: every test uses its own names and addresses, never clear().
@pytest.fixture
def mallory() -> str:
    name = f"Mallory{uuid.uuid4().hex[:8]}"
    yield name
    cache.delete(f"login-fail:user:{name.lower()}")


@pytest.fixture
def address() -> str:
    ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    yield ip
    cache.delete(f"login-fail:ip:{ip}")


def test_a_user_name_may_try_again_until_the_threshold(mallory):
    for _ in range(throttle.USER_THRESHOLD - 1):
        throttle.login_failed(username=mallory, ip=None)

    assert throttle.login_retry_after(username=mallory, ip=None) is None


def test_the_threshold_blocks_the_user_name_whatever_its_case(mallory, address):
    for _ in range(throttle.USER_THRESHOLD):
        throttle.login_failed(username=mallory, ip=None)

    assert throttle.login_retry_after(username=mallory.lower(), ip=address) >= 1


def test_the_delay_grows_with_every_further_failure(mallory):
    delays = []
    for _ in range(throttle.USER_THRESHOLD + 3):
        throttle.login_failed(username=mallory, ip=None)
        delays.append(throttle.login_retry_after(username=mallory, ip=None) or 0)

    assert delays[-1] > delays[-2] > delays[-3] > delays[-4] > 0


def test_a_success_clears_the_user_name_but_not_the_address(mallory, address):
    for _ in range(throttle.ADDRESS_THRESHOLD):
        throttle.login_failed(username=mallory, ip=address)

    throttle.login_succeeded(username=mallory, ip=address)

    assert throttle.login_retry_after(username=mallory, ip=None) is None
    assert throttle.login_retry_after(username="someone-else", ip=address) >= 1


# -- registry tokens -------------------------------------------------------------------------
@pytest.fixture
def fresh_keys():
    forget_cached_keys()
    yield
    forget_cached_keys()


def test_an_issued_token_verifies_for_its_audience(fresh_keys):
    issued = token_issue(subject="alice", audience="registry.test", access=[], context={"kind": "user"})

    assert token_verify(issued.token, audience="registry.test")["sub"] == "alice"


def test_a_refresh_token_is_not_an_access_token(fresh_keys):
    issued = token_issue(subject="alice", audience="registry.test", access=[], context={}, token_type="refresh")

    with pytest.raises(InvalidTokenError):
        token_verify(issued.token, audience="registry.test")


def test_a_token_for_another_audience_is_refused(fresh_keys):
    issued = token_issue(subject="alice", audience="registry.test", access=[], context={})

    with pytest.raises(InvalidTokenError):
        token_verify(issued.token, audience="elsewhere.test")


def test_a_token_of_a_pruned_key_is_refused(fresh_keys):
    issued = token_issue(subject="alice", audience="registry.test", access=[], context={})
    key = signing_key_current()
    type(key).objects.filter(pk=key.pk).delete()
    forget_cached_keys()

    with pytest.raises(InvalidTokenError):
        token_verify(issued.token, audience="registry.test")


def test_a_token_missing_a_required_claim_is_refused(fresh_keys):
    key = signing_key_current()
    now = int(timezone.now().timestamp())
    no_subject = jwt.encode({"iss": "moorage", "aud": "registry.test", "iat": now, "nbf": now, "exp": now + 60}, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})

    with pytest.raises(InvalidTokenError):
        token_verify(no_subject, audience="registry.test")


# -- the principal a token becomes -------------------------------------------------------------
def test_a_token_principal_holds_exactly_its_grants_under_canonical_names():
    principal = principal_from_claims(
        {
            "access": [
                {"type": "repository", "name": "busybox", "actions": ["pull"]},
                {"type": "repository", "name": "acme/app", "actions": ["pull", "push"]},
                {"type": "registry", "name": "catalog", "actions": ["*"]},
            ],
            "context": {"kind": "user", "id": 7, "name": "alice"},
        }
    )

    assert principal.grants == {("library/busybox", "pull"), ("acme/app", "pull"), ("acme/app", "push"), ("registry:catalog", "*")}
    assert (principal.kind, principal.id, principal.via) == ("user", 7, "bearer")


def test_malformed_access_entries_grant_nothing():
    principal = principal_from_claims(
        {"access": ["acme/app", {"type": "repository", "name": "Bad Name", "actions": ["pull"]}, {"type": "other", "name": "x", "actions": ["*"]}], "context": {}}
    )

    assert principal.grants == frozenset()
    assert principal.is_anonymous
