"""The plain-HTTP port and the clients' HTTPS-first probe.

skopeo, podman, buildah (``--tls-verify=false`` or an insecure registries.conf entry) and the
docker CLI (``--insecure``) first try HTTPS and fall back to HTTP only once the TLS handshake
fails. A server that silently waits for a request line stalls every client command for the
client's handshake timeout (10 s in containers/image).
"""

from __future__ import annotations

import socket
import ssl

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.live]

HANG = 5  # seconds; the clients give up after 10


def _insecure_tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_tls_handshake_on_the_plain_http_port_is_refused_at_once(live_registry):
    # A server that keeps the client waiting makes this raise TimeoutError, not SSLError.
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=HANG) as sock, pytest.raises(ssl.SSLError):
        _insecure_tls_context().wrap_socket(sock, server_hostname="127.0.0.1")


def test_refused_handshake_gets_a_plain_http_error_the_client_can_report(live_registry):
    hello = _client_hello()
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=HANG) as sock:
        sock.sendall(hello)
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"plain HTTP" in answer


def test_plain_http_keeps_working_after_refused_handshakes(live_registry):
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", live_registry.port), timeout=HANG) as sock:
            sock.sendall(_client_hello())
            sock.makefile("rb").read()
    response = requests.get(f"{live_registry.url}/v2/", timeout=HANG)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def _client_hello() -> bytes:
    """The first bytes a real TLS client sends (a ClientHello record), produced by Python's ssl."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = _insecure_tls_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()
