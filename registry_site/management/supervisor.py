"""Start the registry's processes, relay their output, and stop every one of them.

Each child runs in its own process group (a new session) so that the whole tree it forks -
gunicorn workers, Celery pool processes - can be signalled and killed as one. The terminal's
Ctrl-C reaches only the supervisor, which then stops the children in order: SIGTERM to each
leader (graceful: gunicorn finishes requests, Celery finishes tasks), a bounded wait, then
SIGKILL to whatever is left in each group. On Linux the children also get SIGTERM if the
supervisor itself dies (PR_SET_PDEATHSIG), and the supervisor is a child subreaper, so
orphaned grandchildren are re-parented to it and reaped instead of lingering.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from django.conf import settings

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:  # pragma: no cover - no libc symbols in this process
    _LIBC = None

POLL_INTERVAL_S = 0.2


@dataclass(frozen=True)
class ChildSpec:
    """One long-running process: ``name`` prefixes its output lines."""

    name: str
    argv: list[str]
    summary: str


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}{'es' if noun.endswith('s') else 's'}"


def gunicorn_spec(*, bind: str, port: int, server: Mapping[str, Any], log_level: str, conf_path: Path) -> ChildSpec:
    """gunicorn with the project's config file; listen address and sizing from the config."""
    host = f"[{bind}]" if ":" in bind else bind
    argv = [
        sys.executable, "-m", "gunicorn", "registry_site.wsgi:application",
        "-c", str(conf_path),
        "--bind", f"{host}:{port}",
        "--workers", str(server["workers"]),
        "--threads", str(server["threads"]),
        "--timeout", str(server["timeout"]),
        "--log-level", log_level.lower(),
    ]
    return ChildSpec("web", argv, f"gunicorn, {_count(server['workers'], 'worker')} x {_count(server['threads'], 'thread')}")


def celery_worker_spec(*, concurrency: int, log_level: str) -> ChildSpec:
    """A Celery worker for every queue; checks already ran in the supervisor."""
    argv = [
        sys.executable, "-m", "celery", "--quiet", "--skip-checks", "-A", "registry_site", "worker",
        "--concurrency", str(concurrency), "--loglevel", log_level,
        "--queues", ",".join(settings.CELERY_TASK_QUEUES_NAMES),
    ]
    return ChildSpec("worker", argv, f"celery worker, {_count(concurrency, 'process')}")


def celery_beat_spec(*, schedule_file: Path, log_level: str) -> ChildSpec:
    """Celery beat, keeping its schedule state in the data folder."""
    argv = [
        sys.executable, "-m", "celery", "--quiet", "--skip-checks", "-A", "registry_site", "beat",
        "--schedule", str(schedule_file), "--loglevel", log_level,
    ]
    return ChildSpec("beat", argv, "celery beat")


def child_environment(base: Mapping[str, str], *, project_dir: Path, data_dir: Path, metrics_dir: Path) -> dict[str, str]:
    """The environment every child gets: same settings and data folder, shared metrics folder."""
    env = dict(base)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    env["MOORAGE_DATA_DIR"] = str(data_dir)  # absolute: children agree even if a relative path was configured
    env.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    env["PYTHONUNBUFFERED"] = "1"
    python_path = [str(project_dir), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(python_path))
    return env


def become_subreaper() -> None:
    """Adopt orphaned descendants so they can be reaped (Linux; a no-op elsewhere)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec: keep it tiny
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def http_answers(host: str, port: int, path: str = "/v2/") -> bool:
    """True once an HTTP server answers ``path`` with anything but a 5xx."""
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    relay: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(frozen=True)
class WatchResult:
    """Why ``Supervisor.watch`` returned: ``ready``, ``stop`` (a signal), ``exit`` (a child died), ``timeout``."""

    reason: str
    child: Child | None = None
    returncode: int | None = None
    signal_number: int | None = None


class Supervisor:
    """Runs a fixed set of children; one dying or a stop request ends them all."""

    def __init__(self, specs: Sequence[ChildSpec], *, env: Mapping[str, str], cwd: Path, emit: Callable[[str], None],
                 style_name: Callable[[str], str] = str, stop_timeout: float = 30.0) -> None:
        self.specs = list(specs)
        self.env = dict(env)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.children: list[Child] = []
        self._emit = emit
        self._style_name = style_name
        self._lock = threading.Lock()
        self._stop_signal: int | None = None
        self._stopping = False
        self._force = False
        self._width = max(len(spec.name) for spec in self.specs)

    # -- output --------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """Write lines to the console without interleaving them with relayed child output.

        A console that went away (closed terminal, ``| head``) must not stop the supervision:
        the output is dropped and the children are still stopped in order.
        """
        with self._lock:
            try:
                self._emit(text)
            except OSError:
                pass

    def _relay(self, child: Child) -> None:
        prefix = self._style_name(f"{child.spec.name:<{self._width}} |") + " "
        assert child.process.stdout is not None
        for raw in iter(child.process.stdout.readline, b""):
            self.say(prefix + raw.decode(errors="replace").rstrip())
        child.process.stdout.close()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start every child (all forks happen before any relay thread exists)."""
        preexec = _die_with_parent(os.getpid())
        for spec in self.specs:
            process = subprocess.Popen(
                spec.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec,
            )
            self.children.append(Child(spec, process))
        for child in self.children:
            child.relay = threading.Thread(target=self._relay, args=(child,), name=f"relay-{child.spec.name}", daemon=True)
            child.relay.start()

    def request_stop(self, signal_number: int) -> None:
        """Signal-handler entry: the first request stops gracefully, a second one kills."""
        if self._stop_signal is not None or self._stopping:
            self._force = True
        self._stop_signal = signal_number

    def watch(self, until: Callable[[], bool] | None = None, timeout: float | None = None) -> WatchResult:
        """Block until ``until()`` is true, a stop is requested, a child exits, or ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._stop_signal is not None:
                return WatchResult("stop", signal_number=self._stop_signal)
            for child in self.children:
                code = child.process.poll()
                if code is not None:
                    return WatchResult("exit", child=child, returncode=code)
            if until is not None and until():
                return WatchResult("ready")
            if deadline is not None and time.monotonic() >= deadline:
                return WatchResult("timeout")
            time.sleep(POLL_INTERVAL_S)

    def stop(self) -> None:
        """Stop every child and everything it forked; return when all are gone."""
        self._stopping = True
        for child in self.children:
            if child.process.poll() is None:
                _signal_pid(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(c.process.poll() is None for c in self.children) and time.monotonic() < deadline and not self._force:
            time.sleep(0.1)
        for child in self.children:
            if child.process.poll() is None:
                why = "second interrupt" if self._force else f"still running after {self.stop_timeout:.0f} s"
                self.say(f"{child.spec.name}: {why}; killing it")
            # SIGKILL the whole group: the leader if it is still there, and any straggler it left.
            _signal_group(child.pid, signal.SIGKILL)
            child.process.wait()
        for child in self.children:
            if child.relay is not None:
                child.relay.join(timeout=2)
        _reap_adopted_orphans()


def _signal_pid(pid: int, signal_number: int) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, signal_number: int) -> None:
    try:
        os.killpg(pgid, signal_number)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_adopted_orphans(timeout: float = 5.0) -> None:
    """Wait for descendants re-parented to us (we are a subreaper) after their parent died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left at all
        if pid == 0:
            time.sleep(0.05)
