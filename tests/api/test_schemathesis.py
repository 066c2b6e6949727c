"""Schemathesis against a real server: every operation of /api/v1/schema/ is called with generated
valid and invalid input, as a superuser and as a normal user (each with a JWT from
/api/v1/token/), and no response may be a 5xx or disagree with the schema (undocumented status
code, or a body that does not match the documented response or the Error schema).

Whatever endpoints exist at the time are tested: the operations come from the live schema.
The run is bounded (a fixed number of examples per operation, fixed seed) to stay within a few
minutes; the failures schemathesis prints include a curl line to reproduce each one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.live import ROOT, LiveRegistry

pytestmark = [pytest.mark.live]

PASSWORD = "schemathesis-password"
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
#: examples per operation and phase; 91 operations x 2 users stay within about two minutes
MAX_EXAMPLES = 8
#: Calls that would make the rest of the run meaningless: deleting the signed-in account itself
#: (every later request would be a 401). Deleting other users, robots, tokens and so on is fuzzed.
EXCLUDED = ["DELETE /api/v1/user/"]


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
@pytest.mark.timeout(900)  # every operation of a growing API: minutes, more on a busy machine
@pytest.mark.parametrize("username", ["fuzzuser", "fuzzroot"])
def test_the_api_conforms_to_its_schema(registry, username, tmp_path):
    token = registry.jwts[username]
    command = [
        st_executable(), "run", f"{registry.url}/api/v1/schema/?format=json",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
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

    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=840)

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
