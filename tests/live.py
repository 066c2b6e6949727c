"""A real Moorage server process for tests: its own data folder and database, gunicorn on a
free loopback port, the same settings module as production."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_admin_dsn(url: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path="/postgres"))


def create_database(base_url: str | None) -> tuple[str | None, str | None]:
    """A fresh database for one server: (database url, postgres db name to drop later)."""
    if not base_url or not base_url.startswith(("postgres", "pgsql")):
        return None, None
    import psycopg2

    name = f"moorage_live_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(_postgres_admin_dsn(base_url))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return urlunparse(urlparse(base_url)._replace(path=f"/{name}")), name


def drop_database(base_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(_postgres_admin_dsn(base_url))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@dataclass
class LiveRegistry:
    """One running server. ``url`` is ``http://127.0.0.1:<port>``, ``host`` is ``127.0.0.1:<port>``."""

    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    _dropped_db: tuple[str, str] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @classmethod
    def create(cls, extra_env: dict[str, str] | None = None, *, database_url: str | None = None) -> "LiveRegistry":
        data_dir = Path(tempfile.mkdtemp(prefix="moorage-live-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_") or k in ("MOORAGE_DATABASE_URL", "MOORAGE_REDIS_URL")}
        env.update({"MOORAGE_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "registry_site.settings", "PYTHONUNBUFFERED": "1"})
        # The conformance and client suites exercise the protocol, not access control: they run
        # against an open registry. Identity tests pass MOORAGE_REGISTRY_OPEN=false.
        env["MOORAGE_REGISTRY_OPEN"] = "true"
        # Each server its own cache namespace in the shared Redis (login throttling, Basic cache).
        env["MOORAGE_REDIS_KEY_PREFIX"] = f"moorage-test-{uuid.uuid4().hex[:10]}"
        registry = cls(data_dir=data_dir, env=env)
        base = database_url if database_url is not None else os.environ.get("MOORAGE_DATABASE_URL")
        url, name = create_database(base)
        if url:
            env["MOORAGE_DATABASE_URL"] = url
            registry._dropped_db = (base, name)
        else:
            env.pop("MOORAGE_DATABASE_URL", None)
        env.update(extra_env or {})
        registry.manage("migrate", "--noinput")
        return registry

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=check, capture_output=True, text=True)

    def start(self, workers: int = 2, threads: int = 8) -> "LiveRegistry":
        self.log_path = self.data_dir / "server.log"
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                PYTHON, "-m", "gunicorn", "registry_site.wsgi",
                "-c", str(ROOT / "registry_site" / "gunicorn_conf.py"),
                "--bind", self.host, "--workers", str(workers), "--threads", str(threads),
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if requests.get(f"{self.url}/v2/", timeout=1).status_code in (200, 401):
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def restart(self) -> "LiveRegistry":
        """Stop the server and start a new process on the same port, data folder and database."""
        self.stop()
        return self.start()

    def destroy(self) -> None:
        self.stop()
        if self._dropped_db:
            drop_database(*self._dropped_db)
        shutil.rmtree(self.data_dir, ignore_errors=True)
