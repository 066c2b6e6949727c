"""gunicorn settings for Moorage (``make run`` and the test servers use this file).

gthread workers: blob transfers block on I/O, threads keep other requests moving; FileResponse
bodies go out with sendfile.
"""

import io
import os
import socket
import threading
import time

from gunicorn.http.body import LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import ThreadWorker

#: bytes per recv() of a request (gunicorn's default is 8 KiB); 64 KiB keeps the copy that
#: Body.read's 1 KiB steps make of the rest small when a body is read line by line
SOCKET_READ_BYTES = 64 * 1024
TLS_HANDSHAKE_RECORD = b"\x16"
TLS_REFUSAL_TEXT = b"This registry speaks plain HTTP on this port, not HTTPS.\n"
TLS_REFUSAL = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(TLS_REFUSAL_TEXT)
    + TLS_REFUSAL_TEXT
)


class RegistryThreadWorker(ThreadWorker):
    """gthread, plus a prompt answer to a TLS handshake on the plain-HTTP port.

    skopeo, podman, buildah and the docker CLI try HTTPS first even for an insecure registry and
    fall back to HTTP only once the handshake fails. gunicorn would wait for a request line that
    never comes, so every client command stalled for its 10 s handshake timeout while holding a
    thread. A plain 400 to the ClientHello fails the handshake at once.
    """

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = _close_after_unread_body(self.wsgi)
        from django.conf import settings  # loaded by the WSGI application above

        self.body_idle_timeout = settings.MOORAGE["server"]["body_idle_timeout_s"]

    def handle_request(self, req, conn):
        _current.request = req
        try:
            keepalive = super().handle_request(req, conn)
        finally:
            _current.request = None
        if getattr(req, "moorage_unread_body", False) and not getattr(req, "moorage_stalled", False):
            _linger(conn.sock)
        return keepalive

    def handle(self, conn):
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, SocketUnreader):
            if unreader.mxchunk < SOCKET_READ_BYTES:
                unreader.mxchunk = SOCKET_READ_BYTES  # see _DirectLengthInput
            if not getattr(unreader, "moorage_idle_limited", False):
                unreader.chunk = _stall_aware(unreader.chunk)
                unreader.moorage_idle_limited = True
        if not self.cfg.is_ssl and not getattr(conn, "tls_checked", False):
            conn.tls_checked = True
            try:
                first = conn.sock.recv(1, socket.MSG_PEEK)
            except OSError:
                first = b""
            if first == TLS_HANDSHAKE_RECORD:
                _refuse_tls(conn.sock)
                return (False, conn)
        # gunicorn reads a request with a blocking socket and no timeout: a client that sends its
        # headers and part of a body, then nothing, held a thread for good (all of them, with a
        # few such clients). Every recv of this request now waits at most body_idle_timeout_s.
        conn.sock.settimeout(getattr(self, "body_idle_timeout", None))
        return super().handle(conn)


# -- early answers -------------------------------------------------------------------------------
# A request answered before its body was read (401 before an upload, 404 for an unknown upload)
# must not keep its connection: gunicorn would read the rest of the body before the next request
# and a client that stays idle would pin the thread (a handful of them froze a worker). The
# connection is closed after the answer instead, with a bounded lingering read so the client's
# unsent bytes cannot turn the close into a reset that destroys the answer (nginx does the same).
_current = threading.local()
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 * 1024 * 1024


def _body_unread(body) -> bool:
    reader = getattr(body, "reader", None)
    if hasattr(reader, "length"):  # Content-Length body: bytes still on the wire
        return reader.length > 0
    if hasattr(reader, "parser"):  # chunked body: the parser is dropped at the last chunk
        return reader.parser is not None
    return False  # no body, or read until EOF (the connection closes anyway)


class ClientStalled(NoMoreData):
    """The client sent nothing for ``server.body_idle_timeout_s``. Before the body, gunicorn
    treats it as a client that went away (the connection is closed, logged at debug level)."""


def _stall_aware(chunk):
    def read():
        try:
            return chunk()
        except TimeoutError as exc:  # socket.timeout
            raise ClientStalled(b"") from exc

    return read


def _unreadable(error: NoMoreData):
    """The request's body stopped arriving (the client stalled or closed the connection): close
    the connection after the answer (no lingering read for a silent client) and let the
    application fail the request as an unreadable body (Django's ``UnreadablePostError``: the
    /v2 views answer 408 and keep nothing of the body)."""
    from django.http import UnreadablePostError

    request = getattr(_current, "request", None)
    if request is not None:
        request.must_close = True
        request.moorage_stalled = isinstance(error, ClientStalled)
    if isinstance(error, ClientStalled):
        return UnreadablePostError("the client sent nothing of the request body for too long")
    return UnreadablePostError("the client closed the connection before the end of the request body")


class _DirectLengthInput:
    """``wsgi.input`` of a Content-Length body, read straight through gunicorn's LengthReader.

    gunicorn's ``Body.read(n)`` fills its buffer 1 KiB at a time, and every 1 KiB step copies
    and pushes back the rest of the 8 KiB socket read: a blob push spent over half its time
    there (bench/README.md). Reading through the LengthReader takes the same bytes in one pass,
    with 64 KiB socket reads (``SOCKET_READ_BYTES``) instead of 8 KiB. Blob uploads use
    ``readinto`` instead, which skips that assembly too (``oci/streams.request_body``).
    Anything else (a line-wise read, a body with bytes already in Body's buffer, a chunked body)
    goes to Body. Every body is wrapped, so that a stalled client (``ClientStalled``) reaches the
    application as an unreadable body on every path.
    """

    def __init__(self, body):
        self._body = body

    @property
    def reader(self):  # _body_unread() looks at it
        return self._body.reader

    def read(self, size=None):
        try:
            reader = self._body.reader
            if self._body.buf.tell() or not isinstance(reader, LengthReader):
                return self._body.read(size)
            if size is None or size < 0 or size > reader.length:
                size = reader.length
            return reader.read(size) if size else b""
        except NoMoreData as exc:
            raise _unreadable(exc) from exc

    def readinto(self, buffer) -> int:
        """Fill ``buffer`` with the next bytes of the body (fewer only at its end, or when the client
        closed early: the caller's length check reports that); 0 once the body is read.

        A Content-Length body goes from the socket straight into ``buffer`` with ``recv_into``,
        after whatever gunicorn's unreader already holds past the headers, and never past the
        body (the next request on the connection stays in the socket). The other ``read()``
        path assembles each read in ``BytesIO`` buffers, three copies per byte
        (bench/README.md, "What was tried", item 15).
        """
        view = memoryview(buffer).cast("B")
        reader = self._body.reader
        unreader = getattr(reader, "unreader", None)
        if self._body.buf.tell() or not isinstance(reader, LengthReader) or not isinstance(unreader, SocketUnreader):
            data = self.read(len(view))
            view[: len(data)] = data
            return len(data)
        size = min(len(view), reader.length)
        filled = 0
        pending = unreader.buf.getvalue() if size else b""
        if pending:  # the first body bytes, read with the headers
            filled = min(size, len(pending))
            view[:filled] = pending[:filled]
            unreader.buf = io.BytesIO()
            unreader.buf.write(pending[filled:])
        while filled < size:
            try:
                received = unreader.sock.recv_into(view[filled:size])
            except TimeoutError as exc:  # socket.timeout: body_idle_timeout_s without a byte
                raise _unreadable(ClientStalled(b"")) from exc
            if not received:
                break  # the client closed the connection: a short body
            filled += received
        reader.length -= filled
        return filled

    def readline(self, size=None):
        try:
            return self._body.readline(size)
        except NoMoreData as exc:
            raise _unreadable(exc) from exc

    def readlines(self, size=None):
        try:
            return self._body.readlines(size)
        except NoMoreData as exc:
            raise _unreadable(exc) from exc

    def __iter__(self):
        while line := self.readline():
            yield line


def _close_after_unread_body(app):
    def wrapped(environ, start_response):
        body = environ.get("wsgi.input")
        if hasattr(body, "reader"):  # a gunicorn Body (Content-Length, chunked or until EOF)
            environ["wsgi.input"] = _DirectLengthInput(body)

        def start(status, headers, exc_info=None):
            request = getattr(_current, "request", None)
            if request is not None and _body_unread(environ.get("wsgi.input")):
                request.must_close = True  # gunicorn answers "Connection: close" and closes
                request.moorage_unread_body = True
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


def _linger(sock: socket.socket) -> None:
    """Stop sending, then read and drop what the client still sends, for a bounded time."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline, drained = time.monotonic() + LINGER_SECONDS, 0
        while drained < LINGER_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass


def _refuse_tls(sock: socket.socket) -> None:
    """Read the ClientHello record, then answer. Closing with unread input sends a TCP reset,
    which can destroy the answer before the client reads it."""
    try:
        sock.settimeout(2)
        header = _read_exactly(sock, 5)  # type, version (2 bytes), length (2 bytes)
        _read_exactly(sock, int.from_bytes(header[3:5], "big"))
        sock.sendall(TLS_REFUSAL)
    except OSError:
        pass


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


worker_class = RegistryThreadWorker
workers = int(os.environ.get("MOORAGE_SERVER_WORKERS", "2"))
threads = int(os.environ.get("MOORAGE_SERVER_THREADS", "16"))
timeout = int(os.environ.get("MOORAGE_SERVER_TIMEOUT", "600"))
graceful_timeout = 20
keepalive = 30
# Large headers (long Link or auth tokens) are fine; huge ones are refused by gunicorn.
limit_request_field_size = 16384
accesslog = os.environ.get("MOORAGE_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("MOORAGE_LOG_LEVEL", "info").lower()


def child_exit(server, worker):  # keep multiprocess metrics consistent when a worker dies
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
