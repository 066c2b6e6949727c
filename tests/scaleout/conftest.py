"""Two Moorage instances behind nginx (round robin), sharing one database, one Redis and one
S3 bucket, each with its own Celery worker.

The database is the run's PostgreSQL when MOORAGE_DATABASE_URL names one (a fresh database on
that server), else one SQLite file both instances open (one host; WAL). Redis is a private
``redis-server`` and the bucket a moto server, both on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.faults.services import MotoServer, PrivateRedis
from tests.live import LiveRegistry, free_port

NGINX_CONF = """
worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream moorage {{
        server {first};
        server {second};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://moorage;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@dataclass
class Balancer:
    port: int
    root: Path
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@dataclass
class Cluster:
    first: LiveRegistry
    second: LiveRegistry
    balancer: Balancer
    moto: MotoServer

    @property
    def instances(self) -> tuple[LiveRegistry, LiveRegistry]:
        return self.first, self.second


def _start_nginx(first: str, second: str) -> Balancer:
    if shutil.which("nginx") is None:
        pytest.skip("nginx not installed (apt-get install nginx; .ci/run installs it)")
    root = Path(tempfile.mkdtemp(prefix="moorage-nginx-"))
    os.chmod(root, 0o755)  # nginx's worker runs as nobody
    port = free_port()
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, first=first, second=second, port=port))
    process = subprocess.Popen(
        ["nginx", "-e", str(root / "error.log"), "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {(root / 'error.log').read_text()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2)
            return Balancer(port, root, process)
        except requests.RequestException:
            assert time.monotonic() < deadline, "nginx did not answer in 30 s"
            time.sleep(0.1)


@pytest.fixture(scope="session")
def cluster():
    redis_server = PrivateRedis().start()
    moto = MotoServer(bucket="moorage-scaleout").start()
    locations = {"bucket": {"driver": "s3", "options": moto.options(location="registry")}}
    first = second = balancer = None
    try:
        first = LiveRegistry.create({"MOORAGE_REDIS_URL": redis_server.url, "MOORAGE_STORAGE_LOCATIONS": json.dumps(locations)})
        second = first.sibling()
        for registry in (first, second):
            registry.env["MOORAGE_ACCESS_LOG"] = str(registry.data_dir / "access.log")
            registry.start(workers=1, threads=8)
            registry.start_worker()
        balancer = _start_nginx(first.host, second.host)
        yield Cluster(first, second, balancer, moto)
    finally:
        if balancer is not None:
            balancer.process.terminate()
            balancer.process.wait(timeout=20)
            shutil.rmtree(balancer.root, ignore_errors=True)
        for registry in (second, first):  # the first owns the shared database: last
            if registry is not None:
                registry.destroy()
        moto.stop()
        redis_server.stop()
