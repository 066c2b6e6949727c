"""Private backing services the fault, soak and scale-out tests may stop and start at will.

Never the machine's shared PostgreSQL or Redis (other test runs use them): each service here is
a process of our own on a free loopback port, in a temporary folder removed by ``destroy``.

- ``PrivatePostgres``: ``initdb`` + ``pg_ctl`` from /usr/lib/postgresql/*/bin (run as the
  ``postgres`` user when we are root: PostgreSQL refuses to run as root);
- ``PrivateRedis``: ``redis-server`` without persistence;
- ``MotoServer``: moto's S3 server, restartable on the same port (its buckets live in memory, so
  a restart loses them: ``stop``/``start`` only models an outage, ``pause``/``resume`` keeps data);
- ``Tmpfs``: a small tmpfs mount (root only) for the disk-full case;
- ``TcpProxy``: a forwarder that can be cut (connections refused) or hung (connections accepted,
  nothing ever answered), for an object store or a Redis that becomes unreachable.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.live import free_port


def _wait(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen in {timeout} s")
        time.sleep(0.1)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own: ``url`` is a superuser URL of its ``postgres`` database."""

    root: Path
    port: int = field(default_factory=free_port)

    @classmethod
    def create(cls) -> "PrivatePostgres":
        binaries = _postgres_bin()
        if binaries is None:
            pytest.skip("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)")
        root = Path(tempfile.mkdtemp(prefix="moorage-pg-"))
        server = cls(root=root)
        os.chmod(root, 0o755)
        (root / "data").mkdir(mode=0o700)
        (root / "sock").mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (root / "data", root / "sock"):
                os.chown(path, user.pw_uid, user.pw_gid)
        server._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        server.start()
        return server

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, binary: str, *args: str) -> subprocess.CompletedProcess:
        argv = [str(_postgres_bin() / binary), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, text=True, cwd="/tmp", timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-o", options, "-l", str(self.root / "sock" / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``fast`` ends every session at once, as a restart by an operator does."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait(self._answers, "redis-server answering")
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def _moto_command(port: int) -> list[str]:
    binary = Path(sys.executable).with_name("moto_server")
    if binary.exists():
        return [str(binary), "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@dataclass
class MotoServer:
    """moto's S3 server with one bucket; ``pause``/``resume`` (SIGSTOP/SIGCONT) make it stop
    answering without losing its in-memory objects, ``stop`` ends it (connections refused)."""

    bucket: str = "moorage-faults"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        try:
            import moto.server  # noqa: F401
        except ImportError:
            pytest.skip("moto[server] not installed (pip install -r requirements-dev.txt)")
        self.process = subprocess.Popen(_moto_command(self.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _wait(self._answers, "moto server answering")
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def _answers(self) -> bool:
        try:
            requests.get(self.endpoint_url, timeout=1)
            return True
        except requests.RequestException:
            return False

    def options(self, location: str = "registry") -> dict:
        return {
            "bucket_name": self.bucket, "endpoint_url": self.endpoint_url, "access_key": "moorage-test",
            "secret_key": "moorage-test-secret", "region_name": "us-east-1", "addressing_style": "path", "location": location,
        }  # fmt: skip

    def client(self):  # noqa: ANN201 - a generated boto3 class
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id="moorage-test",
            aws_secret_access_key="moorage-test-secret", region_name="us-east-1",
        )  # fmt: skip

    def keys(self, prefix: str = "") -> dict[str, int]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {entry["Key"]: entry["Size"] for page in pages for entry in page.get("Contents", ())}

    def pause(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


@dataclass
class Tmpfs:
    """A tmpfs of ``size`` bytes mounted on a temporary folder (needs root and CAP_SYS_ADMIN)."""

    size: int
    path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="moorage-tmpfs-")))

    def mount(self) -> "Tmpfs":
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)], capture_output=True, text=True
        )
        if result.returncode != 0:
            shutil.rmtree(self.path, ignore_errors=True)
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()[:200]}")
        return self

    def destroy(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass
class TcpProxy:
    """A loopback TCP forwarder to ``target_port`` that can be cut: ``cut`` closes the listening
    socket and every open connection (new connections are refused), ``restore`` listens again
    on the same port. Models a network outage of the service behind it without losing its state
    (moto keeps its objects in memory).

    ``hang`` models a black hole instead: connections are still accepted but nothing is
    forwarded any more, either way (what clients send is read and dropped), so clients wait for
    answers that never come. ``unhang`` closes every connection opened or used meanwhile (their
    requests are lost) and forwards new ones again."""

    target_port: int
    port: int = field(default_factory=free_port)
    _listener: socket.socket | None = None
    _connections: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hung: threading.Event = field(default_factory=threading.Event)

    def restore(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            if listener is not self._listener:  # cut while accept() was waiting
                client.close()
                return
            if self._hung.is_set():
                with self._lock:
                    self._connections.append(client)
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _swallow(client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._hung.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def hang(self) -> None:
        self._hung.set()

    def unhang(self) -> None:
        self._hung.clear()
        self._close_connections()

    def cut(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            try:
                # close() alone leaves a pending accept() in the other thread listening: one more
                # connection would still be accepted and forwarded. shutdown() wakes it up.
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        self._close_connections()

    def _close_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
