"""Our OCI client (common/registry_client.py) against real servers: Retry-After on 429 and
backoff on 5xx (a tiny loopback front server that answers them before forwarding to a real
Distribution), catalog pagination, the outbound (SSRF) policy, and the sync's record of an
upstream the policy refuses."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
from django.db import connection as db_connection

from common.registry_client import RegistryClient, UpstreamNotFoundError, UpstreamReference, UpstreamUnavailableError
from common.ssrf import OutboundPolicy, OutboundURLError
from repositories.models import BlobUpload, Tag
from repositories.models.mirror import MirrorStatus, RepositoryMirror
from repositories.services.mirror import mirror_sync
from tests.live import free_port
from tests.factories import digest_of
from tests.mirror.conftest import configure, make_image

pytestmark = pytest.mark.live


@dataclass
class Front:
    """A loopback HTTP server in front of ``target``: answers the scripted ``faults`` (status,
    headers) to requests whose path contains ``match``, in turn, then forwards everything."""

    port: int
    target_port: int
    match: str = ""
    faults: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[float, str, str, int]] = field(default_factory=list)
    #: called with the path before a request is forwarded
    on_request: Callable[[str], None] | None = None

    @property
    def registry(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def front(upstream):
    state = Front(port=free_port(), target_port=upstream.port)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            if state.match and state.match in self.path and state.faults:
                status, headers = state.faults.pop(0)
                state.seen.append((time.monotonic(), self.command, self.path, status))
                body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body)), "Content-Type": "application/json"}.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
            if state.on_request is not None:
                state.on_request(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            connection = http.client.HTTPConnection("127.0.0.1", state.target_port, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            state.seen.append((time.monotonic(), self.command, self.path, answer.status))
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", answer.getheader("Content-Length") or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        do_GET = do_HEAD = do_PUT = do_POST = _handle  # noqa: N815 - http.server's names

        def log_message(self, *args: Any) -> None:
            pass

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client hung up mid-answer (a cancelled download): expected

    server = QuietServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_a_429_with_retry_after_is_waited_out_and_the_request_retried(upstream, front):
    image = upstream.push_image("lib/app", "v1", make_image("one"))
    front.match, front.faults = "/manifests/v1", [(429, {"Retry-After": "1"})]

    with RegistryClient(front.registry) as client:
        info = client.manifest_head("lib/app", "v1")

    assert info.digest == image.digest
    head = [(when, status) for when, method, path, status in front.seen if "/manifests/v1" in path]
    assert [status for _, status in head] == [429, 200]
    assert head[1][0] - head[0][0] >= 0.95  # Retry-After: 1 honoured


def test_5xx_answers_are_retried_with_backoff_until_one_succeeds(upstream, front):
    upstream.push_image("lib/app", "v1", make_image("one"))
    front.match, front.faults = "/tags/list", [(503, {}), (502, {})]

    with RegistryClient(front.registry) as client:
        assert list(client.tags("lib/app")) == ["v1"]
        assert client.log.counts["tags"] == 3


def test_a_registry_that_keeps_answering_429_is_given_up_after_the_retries(upstream, front):
    front.match, front.faults = "/tags/list", [(429, {"Retry-After": "0"})] * 10

    with RegistryClient(front.registry) as client, pytest.raises(UpstreamUnavailableError, match="429 after 3 attempts"):
        list(client.tags("lib/app"))


def test_a_sync_through_a_rate_limiting_front_still_succeeds(setup, upstream, front):
    upstream.push_image("lib/app", "v1", make_image("one"))
    front.match, front.faults = "/blobs/", [(429, {"Retry-After": "1"})]
    mirror = configure(setup, f"{front.registry}/lib/app")

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert result.counts["blobs_copied"] == 3


def test_the_catalog_follows_link_pagination(upstream):
    for name in ("a/one", "b/two", "c/three", "d/four", "e/five"):
        upstream.push_image(name, "v1", make_image(name))

    with RegistryClient(upstream.url) as client:
        names = list(client.catalog(page_size=2))
        pages = client.log.counts["catalog"]

    assert names == ["a/one", "b/two", "c/three", "d/four", "e/five"]
    assert pages == 3


def test_an_unknown_upstream_repository_is_a_not_found_error(upstream):
    with RegistryClient(upstream.url) as client, pytest.raises(UpstreamNotFoundError):
        list(client.tags("nobody/here"))


def test_without_a_scheme_and_without_tls_verification_plain_http_is_used(upstream):
    upstream.push_image("lib/app", "v1", make_image("one"))
    reference = UpstreamReference.parse(f"127.0.0.1:{upstream.port}/lib/app")

    with RegistryClient.for_reference(reference, verify_tls=False) as client:
        assert list(client.tags(reference.repository)) == ["v1"]
        assert client.base_url.startswith("http://")


def test_with_tls_verification_an_http_only_registry_is_not_silently_downgraded(upstream):
    reference = UpstreamReference.parse(f"127.0.0.1:{upstream.port}/lib/app")

    with RegistryClient.for_reference(reference, verify_tls=True) as client, pytest.raises(UpstreamUnavailableError):
        client.ping()


# --- the outbound policy --------------------------------------------------------------------


def test_private_and_loopback_upstreams_are_refused_before_any_connection(settings):
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": []}}

    with RegistryClient("http://10.1.2.3:5000") as client, pytest.raises(OutboundURLError, match="private network"):
        client.ping()
    with RegistryClient("http://127.0.0.1:5000") as client, pytest.raises(OutboundURLError, match="loopback"):
        client.ping()
    with RegistryClient("http://169.254.169.254") as client, pytest.raises(OutboundURLError, match="metadata"):
        client.ping()


def test_the_policy_is_checked_for_the_token_realm_too(upstream):
    policy = OutboundPolicy(allowed_hosts=("127.0.0.1",))
    with RegistryClient(upstream.url, policy=policy) as client:
        client.ping()  # allowed
    with RegistryClient(upstream.url, policy=OutboundPolicy()) as client, pytest.raises(OutboundURLError):
        client.ping()


@pytest.mark.django_db(transaction=True)
def test_a_sync_to_a_refused_address_fails_with_the_policy_message(setup, upstream, settings):
    mirror = configure(setup, upstream.reference("lib/app"))
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": []}}

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "FAIL"
    mirror.refresh_from_db()
    assert mirror.status == MirrorStatus.FAIL
    assert "not allowed" in mirror.last_error and "loopback" in mirror.last_error


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_a_long_blob_download_stops_it_and_keeps_nothing(setup, upstream, front, monkeypatch):
    image = upstream.push_image("lib/app", "v1", make_image("big", layer_bytes=3_000_000))  # three 1 MiB chunks
    big_layer = digest_of(image.blobs[1])
    monkeypatch.setattr("repositories.services.mirror._RENEW_EVERY_S", -1.0)  # renew (and look for a cancel) at every chunk
    mirror = configure(setup, f"{front.registry}/lib/app")

    def cancel_when_the_big_layer_is_asked_for(path: str) -> None:
        if big_layer in path and "/blobs/" in path:
            RepositoryMirror.objects.filter(pk=mirror.pk).update(cancel_requested=True)  # what sync-cancel does
            db_connection.close()  # this server thread's own connection

    front.on_request = cancel_when_the_big_layer_is_asked_for

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "CANCEL"
    assert not BlobUpload.objects.exists()  # the partial upload was removed
    assert not Tag.objects.filter(repository=setup.repository).exists()
    assert result.counts["blobs_copied"] == 1  # only the config came before the cancel
