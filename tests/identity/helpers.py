"""HTTP helpers of the identity suite: tokens, pushes, challenges and forged JWTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import HTTPAdapter

from tests.live import LiveRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class SourceAddressAdapter(HTTPAdapter):
    """Connect to 127.0.0.1 from another loopback address (the server sees it as REMOTE_ADDR)."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class LiveWorld:
    registry: LiveRegistry
    password: str
    robot_token: str
    app_tokens: dict[str, str]
    expired_app_token: str
    throttled_user: str
    resettable_user: str
    images: dict[str, str] = field(default_factory=dict)  # repository -> manifest digest of tag v1

    def login(self, username: str) -> tuple[str, str]:
        """Basic credentials of ``username`` with their app token (checked without a slow password hash)."""
        return (username, self.app_tokens[username])

    @property
    def url(self) -> str:
        return self.registry.url

    def shell(self, code: str) -> str:
        """Run Python in the server's database; returns what it printed."""
        return self.registry.manage("shell", "-c", code).stdout

    def query(self, expression: str, setup: str = "") -> Any:
        """The JSON value of ``expression`` evaluated in the server's database."""
        out = self.shell(f"import json\n{setup}\nprint('RESULT=' + json.dumps({expression}, default=str))")
        return json.loads(out.rsplit("RESULT=", 1)[1])


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def token_response(session: requests.Session, base: str, *scopes: str, auth: tuple[str, str] | None = None, **params: str) -> requests.Response:
    return session.get(f"{base}/v2/auth", params=[("service", base.split("//")[1]), *(("scope", s) for s in scopes), *params.items()], auth=auth)


def token(session: requests.Session, base: str, *scopes: str, auth: tuple[str, str] | None = None) -> str:
    response = token_response(session, base, *scopes, auth=auth)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def granted(session: requests.Session, base: str, *scopes: str, auth: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The ``access`` claim of the token issued for ``scopes``."""
    return claims_of(token(session, base, *scopes, auth=auth))["access"]


def claims_of(jwt_token: str) -> dict[str, Any]:
    return jwt.decode(jwt_token, options={"verify_signature": False})


def bearer(jwt_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt_token}"}


def push_blob(session: requests.Session, base: str, name: str, data: bytes, **kwargs: Any) -> requests.Response:
    return session.post(f"{base}/v2/{name}/blobs/uploads/", params={"digest": digest_of(data)}, data=data, **kwargs)


def push_image(session: requests.Session, base: str, name: str, tag: str, **kwargs: Any) -> str:
    """Push a one-layer OCI image; returns its manifest digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": uuid.uuid4().hex}).encode()
    layer = uuid.uuid4().bytes * 8
    for blob in (config, layer):
        response = push_blob(session, base, name, blob, **kwargs)  # kwargs: auth= or headers=
        assert response.status_code == 201, response.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of(layer), "size": len(layer)}],
        }
    ).encode()
    headers = {**kwargs.pop("headers", {}), "Content-Type": OCI_MANIFEST}
    response = session.put(f"{base}/v2/{name}/manifests/{tag}", data=manifest, headers=headers, **kwargs)
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"]


def challenge(response: requests.Response) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` header."""
    header = response.headers.get("WWW-Authenticate", "")
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def error_codes(response: requests.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


# -- forged tokens ---------------------------------------------------------------------------
def signing_key(world: LiveWorld) -> tuple[str, str]:
    """(kid, private key PEM) of a key the server signs with."""
    return tuple(world.query("list(SigningKey.objects.order_by('-created').values_list('kid', 'private_key_pem')[0])", "from accounts.models import SigningKey"))


def valid_claims(audience: str, access: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "moorage", "sub": "alice", "aud": audience, "iat": now, "nbf": now - 1, "exp": now + 300, "jti": uuid.uuid4().hex,
        "typ": "access", "access": access, "context": {"kind": "user", "name": "alice"},
    }
    claims.update(changes)
    return claims


def other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    """An ``alg: none`` JWT (empty signature)."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def hs256_token(claims: dict[str, Any], kid: str, *, secret: bytes) -> str:
    """An HS256 JWT keyed with ``secret`` (the algorithm-confusion attack uses the public key)."""
    signing_input = f"{b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def tampered(jwt_token: str, **claim_changes: Any) -> str:
    """The same token with its payload edited and the original signature kept."""
    header, payload, signature = jwt_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(claim_changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
