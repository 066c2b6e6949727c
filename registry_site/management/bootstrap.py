"""The set-up steps of ``run_registry``: each is idempotent and quiet, and returns what it did.

Running them again on an existing data folder and database does (almost) nothing, so a second
start takes seconds.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from accounts.services import superuser_ensure

METRICS_DIR_NAME = "prometheus-multiproc"
LOCK_FILE_NAME = "run_registry.lock"
STATIC_STAMP_NAME = ".moorage-collected"


class StartupError(Exception):
    """A start-up precondition failed; the message is written for the operator."""


# --- one runner per data folder -----------------------------------------------------------------
def data_dir_lock(data_dir: Path) -> int:
    """Hold an exclusive lock on ``data_dir`` for the life of this process; return its fd.

    Two ``run_registry`` on one data folder would clear each other's metrics folder and share
    one embedded broker queue. Raises StartupError naming the pid already holding it.
    """
    path = data_dir / LOCK_FILE_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise StartupError(f"another run_registry (pid {holder}) is already using {data_dir}") from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def port_check(bind: str, port: int) -> None:
    """Raise StartupError when ``bind:port`` cannot be listened on (in use, bad address)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            sock.bind((bind, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} on {bind} is already in use; choose another with MOORAGE_PORT") from None
            raise StartupError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None


# --- database -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MigrationSummary:
    applied: int
    total: int


def database_migrate() -> MigrationSummary:
    """Apply unapplied migrations without output; skip the migrate command when there are none."""
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        call_command("migrate", interactive=False, verbosity=0)
        executor = MigrationExecutor(connection)
    return MigrationSummary(applied=len(plan), total=len(executor.loader.applied_migrations))


# --- first superuser ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SuperuserOutcome:
    username: str
    created: bool
    #: set only when this call created the user with a generated password: show it once
    generated_password: str | None


def superuser_prepare(admin: Mapping[str, Any]) -> SuperuserOutcome:
    """Create the first superuser from config ``admin`` when the registry has none.

    Raises RegistryError (from accounts) when the configured user name is invalid or taken.
    """
    had_superuser = get_user_model().objects.filter(is_superuser=True).exists()
    user, generated = superuser_ensure(username=admin["user"], password=admin["password"], email=admin["email"])
    return SuperuserOutcome(username=user.get_username(), created=not had_superuser, generated_password=generated)


# --- static files -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StaticSummary:
    files: int
    collected: bool


def _static_fingerprint() -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for finder in finders.get_finders():
        for relative, storage in finder.list(["CVS", ".*", "*~"]):
            stat = os.stat(storage.path(relative))
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            count += 1
    return digest.hexdigest(), count


def static_collect_if_needed() -> StaticSummary:
    """Run collectstatic (quietly) only when the app's static files changed since last time."""
    fingerprint, count = _static_fingerprint()
    stamp = Path(settings.STATIC_ROOT) / STATIC_STAMP_NAME
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return StaticSummary(files=count, collected=False)
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint + "\n")
    return StaticSummary(files=count, collected=True)


# --- metrics ------------------------------------------------------------------------------------
def metrics_dir_reset(data_dir: Path) -> Path:
    """An empty PROMETHEUS_MULTIPROC_DIR: counters restart with the processes that write them."""
    path = data_dir / METRICS_DIR_NAME
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
