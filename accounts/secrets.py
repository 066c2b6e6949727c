"""Split tokens: a public prefix to find the row, a secret compared by hash in constant time.

Tokens carry 192+ bits of randomness, so one SHA-256 is the right hash (a slow password hash
would only cost time). The secret itself is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

PREFIX_LENGTH = 16
SECRET_LENGTH = 32
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class NewToken:
    token: str  # shown to its owner once
    prefix: str
    hash: str


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_new(token: str | None = None) -> NewToken:
    """A fresh token, or the given one (robot tokens migrated from another registry)."""
    token = token or (_random(PREFIX_LENGTH) + _random(SECRET_LENGTH))
    return NewToken(token=token, prefix=token[:PREFIX_LENGTH], hash=token_hash(token))


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
