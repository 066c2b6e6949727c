"""A real Moorage server process for tests: its own data folder and database, gunicorn on a
free loopback port, the same settings module as production."""

from __future__ import annotations

import atexit
import os
import secrets
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
#: Every Celery queue (settings.CELERY_TASK_QUEUES_NAMES; tests/scaleout checks that they are equal).
CELERY_QUEUES = ("default", "gc", "notifications", "mirror", "scan", "replication", "builds")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_admin_dsn(url: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path="/postgres"))


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgres", "pgsql"))


def create_database(base_url: str | None, *, template: str | None = None) -> tuple[str | None, str | None]:
    """A fresh database for one server: (database url, postgres db name to drop later); a copy
    of the database ``template`` when given."""
    if not is_postgres(base_url):
        return None, None
    import psycopg2

    name = f"moorage_live_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(_postgres_admin_dsn(base_url))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.close()
    return urlunparse(urlparse(base_url)._replace(path=f"/{name}")), name


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_") or k in ("MOORAGE_DATABASE_URL", "MOORAGE_REDIS_URL")}
    env.update({"MOORAGE_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "registry_site.settings", "PYTHONUNBUFFERED": "1"})
    return env


#: migrated databases of this test process, by base database url ("" for SQLite): a PostgreSQL
#: database name or a SQLite file. Migrating takes seconds of CPU; servers start from copies.
_MIGRATED_TEMPLATES: dict[str, str] = {}
#: the data folders the templates were migrated with (removed at exit)
_TEMPLATE_FOLDERS: list[Path] = []


def _drop_templates() -> None:
    for base, template in _MIGRATED_TEMPLATES.items():
        if is_postgres(base):
            try:
                drop_database(base, template)
            except Exception:  # noqa: BLE001 - a private server a test stopped took its template with it
                pass
    for folder in _TEMPLATE_FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)
    _MIGRATED_TEMPLATES.clear()
    _TEMPLATE_FOLDERS.clear()


atexit.register(_drop_templates)


def migrated_template(base_url: str | None) -> str:
    """A database migrated to the current schema, made once per test process (no data
    migrations or post_migrate rows depend on a server's settings, so a copy equals a fresh
    migrate)."""
    key = base_url if is_postgres(base_url) else ""
    if key not in _MIGRATED_TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="moorage-template-"))
        _TEMPLATE_FOLDERS.append(folder)
        env = _base_env(folder)
        if key:
            url, name = create_database(key)
            env["MOORAGE_DATABASE_URL"] = url
            template = name
        else:
            env.pop("MOORAGE_DATABASE_URL", None)
            template = str(folder / "moorage.sqlite3")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        _MIGRATED_TEMPLATES[key] = template
    return _MIGRATED_TEMPLATES[key]


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
    #: Celery workers started by ``start_worker`` (stopped by ``destroy``).
    celery_workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @classmethod
    def create(cls, extra_env: dict[str, str] | None = None, *, database_url: str | None = None, migrate: bool = True) -> "LiveRegistry":
        """A server's data folder and fresh database, migrated unless ``migrate`` is false (the
        upgrade tests migrate step by step themselves)."""
        data_dir = Path(tempfile.mkdtemp(prefix="moorage-live-"))
        env = _base_env(data_dir)
        # The conformance and client suites exercise the protocol, not access control: they run
        # against an open registry. Identity tests pass MOORAGE_REGISTRY_OPEN=false.
        env["MOORAGE_REGISTRY_OPEN"] = "true"
        # Each server its own cache namespace in the shared Redis (login throttling, Basic cache).
        env["MOORAGE_REDIS_KEY_PREFIX"] = f"moorage-test-{uuid.uuid4().hex[:10]}"
        registry = cls(data_dir=data_dir, env=env)
        base = database_url if database_url is not None else os.environ.get("MOORAGE_DATABASE_URL")
        # A copy of a migrated template instead of a migrate per server, unless the caller picks
        # the database itself or wants to migrate step by step.
        from_template = migrate and "MOORAGE_DATABASE_URL" not in (extra_env or {})
        template = migrated_template(base) if from_template else None
        url, name = create_database(base, template=template if is_postgres(base) else None)
        if url:
            env["MOORAGE_DATABASE_URL"] = url
            registry._dropped_db = (base, name)
        else:
            env.pop("MOORAGE_DATABASE_URL", None)
            if template:
                shutil.copyfile(template, data_dir / "moorage.sqlite3")
        env.update(extra_env or {})
        if migrate and not from_template:
            registry.manage("migrate", "--noinput")
        elif from_template:
            # what the first manage.py run would have made: this server's own secret key
            key_file = data_dir / "secret_key"
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return registry

    def sibling(self, extra_env: dict[str, str] | None = None) -> "LiveRegistry":
        """A second instance of the same registry: another port and data folder, the same
        database (the SQLite file itself when there is no server database), secret key, Redis
        prefix and environment (storage locations, broker). Not migrated again; ``destroy`` of
        the sibling leaves the shared database to the first instance."""
        data_dir = Path(tempfile.mkdtemp(prefix="moorage-live-"))
        env = {**self.env, "MOORAGE_DATA_DIR": str(data_dir)}
        if "MOORAGE_DATABASE_URL" not in env:
            env["MOORAGE_DATABASE_URL"] = f"sqlite:///{self.data_dir / 'moorage.sqlite3'}"
        env.setdefault("MOORAGE_SECRET_KEY", (self.data_dir / "secret_key").read_text().strip())
        env.update(extra_env or {})
        return type(self)(data_dir=data_dir, env=env)

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

    def start_worker(self, concurrency: int = 1, hostname: str | None = None) -> subprocess.Popen:
        """A Celery worker on every queue with this server's settings (its log in the data folder)."""
        name = hostname or f"w{len(self.celery_workers)}-{self.port}@127.0.0.1"
        log = open(self.data_dir / f"celery-{len(self.celery_workers)}.log", "ab")  # noqa: SIM115 - the child writes it
        worker = subprocess.Popen(
            [
                PYTHON, "-m", "celery", "--quiet", "-A", "registry_site", "worker", "--hostname", name,
                "--concurrency", str(concurrency), "--pool", "threads", "--loglevel", "info",
                "--queues", ",".join(CELERY_QUEUES),
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.celery_workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in self.celery_workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.celery_workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        self.celery_workers.clear()

    def kill(self) -> None:
        """kill -9 of the whole server (the gunicorn master and its workers), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def worker_pids(self) -> list[int]:
        """The gunicorn worker processes of the running server (children of its master)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

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
        self.stop_workers()
        if self._dropped_db:
            drop_database(*self._dropped_db)
        shutil.rmtree(self.data_dir, ignore_errors=True)
