"""The three servers bench/compare.py runs side by side on loopback, and what they need:

- Moorage: gunicorn exactly as ``make run`` starts it (``registry_site/gunicorn_conf.py`` and the
  argv of ``registry_site.management.supervisor.gunicorn_spec`` with the configured sizing), on
  PostgreSQL + Redis when they answer on 127.0.0.1 (a private database, dropped afterwards), else
  SQLite and the file cache. Tokens come from its own ``/v2/auth`` with Basic credentials.
- CNCF Distribution 2.8 (Debian's ``docker-registry``) with ``auth: token``. It trusts a token
  issuer the bench runs in-process: an RSA key with a self-signed certificate given to
  Distribution as ``rootcertbundle``; tokens are RS256 JWTs whose ``kid`` is the libtrust key id
  of that key (what Distribution looks keys up by). Every request carries a verified token, as
  with Moorage; only the token *issuing* differs (not measured).
- nginx serving Moorage's stored blob files (and the manifest as a file with the same digest
  header) with sendfile: the machine's ceiling for serving those bytes.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_http(url: str, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (401 included) means it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in the process group (a server and its workers)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid:  # fields[2] is pgrp (field 5 of stat)
                continue
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # rss in pages (field 24)
        except (OSError, ValueError, IndexError):
            continue
    return total


# -- Moorage ----------------------------------------------------------------------------------
@dataclass
class Moorage:
    root: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    database: str = "sqlite"
    _pg: tuple[str, str] | None = None
    gunicorn_argv: list[str] = field(default_factory=list)

    #: A database of this run's own (dropped afterwards), so two benchmarks at once do not collide.
    pg_name: str = field(default_factory=lambda: f"moorage_bench_{uuid.uuid4().hex[:8]}")
    REDIS_DB = 14

    @property
    def data_dir(self) -> Path:
        return self.root / "moorage"

    @property
    def blob_root(self) -> Path:
        return self.data_dir / "blobs"  # the default filesystem location; blob_path() below it

    def prepare(self, *, use_services: bool = True, server_env: dict[str, str] | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
        env.update({
            "MOORAGE_DATA_DIR": str(self.data_dir), "DJANGO_SETTINGS_MODULE": "registry_site.settings", "PYTHONUNBUFFERED": "1",
            "MOORAGE_REGISTRY_OPEN": "false", "MOORAGE_LOG_LEVEL": "WARNING",
        })
        if use_services and reachable(5432):
            admin = "postgres://postgres@127.0.0.1:5432/postgres"
            self._admin_sql(admin, f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            self._admin_sql(admin, f'CREATE DATABASE "{self.pg_name}"')
            env["MOORAGE_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{self.pg_name}"
            self._pg = (admin, self.pg_name)
            self.database = "PostgreSQL"
        if use_services and reachable(6379):
            env["MOORAGE_REDIS_URL"] = f"redis://127.0.0.1:6379/{self.REDIS_DB}"
            env["MOORAGE_REDIS_KEY_PREFIX"] = f"moorage-bench-{uuid.uuid4().hex[:8]}"
            self.database += " + Redis"
        env.update(server_env or {})
        self.env = env
        self.manage("migrate", "--noinput")

    @staticmethod
    def _admin_sql(dsn: str, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
        conn.close()

    def manage(self, *args: str) -> str:
        completed = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")
        return completed.stdout

    def production_argv(self) -> list[str]:
        """gunicorn's argv as ``make run`` builds it (config ``server.*`` sizing, gunicorn_conf.py)."""
        code = (
            "import json; from pathlib import Path; from django.conf import settings;"
            "from registry_site.management.supervisor import gunicorn_spec;"
            f"print(json.dumps(gunicorn_spec(bind='127.0.0.1', port={self.port}, server=settings.MOORAGE['server'], log_level='warning',"
            f"conf_path=Path({str(ROOT / 'registry_site' / 'gunicorn_conf.py')!r})).argv))"
        )
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def start(self, argv: list[str] | None = None) -> None:
        self.gunicorn_argv = argv or self.production_argv()
        log = self.root / "moorage.log"
        self.process = subprocess.Popen(
            self.gunicorn_argv, cwd=ROOT, env=self.env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        _wait_http(f"http://127.0.0.1:{self.port}/v2/", self.process, log)

    def token(self, username: str, password: str, scopes: list[str]) -> str:
        query = "&".join([f"service=127.0.0.1:{self.port}", *(f"scope={s}" for s in scopes)])
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/v2/auth?{query}")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode())
        with urllib.request.urlopen(request, timeout=30) as response:
            data = json.load(response)
        return data.get("token") or data["access_token"]

    def rss(self) -> int:
        return group_rss_bytes(self.process.pid) if self.process else 0

    def stop(self) -> None:
        _stop(self.process)
        self.process = None

    def destroy(self) -> None:
        self.stop()
        if self._pg:
            self._admin_sql(self._pg[0], f'DROP DATABASE IF EXISTS "{self._pg[1]}" WITH (FORCE)')
        if "MOORAGE_REDIS_URL" in self.env:
            try:
                import redis

                client = redis.Redis.from_url(self.env["MOORAGE_REDIS_URL"])
                for key in client.scan_iter(match=f"*{self.env['MOORAGE_REDIS_KEY_PREFIX']}*", count=1000):
                    client.delete(key)
            except Exception:  # cleaning a throw-away key prefix is best effort
                pass


# -- Distribution ------------------------------------------------------------------------------
def libtrust_key_id(public_key) -> str:
    """libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, in
    twelve groups of four joined by ':' (what Distribution matches a token's ``kid`` against)."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


@dataclass
class TokenIssuer:
    """A tiny token issuer Distribution trusts (its certificate is Distribution's rootcertbundle)."""

    root: Path
    issuer: str = "moorage-bench-issuer"
    service: str = "distribution-bench"

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(self.key, hashes.SHA256())
        )
        self.cert_path = self.root / "token-issuer.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.kid = libtrust_key_id(self.key.public_key())

    def token(self, access: list[dict], lifetime_s: int = 7200) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": "bench", "aud": self.service, "iat": now, "nbf": now - 10, "exp": now + lifetime_s,
            "jti": uuid.uuid4().hex, "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


@dataclass
class Distribution:
    root: Path
    issuer: TokenIssuer
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def storage(self) -> Path:
        return self.root / "distribution"

    def start(self) -> None:
        if shutil.which("docker-registry") is None:
            raise RuntimeError("docker-registry not installed (apt-get install docker-registry)")
        config = self.root / "distribution.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: error, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.storage}}}, delete: {{enabled: true}}, "
            "maintenance: {uploadpurging: {enabled: false}}, redirect: {disable: true}}\n"
            f"http: {{addr: 127.0.0.1:{self.port}, secret: bench-{uuid.uuid4().hex}}}\n"
            f"auth: {{token: {{realm: 'http://127.0.0.1:{self.port}/token-issued-by-the-bench', service: {self.issuer.service}, "
            f"issuer: {self.issuer.issuer}, rootcertbundle: {self.issuer.cert_path}}}}}\n"
        )
        log = self.root / "distribution.log"
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=open(log, "wb"), start_new_session=True,
        )
        _wait_http(f"http://127.0.0.1:{self.port}/v2/", self.process, log)

    def rss(self) -> int:
        return group_rss_bytes(self.process.pid) if self.process else 0

    def stop(self) -> None:
        _stop(self.process)
        self.process = None

    # Distribution keeps tags and repositories as folders and link files; writing that layout
    # directly is how 100k tags get there in seconds instead of 100k manifest PUTs.
    def seed_tags(self, repo: str, manifest_digest: str, blob_digests: list[str], tags: int) -> None:
        base = self.storage / "docker/registry/v2/repositories" / repo
        algorithm, hex_ = manifest_digest.split(":")
        for sub in (f"_manifests/revisions/{algorithm}/{hex_}",):
            (base / sub).mkdir(parents=True, exist_ok=True)
            (base / sub / "link").write_text(manifest_digest)
        for digest in blob_digests:
            a, h = digest.split(":")
            (base / f"_layers/{a}/{h}").mkdir(parents=True, exist_ok=True)
            (base / f"_layers/{a}/{h}/link").write_text(digest)
        tags_dir = base / "_manifests/tags"
        tags_dir.mkdir(parents=True, exist_ok=True)
        # ``current/link`` is all a tag list or a GET by tag reads (the per-tag ``index`` folder
        # only serves deletes by digest, which the bench does not time).
        link = manifest_digest.encode()
        for i in range(tags):
            current = f"{tags_dir}/v{i:06d}/current"
            os.makedirs(current)
            fd = os.open(f"{current}/link", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, link)
            os.close(fd)

    def seed_repositories(self, namespace: str, count: int) -> None:
        base = self.storage / "docker/registry/v2/repositories" / namespace
        for i in range(count):
            (base / f"r{i:05d}" / "_layers").mkdir(parents=True)
            (base / f"r{i:05d}" / "_manifests").mkdir()


# -- nginx -------------------------------------------------------------------------------------
@dataclass
class Nginx:
    root: Path
    files: Path  # served as the document root
    manifest_digest: str = ""
    manifest_type: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx not installed (apt-get install nginx)")
        work = self.root / "nginx"
        work.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the bench's private files
        temp = "".join(f"{name}_temp_path {work / name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (work / "nginx.conf").write_text(
            f"{user}worker_processes 2;\ndaemon off;\npid {work / 'nginx.pid'};\nerror_log {work / 'error.log'} error;\n"
            "events { worker_connections 1024; }\n"
            "http {\n access_log off;\n sendfile on;\n tcp_nopush on;\n keepalive_requests 1000000;\n keepalive_timeout 60;\n"
            f" {temp}"
            f" server {{\n  listen 127.0.0.1:{self.port};\n  root {self.files};\n"
            f"  location /manifest/ {{ default_type {self.manifest_type}; add_header Docker-Content-Digest {self.manifest_digest}; }}\n"
            "  location ~ ^/blobs/sha256/../(?<hex>[0-9a-f]+)$ { default_type application/octet-stream; "
            "add_header Docker-Content-Digest sha256:$hex; }\n"
            "  location / { default_type application/octet-stream; }\n }\n}\n"
        )
        log = work / "stderr.log"
        self.process = subprocess.Popen(
            [binary, "-c", str(work / "nginx.conf"), "-p", str(work)], stdout=subprocess.DEVNULL, stderr=open(log, "wb"), start_new_session=True,
        )
        _wait_http(f"http://127.0.0.1:{self.port}/", self.process, log, seconds=20)

    def rss(self) -> int:
        return group_rss_bytes(self.process.pid) if self.process else 0

    def stop(self) -> None:
        _stop(self.process)
        self.process = None
