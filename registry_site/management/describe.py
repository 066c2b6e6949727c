"""One-line, password-free descriptions of the database, broker and storage a config selects.

Shared by ``check_config`` (which works on the raw config) and the ``run_registry`` banner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db`` (no other change)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username}:***" if parts.username else ":***"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def _host_and_path(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{host}{parts.path if parts.path not in ('', '/') else ''}"


def describe_database(database_url: str | None, data_dir: Path) -> str:
    """``SQLite (<path>)`` or ``PostgreSQL (host:port/name)``."""
    if not database_url:
        return f"SQLite ({data_dir / 'moorage.sqlite3'})"
    scheme = urlsplit(database_url).scheme
    if scheme == "sqlite":
        return f"SQLite ({urlsplit(database_url).path or 'in memory'})"
    return f"PostgreSQL ({_host_and_path(database_url)})"


def describe_broker(broker_url: str | None, redis_url: str | None, data_dir: Path) -> str:
    """Which Celery broker the config selects, following the schema's fallback order."""
    url = broker_url or redis_url
    if not url or url.startswith("filesystem://"):
        return f"embedded (kombu filesystem queue in {data_dir / 'broker'})"
    scheme = urlsplit(url).scheme
    kind = {"redis": "Redis", "rediss": "Redis (TLS)", "amqp": "RabbitMQ", "amqps": "RabbitMQ (TLS)"}.get(scheme, scheme)
    return f"{kind} ({_host_and_path(url)})"


def describe_storage(locations: Mapping[str, Mapping[str, Any]] | None, data_dir: Path) -> list[str]:
    """One line per storage location, in the order configured: ``name: driver (where)``."""
    if not locations:
        return [f"default: filesystem ({data_dir / 'blobs'})"]
    lines = []
    for name, location in locations.items():
        options = location.get("options") or {}
        where = options.get("location") or options.get("bucket_name") or ""
        lines.append(f"{name}: {location.get('driver', '?')}" + (f" ({where})" if where else ""))
    return lines


def resolve_data_dir(data_dir: str) -> Path:
    """The data folder as settings.py resolves it (relative to the working directory)."""
    path = Path(data_dir)
    return path if path.is_absolute() else (Path.cwd() / path).resolve()
