"""Pull-through proxy cache organizations (Quay's proxy cache, and better).

An organization with a ``ProxyCacheConfig`` is a cache of an upstream registry: a pull of
``<org>/<path>:<tag>`` is answered from ``<upstream>/<namespace>/<path>:<tag>``.

Manifests (``proxy_manifest_pull``): a tag the cache has not seen, or whose last upstream check is
older than ``expiration_s``, is revalidated with ONE upstream HEAD (its answer kept in the Django
cache for a few seconds, so a pull storm on many app processes becomes one upstream request); an
unchanged digest is served locally; a new one is fetched. A manifest whose blobs are all stored is
stored at once (``manifest_put``); otherwise it waits as a ``ProxyPendingManifest`` (served from
there) until its blobs arrive. Index children are fetched when a client asks for them (the index is
stored sparse). If the upstream is unreachable, rate-limits or fails, cached content is served; an
uncached reference then fails with 404 MANIFEST_UNKNOWN whose message names the upstream problem
(containers/image shows a 4xx error's message, but only the status line of a 5xx).

Blobs (``proxy_blob_pending``): the first GET of a blob a cached manifest references streams it
from the upstream to the client while appending it to an upload; the upload's digest is verified
before the blob becomes visible (``blob_upload_complete``), and once a pending manifest has all its
blobs it is stored. Later pulls are local.

Quota: cached content counts against the organization's quota like pushed content; before a fill
that would cross the Reject threshold the least recently pulled tags are evicted (their manifests
removed, blobs left to garbage collection) instead of failing. If no room can be made the blob is
still streamed to the client, just not kept.

Upstream bearer tokens and the auth scheme are kept in the Django cache (Redis when configured), so
every app process shares them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.principals import Principal
from common.errors import (
    BlobUnknownError,
    ConflictError,
    InvalidRequestError,
    ManifestBlobUnknownError,
    ManifestUnknownError,
    NotFoundError,
    RegistryError,
)
from common.grammar import is_digest_reference, parse_digest, split_repository_name, validate_repository_name, validate_tag
from common.registry_client import (
    ClientSettings,
    Credentials,
    RegistryClient,
    UpstreamError,
    UpstreamNotFoundError,
)
from common.ssrf import OutboundURLError, check_url
from organizations.models import Organization
from repositories.lookup_invalidation import repository_lookups_invalidate
from repositories.lookup_proxy import proxy_config_for_namespace_cached
from repositories.media_types import INDEX_TYPES, MANIFEST_TYPES, ParsedManifest, parse_manifest
from repositories.models import Blob, BlobPlacement, Manifest, ManifestChild, Repository, Tag
from repositories.models.proxy import DEFAULT_PROXY_EXPIRATION_S, ProxyCacheConfig, ProxyCachedTag, ProxyPendingManifest
from repositories.selectors import blob_find_in_repository, manifest_find, repository_find
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.manifests import manifest_put
from repositories.services.mirror import secret_decrypt, secret_encrypt
from repositories.services.quotas import QuotaExceededError, namespace_usage_recompute, quota_check_upload
from repositories.services.repositories import repository_get_or_create
from repositories.services.uploads import (
    BodyStream,
    blob_link_to_repository,
    blob_upload_append,
    blob_upload_cancel,
    blob_upload_complete,
    blob_upload_start,
)

logger = logging.getLogger(__name__)

#: bytes collected from the upstream stream before they are appended to the upload in one call
_APPEND_BATCH_BYTES = 4 << 20
_MAX_EVICTIONS_PER_FILL = 1000


class ProxyUpstreamUnavailableError(ManifestUnknownError):
    """The upstream of a proxy cache cannot answer and nothing is cached for the manifest.

    404 MANIFEST_UNKNOWN rather than 503: container clients (containers/image, used by skopeo,
    podman and buildah) show the message of a 4xx error body but only the status line of a 5xx,
    and the message is what tells the user the upstream is the problem."""

    default_message = "not cached, and the upstream registry of this proxy cache is unavailable"


class ProxyBlobUnavailableError(BlobUnknownError):
    """The same for a blob of a cached manifest that is not stored yet (404 BLOB_UNKNOWN)."""

    default_message = "not cached, and the upstream registry of this proxy cache is unavailable"


#: how long an upstream HEAD answer is shared by every process (never longer than the tag expiry)
HEAD_CACHE_S = 10
#: how long an unreachable upstream is not asked again (cached content is served meanwhile)
UPSTREAM_DOWN_CACHE_S = 10


# --- the upstream ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamLocation:
    """``upstream_registry`` split: the registry address and the namespace prefix on it."""

    registry: str  # [http(s)://]host[:port]
    host: str
    namespace: str

    def repository(self, path: str) -> str:
        if self.namespace:
            return f"{self.namespace}/{path}"
        if self.host in ("registry-1.docker.io",) and "/" not in path:
            return f"library/{path}"  # Docker Hub's official images
        return path


def upstream_parse(value: str) -> UpstreamLocation:
    """Parse ``[http(s)://]host[:port][/namespace]``. Raises InvalidRequestError."""
    text = (value or "").strip()
    if not text or len(text) > 512 or not text.isprintable() or " " in text:
        raise InvalidRequestError("upstream_registry is required: host[:port][/namespace], e.g. docker.io or registry.example.com/library")
    scheme = ""
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme.lower() not in ("http", "https"):
            raise InvalidRequestError("upstream_registry takes an http:// or https:// scheme or none", detail={"upstream_registry": value[:300]})
        scheme = scheme.lower() + "://"
    host, _, namespace = text.partition("/")
    namespace = namespace.strip("/")
    if not host or "@" in host or any(c in namespace for c in ":@"):
        raise InvalidRequestError("upstream_registry is host[:port][/namespace] (no tag, digest or credentials)", detail={"upstream_registry": value[:300]})
    host = host.lower()
    if host in ("docker.io", "index.docker.io"):
        host = "registry-1.docker.io"
    return UpstreamLocation(registry=f"{scheme}{host}", host=host, namespace=namespace)


class _SharedTokenClient(RegistryClient):
    """Our OCI client whose bearer tokens and auth scheme live in the Django cache, so every app
    process (and every request) reuses them instead of asking the token service again."""

    def __init__(self, registry: str, *, cache_key: str, **kwargs: Any) -> None:
        super().__init__(registry, **kwargs)
        self._cache_key = cache_key
        known = cache.get(f"{cache_key}:scheme")
        if known:
            self._auth_scheme, self._bearer_params = known[0], dict(known[1])

    def _token_key(self, scope: str) -> str:
        return f"{self._cache_key}:token:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"

    def _auth_header(self, scope: str) -> dict[str, str]:
        if self._auth_scheme == "bearer" and scope not in self._tokens:
            shared = cache.get(self._token_key(scope))
            if shared and shared[1] > time.time():
                self._tokens[scope] = (shared[0], time.monotonic() + (shared[1] - time.time()))
        return super()._auth_header(scope)

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        token = super()._fetch_token(params, scope)
        ttl = self._tokens[scope][1] - time.monotonic()
        if ttl > 1:
            cache.set(self._token_key(scope), (token, time.time() + ttl), timeout=int(ttl))
        return token

    def _authenticate(self, response: Any, scope: str) -> bool:
        answered = super()._authenticate(response, scope)
        if answered:
            cache.set(f"{self._cache_key}:scheme", (self._auth_scheme, self._bearer_params), timeout=3600)
        return answered


def proxy_credentials(config: ProxyCacheConfig) -> Credentials | None:
    username = secret_decrypt(config.username_encrypted)
    return Credentials(username, secret_decrypt(config.password_encrypted)) if username else None


def _client(config: ProxyCacheConfig, location: UpstreamLocation | None = None) -> RegistryClient:
    location = location or upstream_parse(config.upstream_registry)
    options = ClientSettings.from_settings()
    # A puller waits on us: few retries and a short cap on Retry-After (we serve the cache instead).
    options = ClientSettings(**{**asdict(options), "max_retries": min(options.max_retries, 1), "max_retry_after_s": min(options.max_retry_after_s, 2.0)})
    return _SharedTokenClient(
        location.registry, cache_key=f"moorage:proxy:{config.pk}", credentials=proxy_credentials(config),
        verify_tls=not config.insecure, options=options,
    )


def _down_key(config: ProxyCacheConfig) -> str:
    return f"moorage:proxy:{config.pk}:down"


def _upstream_failed(config: ProxyCacheConfig, exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    if not isinstance(exc, UpstreamNotFoundError):
        # remembered briefly: a storm of pulls while the upstream is down does not wait on it each time
        cache.set(_down_key(config), message, timeout=UPSTREAM_DOWN_CACHE_S)
    return message


def _unavailable(config: ProxyCacheConfig, what: str, message: str, *, blob: bool = False) -> ManifestUnknownError | BlobUnknownError:
    error = ProxyBlobUnavailableError if blob else ProxyUpstreamUnavailableError
    return error(
        f"{what} is not cached and the upstream registry {config.upstream_registry} is unavailable: {message}",
        detail={"upstream": config.upstream_registry},
    )


# --- configuration ----------------------------------------------------------------------------


def proxy_config_of(*, organization: Organization) -> ProxyCacheConfig | None:
    return ProxyCacheConfig.objects.filter(organization=organization).first()


def proxy_config_for_namespace(*, namespace_name: str) -> ProxyCacheConfig | None:
    # Asked by every manifest GET/HEAD: "not a proxy cache" comes from the cache (bench/README.md).
    return proxy_config_for_namespace_cached(namespace_name=namespace_name)


def _validate_expiration(value: Any) -> int:
    if value is None:
        return DEFAULT_PROXY_EXPIRATION_S
    if isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= 366 * 86400:
        raise InvalidRequestError("expiration_s is 60 to 31622400 seconds", detail={"expiration_s": value})
    return value


def proxy_config_create(
    *, organization: Organization, upstream_registry: str, username: str = "", password: str = "", insecure: bool = False,
    expiration_s: int | None = None, actor: Principal | None = None, request: RequestInfo | None = None,
) -> ProxyCacheConfig:
    """Make ``organization`` a pull-through cache of ``upstream_registry``.

    Raises:
        InvalidRequestError: a bad upstream, expiry, or a password without a user name.
        OutboundURLError: the outbound policy refuses the upstream host.
        ConflictError: the organization already is a proxy cache, or already holds repositories.
    """
    location = upstream_parse(upstream_registry)
    check_url(f"{'http' if location.registry.startswith('http://') else 'https'}://{location.host}/")
    if password and not username:
        raise InvalidRequestError("a password needs a username")
    expiration = _validate_expiration(expiration_s)
    if Repository.objects.filter(namespace=organization.namespace).exists():
        raise ConflictError(f"organization {organization.name} already has repositories; a proxy cache needs an empty organization")
    with transaction.atomic():
        try:
            with transaction.atomic():
                config = ProxyCacheConfig.objects.create(
                    organization=organization, upstream_registry=upstream_registry.strip(), username_encrypted=secret_encrypt(username or ""),
                    password_encrypted=secret_encrypt(password or "") if username else "", insecure=bool(insecure), expiration_s=expiration,
                )
        except IntegrityError:
            raise ConflictError(f"organization {organization.name} already is a proxy cache") from None
        audit_log(
            kind="create_proxy_cache_config", principal=actor, namespace_name=organization.name, request=request,
            metadata={"upstream_registry": config.upstream_registry, "expiration_s": expiration, "insecure": config.insecure},
        )
    return config


def proxy_config_delete(*, organization: Organization, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    """Stop caching: the configuration and the cache bookkeeping go; the cached repositories stay
    as ordinary repositories. NotFoundError when the organization is not a proxy cache."""
    with transaction.atomic():
        config = ProxyCacheConfig.objects.select_for_update().filter(organization=organization).first()
        if config is None:
            raise NotFoundError(f"organization {organization.name} is not a proxy cache")
        ProxyCachedTag.objects.filter(repository__namespace=organization.namespace).delete()
        ProxyPendingManifest.objects.filter(repository__namespace=organization.namespace).delete()
        upstream = config.upstream_registry
        config.delete()
        audit_log(kind="delete_proxy_cache_config", principal=actor, namespace_name=organization.name, request=request, metadata={"upstream_registry": upstream})


def proxy_config_validate(*, upstream_registry: str, username: str = "", password: str = "", insecure: bool = False) -> None:
    """Check that the upstream answers ``/v2/`` with these credentials (Quay's validateproxycache).

    Raises InvalidRequestError (bad input) or UpstreamError subclasses (unreachable, refused
    credentials), OutboundURLError (refused by the outbound policy).
    """
    location = upstream_parse(upstream_registry)
    check_url(f"{'http' if location.registry.startswith('http://') else 'https'}://{location.host}/")
    options = ClientSettings.from_settings()
    options = ClientSettings(**{**asdict(options), "max_retries": min(options.max_retries, 1)})
    credentials = Credentials(username, password or "") if username else None
    with RegistryClient(location.registry, credentials=credentials, verify_tls=not insecure, options=options) as client:
        client.ping()


# --- reading the cache --------------------------------------------------------------------------


def _pending_as_manifest(repository: Repository, pending: ProxyPendingManifest) -> Manifest:
    """A pending manifest shaped like a stored one (unsaved), so the view serves both alike."""
    content = bytes(pending.content)
    return Manifest(repository=repository, digest=pending.digest, media_type=pending.media_type, content=content, size=len(content))


def _local(repository: Repository | None, digest: str) -> Manifest | None:
    if repository is None:
        return None
    stored = manifest_find(repository=repository, digest=digest)
    if stored is not None:
        return stored
    pending = ProxyPendingManifest.objects.filter(repository=repository, digest=digest).first()
    return _pending_as_manifest(repository, pending) if pending is not None else None


def _declared_type(raw: bytes) -> str:
    try:
        value = json.loads(raw).get("mediaType")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


# --- the pull path ----------------------------------------------------------------------------


def proxy_manifest_pull(
    *, name: str, reference: str, authorize: Callable[[Repository | None], None]
) -> tuple[Repository, Manifest] | None:
    """The manifest to serve for ``name``/``reference`` when ``name`` is in a proxy-cache
    organization (None otherwise: the caller serves as usual). ``authorize(repository)`` raises
    when the caller may not pull (the repository is None before the first pull).

    Raises ManifestUnknownError (unknown upstream too), ProxyUpstreamUnavailableError (a
    MANIFEST_UNKNOWN: not cached and the upstream fails), and what ``authorize`` raises.
    """
    namespace_name, path = split_repository_name(validate_repository_name(name))
    config = proxy_config_for_namespace(namespace_name=namespace_name)
    if config is None:
        return None
    repository = repository_find(name=name)
    authorize(repository)
    digest_reference = is_digest_reference(reference)
    if digest_reference:
        parse_digest(reference)
    else:
        validate_tag(reference)
    location = upstream_parse(config.upstream_registry)
    upstream_repository = location.repository(path)
    now = timezone.now()

    if digest_reference:  # content-addressed: never revalidated
        local = _local(repository, reference)
        if local is not None:
            return repository, local
        return _fill(config, location, name, repository, upstream_repository, reference, tag=None, what=f"{name}@{reference}")

    cached = ProxyCachedTag.objects.filter(repository=repository, name=reference).first() if repository is not None else None
    local = _local(repository, cached.digest) if cached is not None else None
    if cached is not None and local is not None and (now - cached.checked_at).total_seconds() < config.expiration_s:
        _touch(cached, now)
        return repository, local
    try:
        digest = _upstream_head(config, location, upstream_repository, reference)
    except UpstreamNotFoundError:
        if repository is not None:
            _forget_tag(repository, reference)
        raise ManifestUnknownError(
            f"{name}:{reference} does not exist on the upstream registry {config.upstream_registry}",
            detail={"name": name, "tag": reference, "upstream": config.upstream_registry},
        ) from None
    except (UpstreamError, OutboundURLError) as exc:
        message = _upstream_failed(config, exc)
        if cached is not None and local is not None:
            logger.warning("proxy %s: upstream failed (%s); serving the cached %s:%s", config.upstream_registry, message, name, reference)
            _touch(cached, now)
            return repository, local
        raise _unavailable(config, f"{name}:{reference}", message) from None
    if cached is not None and local is not None and local.digest == digest:
        ProxyCachedTag.objects.filter(pk=cached.pk).update(checked_at=now, pulled_at=now)
        return repository, local
    manifest = _local(repository, digest)
    if manifest is None:
        repository, manifest = _fill(config, location, name, repository, upstream_repository, digest, tag=reference, what=f"{name}:{reference}")
    elif manifest.pk is not None:
        _store_tags(repository, manifest, [reference])
    assert repository is not None  # found, or created by the fill
    ProxyCachedTag.objects.update_or_create(repository=repository, name=reference, defaults={"digest": digest, "checked_at": now, "pulled_at": now})
    return repository, manifest


def _touch(cached: ProxyCachedTag, now: Any) -> None:
    # LRU bookkeeping: a write per pull at most once a minute
    if (now - cached.pulled_at).total_seconds() > 60:
        ProxyCachedTag.objects.filter(pk=cached.pk).update(pulled_at=now)


def _upstream_head(config: ProxyCacheConfig, location: UpstreamLocation, upstream_repository: str, reference: str) -> str:
    """The upstream digest of ``reference``: one HEAD, its answer shared through the cache for
    a few seconds (never longer than the tag expiry)."""
    key = f"moorage:proxy:{config.pk}:head:{hashlib.sha256(f'{upstream_repository}:{reference}'.encode()).hexdigest()[:40]}"
    known = cache.get(key)
    if known:
        return str(known)
    down = cache.get(_down_key(config))
    if down:
        raise UpstreamError(str(down))
    with _client(config, location) as client:
        info = client.manifest_head(upstream_repository, reference)
    ttl = min(HEAD_CACHE_S, config.expiration_s)
    if ttl > 0:
        cache.set(key, info.digest, timeout=ttl)
    return info.digest


def _forget_tag(repository: Repository, tag: str) -> None:
    """The upstream says the tag is gone: so is the cached one (as Quay)."""
    with transaction.atomic():
        ProxyCachedTag.objects.filter(repository=repository, name=tag).delete()
        Tag.objects.filter(repository=repository, name=tag, lifetime_end__isnull=True).update(lifetime_end=timezone.now())
        repository_lookups_invalidate(repository_id=repository.pk)  # update() sends no signal: cached /v2 answers


def _fill(
    config: ProxyCacheConfig, location: UpstreamLocation, name: str, repository: Repository | None, upstream_repository: str, digest: str,
    *, tag: str | None, what: str,
) -> tuple[Repository, Manifest]:
    """Fetch manifest ``digest`` from the upstream and store it (or keep it pending). The
    repository is created here, once the upstream has the manifest (as Quay)."""
    if cache.get(_down_key(config)):
        raise _unavailable(config, what, str(cache.get(_down_key(config))))
    try:
        with _client(config, location) as client:
            got = client.manifest_get(upstream_repository, digest)
    except UpstreamNotFoundError:
        raise ManifestUnknownError(f"{what} does not exist on the upstream registry {config.upstream_registry}", detail={"upstream": config.upstream_registry}) from None
    except (UpstreamError, OutboundURLError) as exc:
        raise _unavailable(config, what, _upstream_failed(config, exc)) from None
    media_type = got.media_type if got.media_type in MANIFEST_TYPES else _declared_type(got.raw) or got.media_type
    parsed = parse_manifest(got.raw, media_type)
    repository = repository or repository_get_or_create(name=name)
    tags = [tag] if tag else []
    if parsed.is_index:
        missing = frozenset(child.digest for child in parsed.children if manifest_find(repository=repository, digest=child.digest) is None)
        return repository, _put(config, repository, parsed, tags, sparse=missing)
    if _missing_blobs(repository, parsed):
        pending, _created = ProxyPendingManifest.objects.get_or_create(
            repository=repository, digest=parsed.digest, defaults={"media_type": parsed.media_type, "content": parsed.raw}
        )
        return repository, _pending_as_manifest(repository, pending)
    return repository, _put(config, repository, parsed, tags)


def _missing_blobs(repository: Repository, parsed: ParsedManifest) -> list[str]:
    """Digests of the manifest's blobs the repository lacks; blobs already stored for another
    repository are linked here (the upstream manifest names them, so the content is the same)."""
    missing: list[str] = []
    for descriptor in (parsed.config, *parsed.layers):
        if descriptor is None or descriptor.is_foreign or descriptor.data is not None:
            continue
        if blob_find_in_repository(repository=repository, digest=descriptor.digest) is not None:
            continue
        stored = Blob.objects.filter(digest=descriptor.digest, size=descriptor.size).first()
        if stored is not None and BlobPlacement.objects.filter(blob=stored).exists():
            try:
                blob_link_to_repository(repository=repository, blob=stored)
                continue
            except BlobUnknownError:
                pass
        missing.append(descriptor.digest)
    return missing


def _put(config: ProxyCacheConfig, repository: Repository, parsed: ParsedManifest, tags: list[str], *, sparse: frozenset[str] = frozenset()) -> Manifest:
    """``manifest_put`` making room under the quota first; links the manifest into cached
    indexes that list it (so the collector keeps children fetched after their index)."""
    reference = tags[0] if tags else parsed.digest
    keep = {(repository.pk, t) for t in tags}
    for _attempt in range(_MAX_EVICTIONS_PER_FILL):
        try:
            result = manifest_put(
                repository=repository, reference=reference, raw=parsed.raw, content_type=parsed.media_type,
                extra_tags=tuple(tags[1:]), sparse_children=sparse,
            )
            break
        except QuotaExceededError:
            if not _evict_one(config, keep=keep):
                raise
    if not parsed.is_index:
        _link_into_indexes(repository, parsed.digest)
    return result.manifest


def _store_tags(repository: Repository, manifest: Manifest, tags: list[str]) -> None:
    manifest_put(repository=repository, reference=tags[0], raw=bytes(manifest.content), content_type=manifest.media_type, extra_tags=tuple(tags[1:]),
                 sparse_children=_sparse_of(repository, manifest))


def _sparse_of(repository: Repository, manifest: Manifest) -> frozenset[str]:
    if manifest.media_type not in INDEX_TYPES:
        return frozenset()
    parsed = parse_manifest(bytes(manifest.content), manifest.media_type)
    return frozenset(c.digest for c in parsed.children if manifest_find(repository=repository, digest=c.digest) is None)


def _link_into_indexes(repository: Repository, child_digest: str) -> None:
    linked = ManifestChild.objects.filter(repository=repository, child__digest=child_digest).values_list("manifest_id", flat=True)
    for index in Manifest.objects.filter(repository=repository, media_type__in=INDEX_TYPES, deleted_at__isnull=True).exclude(pk__in=linked):
        try:
            listed = any(entry.get("digest") == child_digest for entry in json.loads(bytes(index.content)).get("manifests", []))
        except (ValueError, AttributeError):
            continue
        if listed:
            manifest_put(repository=repository, reference=index.digest, raw=bytes(index.content), content_type=index.media_type,
                         sparse_children=_sparse_of(repository, index))


def _materialize(config: ProxyCacheConfig, repository: Repository) -> None:
    """Store every pending manifest of ``repository`` whose blobs are now all there."""
    for pending in ProxyPendingManifest.objects.filter(repository=repository):
        parsed = parse_manifest(bytes(pending.content), pending.media_type)
        if _missing_blobs(repository, parsed):
            continue
        tags = sorted(ProxyCachedTag.objects.filter(repository=repository, digest=pending.digest).values_list("name", flat=True))
        try:
            _put(config, repository, parsed, tags)
        except (ManifestBlobUnknownError, QuotaExceededError) as exc:
            logger.info("proxy: %s@%s stays pending: %s", repository.full_name, pending.digest, exc.message)
            continue
        ProxyPendingManifest.objects.filter(pk=pending.pk).delete()


# --- blobs ------------------------------------------------------------------------------------


@dataclass
class ProxyBlob:
    """A blob a cached manifest references, not stored yet: ``chunks`` (GET only) streams it from
    the upstream while storing it."""

    digest: str
    size: int
    chunks: Iterator[bytes] | None = None


def _pending_descriptor_size(repository: Repository, digest: str) -> int | None:
    for pending in ProxyPendingManifest.objects.filter(repository=repository):
        try:
            parsed = parse_manifest(bytes(pending.content), pending.media_type)
        except RegistryError:
            continue
        for descriptor in (parsed.config, *parsed.layers):
            if descriptor is not None and descriptor.digest == digest:
                return descriptor.size
    return None


def proxy_blob_pending(*, name: str, digest: str, stream: bool) -> ProxyBlob | None:
    """The blob ``digest`` of a pending manifest in proxy-cache repository ``name`` (None when
    the repository is no proxy cache or no cached manifest references it). The caller has
    authorized the pull. With ``stream`` the upstream download is opened here, so its failure is
    a clean error (404 BLOB_UNKNOWN naming the upstream problem) rather than a broken response.
    """
    namespace_name, path = split_repository_name(name)
    config = proxy_config_for_namespace(namespace_name=namespace_name)
    if config is None:
        return None
    repository = repository_find(name=name)
    if repository is None:
        return None
    size = _pending_descriptor_size(repository, digest)
    if size is None:
        return None
    if not stream:
        return ProxyBlob(digest=digest, size=size)
    location = upstream_parse(config.upstream_registry)
    stack = ExitStack()
    try:
        client = stack.enter_context(_client(config, location))
        upstream = stack.enter_context(client.blob_get(location.repository(path), digest))
    except UpstreamNotFoundError:
        stack.close()
        raise BlobUnknownError(f"blob {digest} is gone from the upstream registry {config.upstream_registry}", detail={"digest": digest}) from None
    except (UpstreamError, OutboundURLError) as exc:
        stack.close()
        raise _unavailable(config, f"blob {digest}", _upstream_failed(config, exc), blob=True) from None
    upload = _start_fill(config, repository, size)
    return ProxyBlob(digest=digest, size=size, chunks=_tee(config, repository, digest, size, upstream.chunks, upload, stack))


def _start_fill(config: ProxyCacheConfig, repository: Repository, size: int) -> Any:
    """An upload for the blob, after making room under the quota; None when no room can be made
    (the blob is then only passed through)."""
    for _attempt in range(_MAX_EVICTIONS_PER_FILL):
        try:
            quota_check_upload(repository=repository, incoming=size)
            return blob_upload_start(repository=repository, algorithm="sha256")
        except QuotaExceededError:
            if not _evict_one(config, keep=set()):
                logger.warning("proxy %s: no room under the quota of %s; passing a blob through uncached", config.upstream_registry, repository.namespace.name)
                return None
    return None


def _tee(
    config: ProxyCacheConfig, repository: Repository, digest: str, size: int, chunks: Iterator[bytes], upload: Any, stack: ExitStack
) -> Iterator[bytes]:
    """Yield the upstream bytes to the client and append them to ``upload`` in batches; at the
    end verify the digest and make the blob visible. A failure of storing never fails the client's
    download; a broken upstream does (the client retries)."""
    batch: list[bytes] = []
    batched = 0
    sent = 0
    try:
        for chunk in chunks:
            if sent + len(chunk) > size:
                raise BlobUnknownError("the upstream sent more bytes than the manifest declares", detail={"digest": digest})
            sent += len(chunk)
            yield chunk
            if upload is None:
                continue
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _APPEND_BATCH_BYTES:
                upload = _append(upload, batch)
                batch, batched = [], 0
        if upload is not None:
            if batch:
                upload = _append(upload, batch)
            if upload is not None:
                # The client has every byte already (and checks the digest itself): failing to
                # keep the blob or to store the manifest now is logged, not raised.
                try:
                    blob_upload_complete(upload=upload, digest=digest)  # DIGEST_INVALID: nothing is kept
                    upload = None
                    _materialize(config, repository)
                except RegistryError as exc:
                    logger.warning("proxy: blob %s of %s was not cached: %s", digest, repository.full_name, exc.message)
    finally:
        if upload is not None and type(upload).objects.filter(pk=upload.pk).exists():
            blob_upload_cancel(upload=upload)
        stack.close()


def _append(upload: Any, batch: list[bytes]) -> Any:
    """Append a batch; on a failure to store (a concurrent fill took the quota's room, storage
    trouble) the upload is dropped and the rest of the blob is only passed through."""
    try:
        return blob_upload_append(upload=upload, body=BodyStream(chunks=batch, declared_length=None))
    except RegistryError as exc:
        logger.warning("proxy: caching a blob failed (%s); passing the rest through", exc.message)
        if type(upload).objects.filter(pk=upload.pk).exists():
            blob_upload_cancel(upload=upload)
        return None


# --- eviction ---------------------------------------------------------------------------------


def _evict_one(config: ProxyCacheConfig, *, keep: set[tuple[int, str]]) -> bool:
    """Evict the least recently pulled cached tag of the organization (not one in ``keep``):
    its tag rows and the manifests nothing else keeps go now; their blobs go at the next garbage
    collection. Returns False when there is nothing left to evict."""
    namespace_id = config.organization.namespace_id
    candidates = ProxyCachedTag.objects.filter(repository__namespace_id=namespace_id).select_related("repository").order_by("pulled_at", "id")
    victim = next((c for c in candidates[:50] if (c.repository_id, c.name) not in keep), None)
    if victim is None:
        return False
    repository = victim.repository
    with transaction.atomic():
        ProxyCachedTag.objects.filter(pk=victim.pk).delete()
        # a cache has no time machine: the tag's history rows go too, so nothing keeps the manifest
        Tag.objects.filter(repository=repository, name=victim.name).delete()
        _drop_unreferenced(repository)
        audit_log(kind="proxy_cache_evict", principal=None, repository=repository, metadata={"tag": victim.name, "digest": victim.digest})
    namespace_usage_recompute(namespace_id=namespace_id)
    logger.info("proxy: evicted %s:%s (least recently pulled) to make room under the quota", repository.full_name, victim.name)
    return True


def _drop_unreferenced(repository: Repository) -> None:
    """Delete the repository's manifests no tag, index or cached tag keeps (parents first)."""
    cached_digests = ProxyCachedTag.objects.filter(repository=repository).values("digest")
    ProxyPendingManifest.objects.filter(repository=repository).exclude(digest__in=cached_digests).delete()
    while True:
        orphans = list(
            Manifest.objects.filter(repository=repository)
            .exclude(Exists(Tag.objects.filter(manifest=OuterRef("pk"))))
            .exclude(Exists(ManifestChild.objects.filter(child=OuterRef("pk"))))
            .exclude(digest__in=cached_digests)
            .select_for_update()
        )
        if not orphans:
            return
        for manifest in orphans:
            ManifestChild.objects.filter(manifest=manifest).delete()
            manifest.delete()  # blob links and labels cascade; the blobs wait for the collector
