"""What ``run_registry`` shows a person: the one-time password box and the "ready" banner."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Sequence, TextIO

_UNICODE_BOX = "┌┐└┘─│"
_ASCII_BOX = "++++-|"


def _box_chars(stream: TextIO | None) -> str:
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        _UNICODE_BOX.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return _ASCII_BOX
    return _UNICODE_BOX


def boxed(lines: Sequence[str], stream: TextIO | None = None) -> str:
    """``lines`` framed in a box (Unicode when the terminal can show it, else ASCII)."""
    top_left, top_right, bottom_left, bottom_right, horizontal, vertical = tuple(_box_chars(stream))
    width = max(len(line) for line in lines) + 4
    framed = [f"  {top_left}{horizontal * width}{top_right}"]
    framed += [f"  {vertical}  {line:<{width - 2}}{vertical}" for line in lines]
    framed.append(f"  {bottom_left}{horizontal * width}{bottom_right}")
    return "\n".join(framed)


def password_box(username: str, password: str, admin_url: str, stream: TextIO | None = None) -> str:
    """The generated password of the first superuser; printed once, never logged elsewhere."""
    return boxed(
        [
            "First superuser created",
            "",
            f"  user      {username}",
            f"  password  {password}",
            "",
            "This password is shown only this once. Keep it, or change it",
            f"in the admin console: {admin_url}",
            f"Lost it?  .venv/bin/python manage.py changepassword {username}",
        ],
        stream,
    )


@dataclass(frozen=True)
class BannerFacts:
    """Everything the ready banner states, gathered from settings by the command."""

    base_url: str
    registry_host: str
    listen: str
    data_dir: str
    database: str
    broker: str
    storage: list[str]
    processes: list[str]
    username: str
    open_registry: bool


def ready_banner(facts: BannerFacts) -> str:
    """The short "Moorage is running" banner with URLs, where things live and how to push."""
    rows = [
        ("registry", f"{facts.base_url}/v2/"),
        ("admin", f"{facts.base_url}/admin/"),
        ("health", f"{facts.base_url}/health/endtoend"),
        ("metrics", f"{facts.base_url}/metrics"),
        *([("listening", facts.listen)] if not facts.base_url.endswith(facts.listen) else []),
        ("data dir", facts.data_dir),
        ("database", facts.database),
        ("broker", facts.broker),
        *(("storage" if i == 0 else "", line) for i, line in enumerate(facts.storage)),
        *(("processes" if i == 0 else "", line) for i, line in enumerate(facts.processes)),
    ]
    host, user = facts.registry_host, facts.username
    lines = ["", f"  Moorage is running at {facts.base_url}", ""]
    lines += [f"    {label:<10} {value}" for label, value in rows]
    lines += ["", "  Push and pull (plain HTTP, hence the TLS switches):"]
    if facts.open_registry:
        lines.append("    # open registry: no login needed")
    else:
        lines.append(f"    podman login --tls-verify=false -u {user} {host}")
    lines += [
        f"    podman push --tls-verify=false localhost/myapp:latest {host}/{user}/myapp:latest",
        f"    podman pull --tls-verify=false {host}/{user}/myapp:latest",
    ]
    creds = "" if facts.open_registry else f" --dest-creds {user}:PASSWORD"
    lines += [
        f"    skopeo copy --dest-tls-verify=false{creds} \\",
        f"        docker-archive:myapp.tar docker://{host}/{user}/myapp:latest",
        "",
        "  Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)
