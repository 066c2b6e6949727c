"""``run_registry``: set up (migrate, first superuser, static files), then supervise gunicorn,
a Celery worker and Celery beat until Ctrl-C / SIGTERM or until one of them dies.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Iterator, Mapping

from django.conf import settings
from django.db import OperationalError, connections

from common.errors import RegistryError
from registry_site.management.banner import BannerFacts, password_box, ready_banner
from registry_site.management.bootstrap import (
    StartupError,
    data_dir_lock,
    database_migrate,
    metrics_dir_reset,
    port_check,
    static_collect_if_needed,
    superuser_prepare,
)
from registry_site.management.describe import describe_broker, describe_database, describe_storage
from registry_site.management.supervisor import (
    ChildSpec,
    Supervisor,
    WatchResult,
    become_subreaper,
    celery_beat_spec,
    celery_worker_spec,
    child_environment,
    gunicorn_spec,
    http_answers,
)

READY_TIMEOUT_S = 120.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
Write = Callable[[str], None]


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived during set-up, before any child was started."""


@dataclass(frozen=True)
class Styles:
    """Colour functions (Django's ``self.style`` members); identity when output is not a terminal."""

    success: Callable[[str], str] = str
    warning: Callable[[str], str] = str
    error: Callable[[str], str] = str
    label: Callable[[str], str] = str


def connect_host(bind: str) -> str:
    """Where to reach a server bound to ``bind`` from this machine."""
    if bind in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind == "::":
        return "::1"
    return bind


def _url_host(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def child_specs(config: Mapping[str, Any], data_dir: Path, project_dir: Path) -> list[ChildSpec]:
    """The three processes, sized from config ``server.*``."""
    return [
        gunicorn_spec(
            bind=config["bind"], port=config["port"], server=config["server"], log_level=config["log_level"],
            conf_path=project_dir / "registry_site" / "gunicorn_conf.py",
        ),
        celery_worker_spec(concurrency=config["server"]["celery_concurrency"], log_level=config["log_level"]),
        celery_beat_spec(schedule_file=Path(settings.CELERY_BEAT_SCHEDULE_FILENAME), log_level=config["log_level"]),
    ]


def banner_facts(config: Mapping[str, Any], data_dir: Path, specs: list[ChildSpec], username: str) -> BannerFacts:
    host = connect_host(config["bind"])
    registry_host = config["server_hostname"] or _url_host(host, config["port"])
    return BannerFacts(
        base_url=f"http://{_url_host(host, config['port'])}",
        registry_host=registry_host,
        listen=_url_host(config["bind"] or "0.0.0.0", config["port"]),
        data_dir=str(data_dir),
        database=describe_database(config["database"]["url"], data_dir),
        broker=describe_broker(config["broker"]["url"], config["redis"]["url"], data_dir),
        storage=describe_storage(settings.MOORAGE_STORAGE_LOCATIONS, data_dir),
        processes=[f"{spec.name}: {spec.summary}" for spec in specs],
        username=username,
        open_registry=bool(config.get("registry", {}).get("open", False)),
    )


@contextmanager
def _signals(handler: Callable[[int], None]) -> Iterator[None]:
    def on_signal(signal_number: int, _frame: FrameType | None) -> None:
        handler(signal_number)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold stop signals until the block ends (they are delivered right after)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _raise_interrupted(signal_number: int) -> None:
    raise Interrupted(signal.Signals(signal_number).name)


def _set_up(config: Mapping[str, Any], data_dir: Path, write: Write, styles: Styles) -> tuple[str, Path]:
    """Every idempotent set-up step, one aligned line each; returns (superuser name, metrics dir)."""

    def step(label: str, text: str) -> None:
        write(f"  {label:<14}{text}")

    port_check(config["bind"], config["port"])
    write(styles.success("Moorage") + f": preparing {data_dir}")

    database = describe_database(config["database"]["url"], data_dir)
    try:
        migrations = database_migrate()
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StartupError(f"cannot use the database {database}: {reason}") from None
    kind = database.split(" ", 1)[0]
    if migrations.applied:
        plural = "s" if migrations.applied != 1 else ""
        step("database", f"{kind}, applied {migrations.applied} migration{plural} ({migrations.total} in all)")
    else:
        step("database", f"{kind}, up to date ({migrations.total} migrations)")

    # A Ctrl-C between creating the user and printing its one-time password would lose it.
    with _signals_deferred():
        try:
            superuser = superuser_prepare(config["admin"])
        except RegistryError as exc:
            raise StartupError(
                f"cannot create the first superuser {config['admin']['user']!r}: {exc.message}; "
                "choose another name with MOORAGE_ADMIN_USER"
            ) from None
        if not superuser.created:
            step("superuser", f"{superuser.username!r} exists")
        elif superuser.generated_password:
            step("superuser", f"created {superuser.username!r} with a generated password:")
            admin_url = f"http://{_url_host(connect_host(config['bind']), config['port'])}/admin/"
            write(styles.warning(password_box(superuser.username, superuser.generated_password, admin_url)))
        else:
            step("superuser", f"created {superuser.username!r} with the configured password")

    static = static_collect_if_needed()
    step("static files", f"collected {static.files} files" if static.collected else f"up to date ({static.files} files)")

    metrics_dir = metrics_dir_reset(data_dir)
    step("metrics", f"{metrics_dir} (cleared; shared by every process)")
    return superuser.username, metrics_dir


def run_registry(*, write: Write, styles: Styles, stop_timeout: float = 30.0) -> int:
    """Set up, start and supervise the registry; return the process exit code.

    Raises StartupError for a precondition the operator must fix (port in use, data folder
    already served, database unreachable, unusable superuser name).
    """
    config = settings.MOORAGE
    data_dir = Path(settings.DATA_DIR)
    project_dir = Path(settings.BASE_DIR)
    lock_fd = data_dir_lock(data_dir)
    try:
        with _signals(_raise_interrupted):
            try:
                username, metrics_dir = _set_up(config, data_dir, write, styles)
            except Interrupted as exc:
                write(f"Interrupted ({exc}) during set-up; nothing was started.")
                return 1
        connections.close_all()  # the children open their own; SQLite prefers no idle writer here

        specs = child_specs(config, data_dir, project_dir)
        env = child_environment(os.environ, project_dir=project_dir, data_dir=data_dir, metrics_dir=metrics_dir)
        supervisor = Supervisor(specs, env=env, cwd=Path.cwd(), emit=write, style_name=styles.label, stop_timeout=stop_timeout)
        write(f"  {'starting':<14}" + ", ".join(f"{spec.name} ({spec.summary})" for spec in specs))
        become_subreaper()
        with _signals(supervisor.request_stop):
            supervisor.start()
            host = connect_host(config["bind"])
            result = supervisor.watch(until=lambda: http_answers(host, config["port"]), timeout=READY_TIMEOUT_S)
            if result.reason == "ready":
                supervisor.say(styles.success(ready_banner(banner_facts(config, data_dir, specs, username))))
                result = supervisor.watch()
            code = _report_end(result, supervisor, styles)
            supervisor.stop()
        supervisor.say("Moorage stopped." if code == 0 else styles.error("Moorage stopped after a failure."))
        return code
    finally:
        os.close(lock_fd)


def _report_end(result: WatchResult, supervisor: Supervisor, styles: Styles) -> int:
    """Say why the registry is stopping; return the exit code (0 only for a requested stop)."""
    if result.reason == "stop" and result.signal_number is not None:
        name = signal.Signals(result.signal_number).name
        supervisor.say(f"Stopping ({name}): waiting up to {supervisor.stop_timeout:.0f} s for every process to finish ...")
        return 0
    if result.reason == "exit" and result.child is not None and result.returncode is not None:
        child = result.child
        how = f"was killed by {signal.Signals(-result.returncode).name}" if result.returncode < 0 else f"exited with status {result.returncode}"
        supervisor.say(styles.error(f"{child.spec.name} ({child.spec.summary}) {how}; stopping the other processes."))
        return 1
    supervisor.say(styles.error(f"the web server did not answer within {READY_TIMEOUT_S:.0f} s; stopping."))
    return 1
