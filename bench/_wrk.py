"""wrk (C, event loop, one thread per core) as the load generator for the request-rate figures.

A generated Lua script adds the Authorization and Accept headers and checks every response:
status 200 and, when given, the ``Docker-Content-Digest`` header. wrk's own error counters
(connect/read/write/timeout, non-2xx) are added in; any error voids the figure."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
wrk.method = "%(method)s"
%(headers)s
local expected = %(digest)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; good = 0 end
function response(status, headers, body)
  local ok = status == 200
  if ok and expected then
    local got = nil
    for k, v in pairs(headers) do if string.lower(k) == "docker-content-digest" then got = v end end
    ok = got == expected
  end
  if ok then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local b, g = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); g = g + t:get("good") end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"bad":%%d,"good":%%d,"p50_us":%%d,"p99_us":%%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout, b, g,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int


class WrkFailed(Exception):
    pass


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, digest: str | None = None,
        connections: int = 16, threads: int = 2, seconds: float = 5.0) -> WrkResult:
    """Load ``url`` for ``seconds``; raises WrkFailed when any response was wrong."""
    lines = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items())
    script = LUA % {"method": method, "headers": lines, "digest": _lua_string(digest) if digest else "nil"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        completed = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s", "-s", handle.name, url],
            capture_output=True, text=True, timeout=seconds + 60,
        )
    finally:
        Path(handle.name).unlink(missing_ok=True)
    marker = [line for line in completed.stdout.splitlines() if line.startswith("WRKJSON ")]
    if completed.returncode != 0 or not marker:
        raise WrkFailed(f"wrk failed ({completed.returncode}): {completed.stdout[-1000:]} {completed.stderr[-1000:]}")
    data = json.loads(marker[0][len("WRKJSON "):])
    if data["errors"] or data["bad"] or data["good"] == 0:
        raise WrkFailed(f"{method} {url}: {data['bad']} wrong responses, {data['errors']} errors of {data['requests']}")
    return WrkResult(
        requests_per_s=data["requests"] / (data["duration_us"] / 1e6), p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
    )
