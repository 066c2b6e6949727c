"""Who is calling /v2: a bearer token from /v2/auth (verified without the database), HTTP Basic
credentials (verified once, then cached briefly), or nobody."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from accounts.credential_epochs import credentials_epoch
from accounts.principals import ANONYMOUS, Principal
from accounts.registry_tokens import InvalidTokenError, token_verify
from accounts.services import credentials_verify
from accounts.throttle import login_failed, login_retry_after, login_succeeded
from common.cache_outage import CACHE_UNAVAILABLE, cache_unavailable
from common.errors import RegistryError, TooManyRequestsError, UnauthorizedError
from common.grammar import split_repository_name
from repositories.services.audit import RequestInfo, audit_log

BASIC_REALM = "Moorage"


def service_name(request: HttpRequest) -> str:
    """The token audience: the configured public host name, else the Host the client used."""
    return settings.MOORAGE_SERVER_HOSTNAME or request.get_host()


def bearer_challenge(request: HttpRequest, scope: str | None = None) -> dict[str, str]:
    realm = f"{request.scheme}://{request.get_host()}/v2/auth"
    value = f'Bearer realm="{realm}",service="{service_name(request)}"'
    if scope:
        value += f',scope="{scope}"'
    return {"WWW-Authenticate": value}


def request_info(request: Any) -> RequestInfo:
    return RequestInfo.of(request)


def parse_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (username, password) if sep else None


def verify_credentials(request: HttpRequest, username: str, password: str) -> Principal:
    """Check credentials with throttling and audit; raise 401 (or 429 while throttled)."""
    ip = request.META.get("REMOTE_ADDR")
    retry_after = login_retry_after(username=username, ip=ip)
    if retry_after:
        raise TooManyRequestsError(
            "too many failed logins; try again later", detail={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
        )
    principal = credentials_verify(username=username, password=password)
    if principal is None:
        login_failed(username=username, ip=ip)
        audit_log(kind="login_failure", principal=None, request=request_info(request), metadata={"username": username[:255]})
        raise UnauthorizedError("invalid username or password", headers=bearer_challenge(request))
    login_succeeded(username=username, ip=ip)
    return principal


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    context = claims.get("context") or {}
    grants: set[tuple[str, str]] = set()
    for entry in claims.get("access") or []:
        if not isinstance(entry, dict):
            continue
        kind, name, actions = entry.get("type"), entry.get("name", ""), entry.get("actions") or []
        if kind == "registry" and name == "catalog":
            grants.update(("registry:catalog", action) for action in actions)
        elif kind == "repository" and isinstance(name, str):
            try:
                namespace, path = split_repository_name(name)
            except RegistryError:  # a name we would never have granted
                continue
            grants.update((f"{namespace}/{path}", action) for action in actions)
    return Principal(
        kind=context.get("kind", "anonymous"),
        id=context.get("id"),
        name=context.get("name", ""),
        is_superuser=bool(context.get("superuser")),
        is_readonly_superuser=bool(context.get("readonly_superuser")),
        via="bearer",
        grants=frozenset(grants),
        namespace_id=context.get("namespace_id"),
    )


def _basic_cache_key(header: str) -> str:
    # Keyed by an HMAC of the whole header: the cache never sees the password or a plain hash of it.
    return "v2-basic:" + hmac.new(settings.SECRET_KEY.encode(), header.encode(), hashlib.sha256).hexdigest()


def principal_from_request(request: HttpRequest) -> Principal:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return ANONYMOUS
    scheme = header.partition(" ")[0].lower()
    if scheme == "bearer":
        try:
            claims = token_verify(header.partition(" ")[2].strip(), audience=service_name(request))
        except InvalidTokenError as exc:
            raise UnauthorizedError(f"invalid bearer token: {exc}", headers=bearer_challenge(request)) from None
        return principal_from_claims(claims)
    if scheme == "basic":
        key = _basic_cache_key(header)
        try:
            cached = cache.get(key)
            if cached is not None:
                epoch = cached.pop("epoch", None)
                if epoch == credentials_epoch(cached["kind"], cached["id"]):
                    return Principal(**cached)
        except CACHE_UNAVAILABLE as exc:  # verify against the database, cache nothing
            cache_unavailable("Basic credentials cache", exc)
            key = None
        credentials = parse_basic(header)
        if credentials is None:
            raise UnauthorizedError("malformed Basic credentials", headers=bearer_challenge(request))
        principal = verify_credentials(request, *credentials)
        ttl = settings.MOORAGE_AUTH["basic_auth_cache_s"]
        if ttl and key is not None:
            # Who the credentials belong to is known only after verifying, so a change that lands
            # during this very verification can slip through (for at most the cache lifetime).
            entry = {k: getattr(principal, k) for k in ("kind", "id", "name", "is_superuser", "is_readonly_superuser", "via", "namespace_id")}
            try:
                entry["epoch"] = credentials_epoch(principal.kind, principal.id)
                cache.set(key, entry, ttl)
            except CACHE_UNAVAILABLE as exc:
                cache_unavailable("Basic credentials cache", exc)
        return principal
    raise UnauthorizedError("unsupported authorization scheme", headers=bearer_challenge(request))
