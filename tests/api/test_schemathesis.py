"""Schemathesis against a real server: every operation of /api/v1/schema/ is called with generated
valid and invalid input, as a superuser and as a normal user (each with a JWT from
/api/v1/token/), and no response may be a 5xx or disagree with the schema (undocumented status
code, or a body that does not match the documented response or the Error schema), no
schema-violating request may be accepted (``negative_data_rejection``: ``0`` for a boolean, a
number for a string, ``?public=1``) and no operation may ignore a broken Authorization header
(``ignored_auth``).

Whatever endpoints exist at the time are tested: the operations come from the live schema.
The run is bounded (a fixed number of examples per operation, fixed seed): the normal user gets
every operation and every phase; the superuser only the operations a normal user is refused
(superuser, messages and quota endpoints) with the examples and coverage phases, which is where
the negative cases come from. ``MOORAGE_LONG_TESTS=1`` runs both users over every operation with
every phase and more examples. The failures schemathesis prints include a curl line to reproduce
each one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.live import ROOT, LiveRegistry

pytestmark = [pytest.mark.live]

PASSWORD = "schemathesis-password"
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,negative_data_rejection,ignored_auth"
LONG = os.environ.get("MOORAGE_LONG_TESTS") == "1"
ALL_PHASES = "examples,coverage,fuzzing"
#: (examples per operation and phase, phases, extra options) per user; about 200 operations
RUNS = {
    "fuzzuser": (25, ALL_PHASES, []) if LONG else (2, ALL_PHASES, []),
    "fuzzroot": (25, ALL_PHASES, []) if LONG else (2, "examples,coverage", ["--include-path-regex", "/(superuser|messages|quota)"]),
}
#: Calls that would make the rest of the run meaningless: deleting the signed-in account itself
#: (every later request would be a 401). Deleting other users, robots, tokens and so on is fuzzed.
EXCLUDED = ["DELETE /api/v1/user/"]
#: Per-operation exceptions. Schemathesis 4.32's coverage phase sends the documented example plus
#: ``"errors": {}`` for this operation and reports it as "errors -> Missing required property:
#: value", but that body is valid against the schema (extra properties are allowed, and ``value``
#: is there): a false positive. The operation's type checks are pinned in test_strict_input.py.
CONFIG = """
[[operations]]
include-name = "POST /api/v1/user/autoprunepolicy/"
checks.negative_data_rejection.enabled = false
"""


def st_executable() -> str:
    candidate = Path(sys.executable).with_name("st")
    return str(candidate) if candidate.exists() else (shutil.which("st") or "st")


@pytest.fixture(scope="module")
def registry():
    registry = LiveRegistry.create(extra_env={"MOORAGE_REGISTRY_OPEN": "false"})
    try:
        registry.manage("create_user", "fuzzroot", "--superuser", "--password", PASSWORD, "--email", "root@example.test")
        registry.manage("create_user", "fuzzuser", "--password", PASSWORD, "--email", "user@example.test")
        # something to find: an organization of the normal user with a repository
        registry.manage("create_org", "fuzzorg", "--owner", "fuzzuser", check=False)
        registry.start()
        # Both JWTs up front: the first run's bad sign-ins on /api/v1/token/ trip the failed-login
        # throttle for this address, so a sign-in after it would be answered 429.
        registry.jwts = {name: jwt(registry, name) for name in ("fuzzuser", "fuzzroot")}
        yield registry
    finally:
        registry.destroy()


def jwt(registry: LiveRegistry, username: str) -> str:
    response = requests.post(f"{registry.url}/api/v1/token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access"]


# The normal user goes first: the superuser's run may disable or delete other users at random.
@pytest.mark.timeout(3600 if LONG else 900)  # every operation of a growing API: minutes, more on a busy machine
@pytest.mark.parametrize("username", list(RUNS))
def test_the_api_conforms_to_its_schema(registry, username, tmp_path):
    token = registry.jwts[username]
    max_examples, phases, extra = RUNS[username]
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        st_executable(), "--config-file", str(config), "run", f"{registry.url}/api/v1/schema/?format=json",
        "--checks", CHECKS,
        "--phases", phases,
        "--max-examples", str(max_examples),
        "--seed", "4",
        "--workers", "4",
        "--generation-database", "none",
        "--request-timeout", "30",
        "--header", f"Authorization: Bearer {token}",
        "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]
    for name in EXCLUDED:
        command += ["--exclude-name", name]
    command += extra

    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=3540 if LONG else 840)

    assert result.returncode == 0, f"schemathesis as {username} failed:\n{report(result.stdout)}\n{result.stderr[-3000:]}"


def report(output: str) -> str:
    """The failures and the summary of schemathesis' output (its warnings about operations it
    could not reach are long and not failures)."""
    failures = output.find("= FAILURES =")
    warnings = output.find("= WARNINGS =")
    summary = output.find("= SUMMARY =")
    if failures == -1:
        return output[-20000:]
    end = warnings if warnings > failures else summary
    return output[failures:end][:40000] + "\n" + (output[summary:] if summary != -1 else "")
