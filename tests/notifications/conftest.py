"""Fixtures of the notification tests: a real HTTP receiver and a real SMTP server on loopback,
an outbound policy that lets them be reached, API clients and users."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.api.conftest import PASSWORD, alice, anonymous, bearer, bob, login, make_user, root  # noqa: F401 - shared fixtures
from tests.live import free_port

FAST = {"max_failures": 3, "max_attempts": 3, "retry_backoff_s": 1, "timeout_s": 5, "log_retention_days": 30, "url_scheme": "http"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request and answers ``statuses`` in
    turn (the last one repeats)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [200])

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver():
    port = free_port()
    state = Receiver(port=port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = state.next_status()
            reply = b"ok" if status < 400 else b"receiver is broken"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback, and Django's SMTP backend pointed at it."""
    mailbox = _Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "registry@example.test"
    yield mailbox
    controller.stop()


@pytest.fixture(autouse=True)
def outbound_loopback(settings):
    """Loopback is refused by default; these tests allow it explicitly, with fast retries."""
    settings.MOORAGE = {
        **settings.MOORAGE,
        "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1", "localhost"]},
        "notifications": dict(FAST),
    }


@pytest.fixture
def strict_outbound(settings):
    """The default policy: nothing but public addresses."""
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": []}}
