"""``manage.py run_registry`` end to end: a real process tree on a free loopback port.

The tests share one data folder (and one database) in file order: the first start creates the
superuser and serves requests, SIGTERM stops it, the second start reuses everything, the third
is broken on purpose by killing its Celery worker.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.live import create_database, drop_database, free_port

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120


# --- a run_registry process and its descendants ---------------------------------------------------
def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of ``pid`` from /proc, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every process below ``root``: pid -> start time (to tell a reused pid apart)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat and stat[0] != "Z":
                parents.setdefault(stat[1], []).append(int(entry.name))
                starts[int(entry.name)] = stat[2]
    found: dict[int, int] = {}
    stack = [root]
    while stack:
        for child in parents.get(stack.pop(), []):
            found[child] = starts[child]
            stack.append(child)
    return found


def still_running(processes: dict[int, int]) -> list[int]:
    """The pids of ``processes`` that still run (zombies and reused pids do not count)."""
    alive = []
    for pid, start in processes.items():
        stat = _proc_stat(pid)
        if stat and stat[0] != "Z" and stat[2] == start:
            alive.append(pid)
    return alive


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class RegistryRun:
    """One ``manage.py run_registry`` process writing its output to a file."""

    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _handle: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def start(self) -> RegistryRun:
        self._handle = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_registry", "--stop-timeout", "20"],
            cwd=ROOT, env=self.env, stdout=self._handle, stderr=subprocess.STDOUT,
        )
        return self

    def wait_for(self, pattern: str, timeout: float = READY_TIMEOUT_S) -> re.Match[str]:
        """Wait until the output matches ``pattern``; fail with the output if the process ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.process.poll() is not None:
                pytest.fail(f"run_registry exited with {self.process.returncode}:\n{self.output[-6000:]}")
            time.sleep(0.2)
        pytest.fail(f"no {pattern!r} in {timeout} s:\n{self.output[-6000:]}")

    def wait_ready(self) -> RegistryRun:
        """Serving /v2/, worker and beat started, banner printed."""
        self.wait_for(r"Moorage is running at ")
        self.wait_for(r"celery@\S+ ready\.")
        self.wait_for(r"beat: Starting")
        assert requests.get(f"{self.url}/v2/", timeout=10).status_code in (200, 401)
        return self

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._handle.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._handle:
            self._handle.close()


def _environment(data_dir: Path, port: int, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_") or k == "MOORAGE_REDIS_URL"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "registry_site.settings",
            "MOORAGE_DATA_DIR": str(data_dir),
            "MOORAGE_PORT": str(port),
            "MOORAGE_SERVER_WORKERS": "2",
            "MOORAGE_SERVER_THREADS": "4",
            "MOORAGE_SERVER_CELERY_CONCURRENCY": "1",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    if database_url:
        env["MOORAGE_DATABASE_URL"] = database_url
    return env


@dataclass
class Site:
    """A data folder, port and (on PostgreSQL) database that several starts share."""

    data_dir: Path
    port: int
    env: dict[str, str]
    runs: list[RegistryRun] = field(default_factory=list)

    def run(self) -> RegistryRun:
        registry = RegistryRun(self.env, self.port, self.data_dir.parent / f"run-{len(self.runs) + 1}.log")
        self.runs.append(registry)
        return registry.start()


@pytest.fixture(scope="module")
def site():
    base = os.environ.get("MOORAGE_DATABASE_URL")
    database_url, database_name = create_database(base)
    workdir = Path(tempfile.mkdtemp(prefix="moorage-run-"))
    site = Site(workdir / "data", free_port(), {})
    site.env = _environment(site.data_dir, site.port, database_url)
    yield site
    for registry in site.runs:
        registry.stop()
    if database_name:
        drop_database(base, database_name)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def first(site):
    """The first start on an empty data folder, running for the tests that need it."""
    registry = site.run().wait_ready()
    yield registry
    registry.stop()


# --- first start ---------------------------------------------------------------------------------
def test_first_start_migrates_and_prints_a_generated_password_once_in_a_box(first, site):
    output = first.output
    assert re.search(r"database\s+\S+, applied \d+ migrations", output)
    assert output.count("created 'admin' with a generated password") == 1
    assert len(re.findall(r"  password  (\S+)", output)) == 1
    assert "This password is shown only this once." in output
    assert re.search(r"static files\s+collected \d+ files", output)
    assert "Traceback" not in output


def test_the_printed_password_is_the_superusers_password(first, site):
    password = re.search(r"  password  (\S+)", first.output).group(1)
    check = "import os, sys; from django.contrib.auth import authenticate; " \
            "u = authenticate(username='admin', password=os.environ['PRINTED_PASSWORD']); sys.exit(0 if u and u.is_superuser else 3)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", check], cwd=ROOT, env={**site.env, "PRINTED_PASSWORD": password},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_banner_names_the_url_data_dir_database_broker_and_how_to_push(first, site):
    output = first.output
    assert f"Moorage is running at {first.url}" in output
    assert re.search(rf"data dir\s+{re.escape(str(site.data_dir))}\n", output)
    expected_database = "PostgreSQL (" if os.environ.get("MOORAGE_DATABASE_URL") else "SQLite ("
    expected_broker = "Redis (" if os.environ.get("MOORAGE_REDIS_URL") else "embedded (kombu filesystem queue"
    assert re.search(rf"database\s+{re.escape(expected_database)}", output)
    assert re.search(rf"broker\s+{re.escape(expected_broker)}", output)
    assert f"podman push --tls-verify=false localhost/myapp:latest 127.0.0.1:{site.port}/admin/myapp:latest" in output
    assert "skopeo copy --dest-tls-verify=false" in output
    assert output.count("Moorage is running at") == 1


@pytest.mark.parametrize("endpoint", ["/health/instance", "/health/endtoend"])
def test_health_endpoints_report_every_service_up(first, endpoint):
    response = requests.get(f"{first.url}{endpoint}", timeout=30)
    assert response.status_code == 200, response.text
    services = response.json()["data"]["services"]
    assert services and all(services.values()), services
    if endpoint == "/health/endtoend":
        assert set(services) == {"database", "storage", "broker"}


def _health_instance_count(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=30).text
    assert "moorage_http_requests_total" in text
    match = re.search(r'moorage_http_requests_total\{method="GET",route="health-instance",status="200"\} (\S+)', text)
    return float(match.group(1)) if match else 0.0


def test_metrics_add_up_requests_across_gunicorn_workers(first, site):
    before = _health_instance_count(first.url)
    for _ in range(20):  # a new connection each: both gunicorn workers get some
        assert requests.get(f"{first.url}/health/instance", timeout=30).status_code == 200
    # the sum over every process's file, not the share of the worker that answers /metrics
    assert _health_instance_count(first.url) - before == 20
    assert list((site.data_dir / "prometheus-multiproc").glob("counter_*.db"))


def test_the_worker_consumes_a_task_sent_through_the_configured_broker(first, site):
    sent = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "registry_site", "call", "registry.uploads.remove_stale"],
        cwd=ROOT, env=site.env, capture_output=True, text=True, timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f-]{36}", task_id), sent.stdout
    first.wait_for(rf"Task registry\.uploads\.remove_stale\[{task_id}\] succeeded", timeout=60)


def test_a_second_runner_on_the_same_data_dir_is_refused(first, site):
    env = {**site.env, "MOORAGE_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "manage.py", "run_registry"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"Moorage cannot start: another run_registry (pid {first.process.pid}) is already using {site.data_dir}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_sigterm_stops_every_process_it_started(first):
    tree = descendants(first.process.pid)
    names = " ".join(cmdline(pid) for pid in tree)
    assert "gunicorn" in names and " worker " in names and " beat " in names
    assert len(tree) >= 6, names  # 3 leaders + 2 gunicorn workers + 1 Celery pool process
    first.process.send_signal(signal.SIGTERM)
    assert first.wait_exit() == 0, first.output[-4000:]
    assert still_running(tree) == []
    assert "Stopping (SIGTERM)" in first.output
    assert first.output.rstrip().endswith("Moorage stopped.")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{first.url}/v2/", timeout=5)


# --- second start --------------------------------------------------------------------------------
def test_a_second_start_reuses_everything_and_prints_no_password(first, site):
    first.stop()  # in case the SIGTERM test was deselected
    registry = site.run().wait_ready()
    try:
        output = registry.output
        assert re.search(r"database\s+\S+, up to date \(\d+ migrations\)", output)
        assert "superuser     'admin' exists" in output
        assert "created 'admin'" not in output
        assert "password  " not in output
        assert re.search(r"static files\s+up to date \(\d+ files\)", output)
        assert requests.get(f"{registry.url}/health/endtoend", timeout=30).status_code == 200
    finally:
        registry.stop()
    assert registry.process.returncode == 0


# --- a child dies --------------------------------------------------------------------------------
def test_when_a_child_dies_the_others_are_stopped_and_the_exit_status_is_1(site):
    registry = site.run().wait_ready()
    tree = descendants(registry.process.pid)
    worker = next(pid for pid in tree if " worker " in cmdline(pid) and _proc_stat(pid)[1] == registry.process.pid)
    os.kill(worker, signal.SIGKILL)
    assert registry.wait_exit() == 1
    assert "worker (celery worker, 1 process) was killed by SIGKILL; stopping the other processes." in registry.output
    assert still_running(tree) == []


# --- refusals before anything starts -------------------------------------------------------------
def test_a_port_in_use_is_refused_with_a_clear_message(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = _environment(tmp_path / "data", port, None)
        env.pop("MOORAGE_REDIS_URL", None)
        result = subprocess.run(
            [sys.executable, "manage.py", "run_registry"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"Moorage cannot start: port {port} on 127.0.0.1 is already in use; choose another with MOORAGE_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_refused_with_a_clear_message(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once the socket is closed
    env = _environment(tmp_path / "data", free_port(), f"postgres://postgres@127.0.0.1:{port}/moorage")
    env.pop("MOORAGE_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "run_registry"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert f"Moorage cannot start: cannot use the database PostgreSQL (127.0.0.1:{port}/moorage): " in result.stderr
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unusable_admin_name_is_refused_with_a_clear_message(tmp_path):
    env = _environment(tmp_path / "data", free_port(), None)
    env.update({"MOORAGE_ADMIN_USER": "Not A Name"})
    env.pop("MOORAGE_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "run_registry"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "Moorage cannot start: cannot create the first superuser 'Not A Name': " in result.stderr
    assert "MOORAGE_ADMIN_USER" in result.stderr
    assert "Traceback" not in result.stderr
