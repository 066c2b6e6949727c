"""Registry bearer tokens (the Docker token specification): RS256 JWTs signed by a key pair that
all instances share through the database and that rotates on a schedule.

Verification needs no database query per request: public keys are cached in the process by
``kid`` and loaded once when an unknown ``kid`` shows up.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import SigningKey

ALGORITHM = "RS256"
ISSUER = "moorage"
LEEWAY_S = 30

_public_keys: dict[str, Any] = {}
_public_keys_lock = threading.Lock()
_current: SigningKey | None = None


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


def _token_settings() -> dict[str, int]:
    return settings.MOORAGE_AUTH


def _new_key_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def signing_key_current(now: datetime | None = None) -> SigningKey:
    """The key new tokens are signed with; creates (rotates to) a new one when none is active."""
    global _current
    now = now or timezone.now()
    if _current is not None and _current.retire_at > now:
        return _current
    key = SigningKey.objects.filter(retire_at__gt=now).order_by("-created").first()
    if key is None:
        rotation = timedelta(seconds=_token_settings()["key_rotation_s"])
        longest = timedelta(seconds=max(_token_settings()["refresh_token_lifetime_s"], _token_settings()["token_lifetime_s"]))
        private_pem, public_pem = _new_key_pair()
        try:
            with transaction.atomic():
                key = SigningKey.objects.create(
                    kid=uuid.uuid4().hex,
                    private_key_pem=private_pem,
                    public_key_pem=public_pem,
                    retire_at=now + rotation,
                    expires_at=now + rotation + longest,
                )
        except IntegrityError:  # pragma: no cover - kid collision is astronomically unlikely
            key = SigningKey.objects.filter(retire_at__gt=now).order_by("-created").first()
    _current = key
    return key


def signing_keys_prune(now: datetime | None = None) -> int:
    """Delete keys whose tokens can no longer be valid."""
    return SigningKey.objects.filter(expires_at__lt=now or timezone.now()).delete()[0]


#: kid -> monotonic time until which it is known not to exist (forged kids cost no query each)
_unknown_kids: dict[str, float] = {}
UNKNOWN_KID_TTL_S = 30.0


def _public_key(kid: str) -> Any:
    key = _public_keys.get(kid)
    if key is not None:
        return key
    if _unknown_kids.get(kid, 0.0) > time.monotonic():
        raise InvalidTokenError("unknown signing key")
    row = SigningKey.objects.filter(kid=kid, expires_at__gt=timezone.now()).first()
    if row is None:
        with _public_keys_lock:
            if len(_unknown_kids) > 10_000:  # bounded: a flood of random kids cannot grow it forever
                _unknown_kids.clear()
            _unknown_kids[kid] = time.monotonic() + UNKNOWN_KID_TTL_S
        raise InvalidTokenError("unknown signing key")
    key = serialization.load_pem_public_key(row.public_key_pem.encode())
    with _public_keys_lock:
        _public_keys[kid] = key
    return key


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: datetime


def token_issue(*, subject: str, audience: str, access: list[dict[str, Any]], context: dict[str, Any], lifetime_s: int | None = None, token_type: str = "access") -> IssuedToken:
    now = timezone.now()
    lifetime = lifetime_s or _token_settings()["token_lifetime_s"]
    key = signing_key_current(now)
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()) - 1,
        "exp": int(now.timestamp()) + lifetime,
        "jti": uuid.uuid4().hex,
        "typ": token_type,
        "access": access,
        "context": context,
    }
    token = jwt.encode(claims, key.private_key_pem, algorithm=ALGORITHM, headers={"kid": key.kid})
    return IssuedToken(token=token, expires_in=lifetime, issued_at=now)


#: (token, audience, type) -> (claims, valid until): a client sends the same token with every
#: request; checking its signature and claims once per process saves ~1-2 ms per request.
_verified: dict[tuple[str, str, str], tuple[dict[str, Any], float]] = {}
VERIFIED_CACHE_SIZE = 4096


def token_verify(token: str, *, audience: str, token_type: str = "access") -> dict[str, Any]:
    """The claims of a valid token; raises InvalidTokenError for anything else (``alg: none``,
    another key, tampered claims, wrong audience, expired). A token verified before is answered
    from a bounded in-process cache until it expires (the same token cannot become valid or
    invalid in between: tokens are not revocable and their keys outlive them)."""
    cache_key = (token, audience, token_type)
    hit = _verified.get(cache_key)
    if hit is not None and hit[1] > time.time():
        return hit[0]
    claims = _token_verify(token, audience=audience, token_type=token_type)
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()  # bounded; a full cache is simply started again
    _verified[cache_key] = (claims, float(claims["exp"]) + LEEWAY_S)
    return claims


def _token_verify(token: str, *, audience: str, token_type: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("malformed token") from exc
    if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
        raise InvalidTokenError("unsupported token algorithm or missing key id")
    key = _public_key(header["kid"])
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER, leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "nbf", "aud", "iss", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    if claims.get("typ", "access") != token_type:
        raise InvalidTokenError("wrong token type")
    return claims


def forget_cached_keys() -> None:
    """Tests: drop the in-process key caches."""
    global _current
    with _public_keys_lock:
        _public_keys.clear()
        _unknown_kids.clear()
        _verified.clear()
    _current = None
