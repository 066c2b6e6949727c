"""Our own OCI Distribution client (httpx), for mirroring and proxy caching.

What it speaks: ``/v2/`` ping, ``tags/list`` and ``_catalog`` following ``Link`` pagination,
manifest GET/HEAD with an ``Accept`` of every OCI and Docker manifest type, blob HEAD and blob GET
streamed in chunks (a blob is never held whole in memory).

Authentication follows the registry's challenge: ``Bearer`` (the Docker token flow: the realm is
asked for a token for the request's scope, with Basic credentials when given; tokens are cached
per scope until they expire) or ``Basic`` (credentials sent on every later request).

Robustness: 429 answers wait for ``Retry-After`` (capped) and 5xx answers and dropped
connections are retried with exponential backoff; timeouts on connect and read; TLS certificates
verified unless ``verify_tls=False``. Every connection (registry, token realm, redirect targets
such as a storage CDN) passes the outbound policy of ``common.ssrf`` and goes to the address that
was checked.

Lowest layer: no models; reads only the ``mirror`` and ``outbound`` config sections.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import logging
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from django.conf import settings

from common.errors import RegistryError
from common.ssrf import CheckedURL, OutboundPolicy, OutboundURLError, check_url

logger = logging.getLogger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
#: every manifest type we can store, preferred first (schema 1 last: only if nothing else exists)
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, f"{DOCKER_SCHEMA1_SIGNED};q=0.5", f"{DOCKER_SCHEMA1};q=0.5"))

USER_AGENT = "moorage-registry-client/1"
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


# --- errors -----------------------------------------------------------------------------------


class UpstreamError(RegistryError):
    """The upstream registry answered something we cannot use, or could not be reached."""

    code, http_status, default_message = "UPSTREAM_ERROR", 502, "the upstream registry failed"


class UpstreamUnavailableError(UpstreamError):
    """Connection refused or timed out, 5xx or 429 after every retry."""

    code, default_message = "UPSTREAM_UNAVAILABLE", "the upstream registry is unavailable"


class UpstreamAuthError(UpstreamError):
    """401/403 from the upstream (or its token service) even with our credentials."""

    code, default_message = "UPSTREAM_UNAUTHORIZED", "the upstream registry refused our credentials"


class UpstreamNotFoundError(UpstreamError):
    """404 from the upstream: no such repository, tag, manifest or blob."""

    code, http_status, default_message = "UPSTREAM_NOT_FOUND", 404, "not found on the upstream registry"


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0
    chunk_bytes: int = 1 << 20

    @classmethod
    def from_settings(cls) -> "ClientSettings":
        section = getattr(settings, "MOORAGE", {}).get("mirror", {}) or {}
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in section.items() if key in known})


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never in a log or a traceback
        return f"Credentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class ManifestInfo:
    """What a manifest HEAD tells: the digest, media type and size (no body)."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class UpstreamManifest:
    raw: bytes
    media_type: str
    digest: str


@dataclass
class BlobStream:
    """An open blob download: iterate ``chunks`` once; ``size`` is the declared length."""

    size: int | None
    chunks: Iterator[bytes]


@dataclass
class RequestLog:
    """Counts of what the client sent, by kind (``manifest_get``, ``blob_get``, ``token``...)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


# --- the reference parser ---------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamReference:
    """``[http(s)://]host[:port]/path`` split into the registry base URL and the repository path."""

    scheme: str | None  # None: not given (https, or http as a fallback when TLS is not verified)
    host: str
    repository: str

    @classmethod
    def parse(cls, reference: str) -> "UpstreamReference":
        text = (reference or "").strip()
        scheme: str | None = None
        if "://" in text:
            scheme, text = text.split("://", 1)
            scheme = scheme.lower()
            if scheme not in ("http", "https"):
                raise UpstreamError("the upstream reference must be host/repository, optionally with http:// or https://", detail={"reference": reference[:300]})
        host, _, path = text.partition("/")
        path = path.strip("/")
        if not host or not path or "@" in host:
            raise UpstreamError("the upstream reference must name a registry host and a repository (registry.example.com/team/app)", detail={"reference": reference[:300]})
        if ":" in path.rsplit("/", 1)[-1] or "@" in path:
            raise UpstreamError("the upstream reference names a repository, not a tag or digest", detail={"reference": reference[:300]})
        if host.lower() in ("docker.io", "index.docker.io"):
            host = "registry-1.docker.io"
            if "/" not in path:
                path = f"library/{path}"
        return cls(scheme=scheme, host=host.lower(), repository=path)

    def base_url(self, scheme: str) -> str:
        return f"{scheme}://{self.host}"


# --- the SSRF-checked transport ---------------------------------------------------------------


class CheckedTransport(httpx.BaseTransport):
    """Checks each origin against the outbound policy once per client and connects to the very
    address that was checked (the host name stays in ``Host`` and the TLS server name)."""

    def __init__(self, *, verify: bool, policy: OutboundPolicy | None = None) -> None:
        self._policy = policy
        self._inner = httpx.HTTPTransport(verify=verify, retries=0)
        self._checked: dict[tuple[str, str, int | None], CheckedURL] = {}

    def _check(self, url: httpx.URL) -> CheckedURL:
        key = (url.scheme, url.host, url.port)
        checked = self._checked.get(key)
        if checked is None:
            checked = check_url(f"{url.scheme}://{url.netloc.decode('ascii')}/", self._policy)
            self._checked[key] = checked
        return checked

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        checked = self._check(request.url)
        headers = request.headers.copy()
        headers["Host"] = checked.host_header
        extensions = dict(request.extensions)
        if checked.scheme == "https":
            extensions["sni_hostname"] = checked.host
        last_error: Exception | None = None
        for address in checked.addresses:
            pinned = httpx.Request(
                request.method, request.url.copy_with(host=address), headers=headers, stream=request.stream, extensions=extensions
            )
            try:
                return self._inner.handle_request(pinned)
            except httpx.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def close(self) -> None:
        self._inner.close()


# --- the client -------------------------------------------------------------------------------


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RegistryClient:
    """A client of one upstream registry. Use as a context manager (it holds a connection pool).

    Raises (from every method): UpstreamNotFoundError, UpstreamAuthError, UpstreamUnavailableError,
    UpstreamError, OutboundURLError (the policy refuses the upstream or its token realm).
    """

    def __init__(
        self, registry: str, *, credentials: Credentials | None = None, verify_tls: bool = True,
        policy: OutboundPolicy | None = None, options: ClientSettings | None = None, sleep: Any = time.sleep,
    ) -> None:
        """``registry`` is ``[http(s)://]host[:port]``; without a scheme https is used, and plain
        http is tried when https fails and ``verify_tls`` is off (as container tools do for an
        "insecure" registry)."""
        if "://" in registry:
            scheme, _, host = registry.partition("://")
            self._scheme: str | None = scheme.lower()
            self._host = host.strip("/")
        else:
            self._scheme, self._host = None, registry.strip("/")
        if self._scheme not in (None, "http", "https") or not self._host:
            raise UpstreamError("invalid upstream registry address", detail={"registry": registry[:300]})
        self.credentials = credentials
        self.verify_tls = verify_tls
        self.options = options or ClientSettings.from_settings()
        self.log = RequestLog()
        self._sleep = sleep
        self._policy = policy
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, monotonic expiry)
        self._auth_scheme: str | None = None  # "bearer" or "basic" once a challenge was seen
        self._bearer_params: dict[str, str] = {}
        timeout = httpx.Timeout(self.options.read_timeout_s, connect=self.options.connect_timeout_s)
        self._http = httpx.Client(
            transport=CheckedTransport(verify=verify_tls, policy=policy), timeout=timeout, follow_redirects=True,
            trust_env=False, headers={"User-Agent": USER_AGENT},
        )

    @classmethod
    def for_reference(cls, reference: UpstreamReference, **kwargs: Any) -> "RegistryClient":
        registry = f"{reference.scheme}://{reference.host}" if reference.scheme else reference.host
        return cls(registry, **kwargs)

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self._scheme or 'https'}://{self._host}"

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _auth_header(self, scope: str) -> dict[str, str]:
        if self._auth_scheme == "bearer":
            cached = self._tokens.get(scope)
            if cached and cached[1] > time.monotonic():
                return {"Authorization": f"Bearer {cached[0]}"}
        elif self._auth_scheme == "basic" and self.credentials:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        return {}

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        realm = params.get("realm")
        if not realm:
            raise UpstreamAuthError("the upstream's Bearer challenge names no realm")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        for item in (params.get("scope") or scope).split(" "):
            if item:
                query.append(("scope", item))
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        auth = httpx.BasicAuth(self.credentials.username, self.credentials.password) if self.credentials else None
        self.log.add("token")
        try:
            response = self._http.get(url, auth=auth)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"the upstream token service is unreachable: {exc}", detail={"realm": realm}) from exc
        if response.status_code in (401, 403):
            raise UpstreamAuthError("the upstream token service refused our credentials", detail={"realm": realm, "status": response.status_code})
        if response.status_code != 200:
            raise UpstreamError(f"the upstream token service answered {response.status_code}", detail={"realm": realm})
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            expires_in = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token = None
        if not token or not isinstance(token, str):
            raise UpstreamError("the upstream token service answered no token", detail={"realm": realm})
        # renew a little early so a token does not die in flight
        self._tokens[scope] = (token, time.monotonic() + max(1.0, expires_in - 5))
        return token

    def _authenticate(self, response: httpx.Response, scope: str) -> bool:
        """Answer a 401 challenge; False when there is nothing more to try."""
        header = response.headers.get("WWW-Authenticate", "")
        scheme, params = _parse_challenge(header)
        if scheme == "bearer":
            self._auth_scheme = "bearer"
            self._bearer_params = params
            self._fetch_token(params, scope)
            return True
        if scheme == "basic" and self.credentials and self._auth_scheme != "basic":
            self._auth_scheme = "basic"
            return True
        return False

    def _backoff(self, attempt: int) -> float:
        delay = min(self.options.max_backoff_s, self.options.backoff_s * (2**attempt))
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    def _send(self, method: str, path_or_url: str, *, scope: str, kind: str, stream: bool = False,
              headers: dict[str, str] | None = None) -> httpx.Response:
        """One logical request with auth, retries and the http fallback; a non-2xx final answer is
        returned (the caller maps it). With ``stream`` the caller must close the response."""
        url = path_or_url if "://" in path_or_url else self._url(path_or_url)
        attempt = 0
        authenticated = False
        while True:
            request = self._http.build_request(method, url, headers={**(headers or {}), **self._auth_header(scope)})
            self.log.add(kind)
            try:
                response = self._http.send(request, stream=stream)
            except OutboundURLError:
                raise
            except httpx.ConnectError as exc:
                if self._scheme is None and not self.verify_tls and url.startswith("https://"):
                    # an "insecure" registry without a scheme: try plain http, as skopeo does
                    self._scheme = "http"
                    url = "http://" + url[len("https://"):]
                    continue
                error: Exception = exc
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                error = exc
            else:
                if response.status_code == 401 and not authenticated:
                    response.close()
                    authenticated = True
                    if self._authenticate(response, scope):
                        continue
                    raise UpstreamAuthError("the upstream registry requires credentials", detail={"url": url})
                if response.status_code == 429 or response.status_code in _RETRY_STATUSES:
                    if attempt >= self.options.max_retries:
                        response.close()
                        raise UpstreamUnavailableError(
                            f"the upstream registry answered {response.status_code} after {attempt + 1} attempts", detail={"url": url, "status": response.status_code}
                        )
                    wait = _retry_after(response.headers.get("Retry-After")) if response.status_code == 429 else None
                    wait = min(self.options.max_retry_after_s, wait) if wait is not None else self._backoff(attempt)
                    response.close()
                    logger.info("upstream %s answered %s; retrying in %.1f s", url, response.status_code, wait)
                    self._sleep(wait)
                    attempt += 1
                    continue
                if self._scheme is None:
                    self._scheme = "https" if url.startswith("https://") else "http"
                return response
            if attempt >= self.options.max_retries:
                raise UpstreamUnavailableError(f"the upstream registry is unreachable: {error}", detail={"url": url}) from error
            self._sleep(self._backoff(attempt))
            attempt += 1

    def _fail(self, response: httpx.Response, what: str) -> UpstreamError:
        status = response.status_code
        detail = {"status": status, "what": what}
        try:
            errors = response.json().get("errors")
            if isinstance(errors, list) and errors:
                detail["errors"] = errors[:5]
        except (ValueError, AttributeError, httpx.ResponseNotRead):
            pass
        if status == 404:
            return UpstreamNotFoundError(f"{what} not found on the upstream registry", detail=detail)
        if status in (401, 403):
            return UpstreamAuthError(f"the upstream registry refused access to {what} ({status})", detail=detail)
        return UpstreamError(f"the upstream registry answered {status} for {what}", detail=detail)

    # -- the API -------------------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/`` (authenticating if the registry asks)."""
        response = self._send("GET", "/v2/", scope="", kind="ping")
        if response.status_code != 200:
            raise self._fail(response, "the /v2/ endpoint")

    def _paged(self, path: str, key: str, *, scope: str, kind: str, page_size: int | None) -> Iterator[str]:
        url = path + (f"?n={page_size}" if page_size else "")
        pages = 0
        while url:
            response = self._send("GET", url, scope=scope, kind=kind)
            if response.status_code != 200:
                raise self._fail(response, path)
            try:
                names = response.json().get(key) or []
            except (ValueError, AttributeError):
                raise UpstreamError(f"the upstream registry answered invalid JSON for {path}") from None
            yield from (str(name) for name in names)
            link = _LINK_NEXT.search(response.headers.get("Link", ""))
            pages += 1
            if not link or pages > 100_000:
                return
            next_url = urljoin(str(response.url), link.group(1))
            if urlsplit(next_url).netloc != urlsplit(str(response.url)).netloc:
                raise UpstreamError("the upstream registry's next page points to another host", detail={"link": next_url[:300]})
            url = next_url

    def tags(self, repository: str, *, page_size: int | None = None) -> Iterator[str]:
        """Every tag of ``repository``, following ``Link: <...>; rel="next"`` pages."""
        return self._paged(f"/v2/{repository}/tags/list", "tags", scope=f"repository:{repository}:pull", kind="tags", page_size=page_size)

    def catalog(self, *, page_size: int | None = None) -> Iterator[str]:
        return self._paged("/v2/_catalog", "repositories", scope="registry:catalog:*", kind="catalog", page_size=page_size)

    def manifest_head(self, repository: str, reference: str) -> ManifestInfo:
        response = self._send("HEAD", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull", kind="manifest_head", headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code != 200:
            raise self._fail(response, f"manifest {repository}:{reference}")
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest:  # some registries answer HEAD without it: fetch the body instead
            got = self.manifest_get(repository, reference)
            return ManifestInfo(digest=got.digest, media_type=got.media_type, size=len(got.raw))
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return ManifestInfo(digest=digest, media_type=media_type, size=int(response.headers.get("Content-Length") or 0))

    def manifest_get(self, repository: str, reference: str, *, max_bytes: int | None = None) -> UpstreamManifest:
        """The manifest's exact bytes; the digest is computed here (and must match a digest reference)."""
        limit = max_bytes if max_bytes is not None else int(getattr(settings, "MOORAGE_LIMITS", {}).get("max_manifest_bytes") or 4 << 20)
        response = self._send("GET", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull", kind="manifest_get", headers={"Accept": MANIFEST_ACCEPT}, stream=True)
        try:
            if response.status_code != 200:
                response.read()
                raise self._fail(response, f"manifest {repository}:{reference}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise UpstreamError(f"the upstream manifest exceeds {limit} bytes", detail={"reference": reference})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"the upstream manifest download failed: {exc}") from exc
        finally:
            response.close()
        raw = bytes(body)
        algorithm = reference.split(":", 1)[0] if ":" in reference else "sha256"
        if algorithm not in ("sha256", "sha384", "sha512"):
            algorithm = "sha256"
        digest = f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}"
        if ":" in reference and reference != digest:
            raise UpstreamError("the upstream manifest does not match its digest", detail={"expected": reference, "actual": digest})
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return UpstreamManifest(raw=raw, media_type=media_type, digest=digest)

    def blob_head(self, repository: str, digest: str) -> int | None:
        """The blob's size, or None when the upstream does not have it."""
        response = self._send("HEAD", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull", kind="blob_head")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, f"blob {digest}")
        length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    @contextmanager
    def blob_get(self, repository: str, digest: str) -> Iterator[BlobStream]:
        """Stream a blob: ``with client.blob_get(repo, digest) as blob: for chunk in blob.chunks``.
        Redirects (a CDN, presigned storage URLs) are followed, each target policy-checked."""
        response = self._send("GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull", kind="blob_get", stream=True)
        try:
            if response.status_code != 200:
                response.read()
                raise self._fail(response, f"blob {digest}")
            length = response.headers.get("Content-Length")

            def chunks() -> Iterator[bytes]:
                try:
                    yield from response.iter_bytes(self.options.chunk_bytes)
                except httpx.HTTPError as exc:
                    raise UpstreamUnavailableError(f"the upstream blob download broke off: {exc}", detail={"digest": digest}) from exc

            yield BlobStream(size=int(length) if length and length.isdigit() else None, chunks=chunks())
        finally:
            response.close()
