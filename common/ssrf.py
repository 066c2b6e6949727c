"""The outbound-request policy (server-side request forgery guard) for every URL a user may give
us: webhooks and Slack hooks today, mirror and proxy-cache upstreams later.

A URL passes when it is ``http`` or ``https`` and every address its host resolves to is a public
one: loopback, link-local (with the ``169.254.169.254`` cloud metadata service), private,
shared (CGNAT), multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
addresses by the IPv4 address they carry. The ``outbound`` config section relaxes this:
``allow_private_networks`` admits private and shared ranges (never loopback, link-local or
metadata), ``allowed_hosts`` admits listed host names, addresses and networks (``127.0.0.1``,
``10.0.0.0/8``, ``hooks.internal``) whatever they resolve to.

``outbound_request`` connects to the very address that was checked (the URL's host goes into the
``Host`` header and the TLS server name), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot redirect the request. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from django.conf import settings

from common.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: ranges ``allow_private_networks`` admits (RFC 1918, shared address space, unique local)
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


class OutboundURLError(InvalidRequestError):
    """A URL the outbound policy refuses (400 through the API)."""


@dataclass(frozen=True)
class OutboundPolicy:
    allow_private_networks: bool = False
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> "OutboundPolicy":
        section = getattr(settings, "MOORAGE", {}).get("outbound", {})
        return cls(
            allow_private_networks=bool(section.get("allow_private_networks", False)),
            allowed_hosts=tuple(str(host).strip().lower() for host in section.get("allowed_hosts", []) if str(host).strip()),
        )

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allowed_hosts

    def address_allowed(self, address: IPAddress) -> bool:
        for entry in self.allowed_hosts:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue  # a host name, not an address or network
        return False


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the policy, with the addresses it was checked against."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    _parts: SplitResult

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        """The URL with its host replaced by ``address`` (what the connection really goes to)."""
        literal = f"[{address}]" if ":" in address else address
        return urlunsplit(self._parts._replace(netloc=f"{literal}:{self.port}"))


def refusal_reason(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why ``address`` may not be contacted (None: it may)."""
    if policy.address_allowed(address):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal_reason(address.ipv4_mapped, policy)
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address == ipaddress.ip_address("169.254.169.254"):
        return "the cloud metadata service"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if any(address in net for net in _PRIVATE_NETWORKS if net.version == address.version):
        return None if policy.allow_private_networks else "a private network address"
    if address.is_reserved or address.is_private or not address.is_global:
        return "a reserved or non-public address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundURLError(f"cannot resolve host {host!r}", detail={"host": host, "error": str(exc)}) from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_url(url: str, policy: OutboundPolicy | None = None) -> CheckedURL:
    """Check ``url`` against the policy and resolve its host.

    Raises:
        OutboundURLError: not http(s), no host, unresolvable, or an address the policy refuses
            (the message says which and why).
    """
    policy = policy or OutboundPolicy.from_settings()
    if not isinstance(url, str) or not url.strip():
        raise OutboundURLError("a URL is required")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundURLError(f"invalid URL: {exc}", detail={"url": url[:500]}) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundURLError("the URL must start with http:// or https://", detail={"url": url[:500]})
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundURLError("the URL has no host", detail={"url": url[:500]})
    if parts.username or parts.password:
        raise OutboundURLError("credentials in the URL are not allowed; use a secret or template instead", detail={"url": "(redacted)"})
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal is not None else _resolve(host, port)
    if not policy.host_allowed(host):
        for address in addresses:
            reason = refusal_reason(ipaddress.ip_address(address), policy)
            if reason:
                raise OutboundURLError(
                    f"outbound requests to {host} are not allowed: it resolves to {address}, {reason} "
                    "(see the outbound section of the configuration)",
                    detail={"host": host, "address": address},
                )
    return CheckedURL(url=url.strip(), scheme=scheme, host=host, port=port, addresses=tuple(addresses), _parts=parts)


def outbound_request(
    method: str, url: str, *, content: bytes | None = None, headers: dict[str, str] | None = None,
    timeout: float = 10.0, policy: OutboundPolicy | None = None, **kwargs: Any,
) -> httpx.Response:
    """Send one request to ``url`` after ``check_url``, pinned to the checked addresses (tried in
    order until one connects). Redirects are not followed.

    Raises:
        OutboundURLError: the policy refuses the URL.
        httpx.HTTPError: every address failed (the last error).
    """
    checked = check_url(url, policy)
    sent_headers = {**(headers or {}), "Host": checked.host_header}
    extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
    last_error: httpx.HTTPError | None = None
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for address in checked.addresses:
            try:
                return client.request(
                    method, checked.url_for(address), content=content, headers=sent_headers, extensions=extensions, **kwargs
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last_error = exc
    assert last_error is not None
    raise last_error
