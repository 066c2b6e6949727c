"""Signing keys rotate on schedule; tokens signed by a retired key stay valid until they expire."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import SigningKey
from accounts.registry_tokens import InvalidTokenError, forget_cached_keys, token_issue, token_verify
from tasks.identity import rotate_signing_keys

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    forget_cached_keys()
    yield
    forget_cached_keys()


def _issue() -> str:
    return token_issue(subject="alice", audience="registry.test", access=[], context={"kind": "user"}).token


def test_the_rotation_task_creates_a_key_when_there_is_none():
    rotate_signing_keys()
    assert SigningKey.objects.count() == 1


def test_a_retired_key_is_replaced_and_its_tokens_still_verify():
    token = _issue()
    old = SigningKey.objects.get()
    SigningKey.objects.filter(pk=old.pk).update(retire_at=timezone.now() - timedelta(seconds=1))
    forget_cached_keys()

    rotate_signing_keys()

    assert SigningKey.objects.count() == 2
    new_token = _issue()
    assert token_verify(token, audience="registry.test")["sub"] == "alice"
    assert token_verify(new_token, audience="registry.test")["sub"] == "alice"
    assert SigningKey.objects.order_by("-created").first().kid != old.kid


def test_pruning_an_expired_key_invalidates_its_tokens():
    token = _issue()
    SigningKey.objects.update(retire_at=timezone.now() - timedelta(days=2), expires_at=timezone.now() - timedelta(days=1))
    forget_cached_keys()

    removed = rotate_signing_keys()

    assert removed == 1
    with pytest.raises(InvalidTokenError):
        token_verify(token, audience="registry.test")


def test_an_unknown_key_id_is_looked_up_once_then_refused_without_queries(django_assert_num_queries):
    import jwt as pyjwt

    rotate_signing_keys()
    key = SigningKey.objects.get()
    forged = pyjwt.encode({"sub": "x", "aud": "registry.test"}, key.private_key_pem, algorithm="RS256", headers={"kid": "no-such-kid"})
    with pytest.raises(InvalidTokenError):
        token_verify(forged, audience="registry.test")
    with django_assert_num_queries(0):
        with pytest.raises(InvalidTokenError):
            token_verify(forged, audience="registry.test")
