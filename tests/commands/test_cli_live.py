"""The commands as an operator runs them: real ``manage.py`` processes against the database of a
real, closed Moorage server, and the printed login lines pasted into a real shell with real
skopeo and podman."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.live import LiveRegistry

pytestmark = [pytest.mark.live, pytest.mark.e2e]


@pytest.fixture(scope="module")
def registry():
    server = LiveRegistry.create({"MOORAGE_REGISTRY_OPEN": "false"}).start(workers=1, threads=4)
    yield server
    server.destroy()


def manage_json(registry: LiveRegistry, *args: str) -> dict:
    result = registry.manage(*args, "--json", check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def paste(line: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a printed line as a person pasting it would: in a shell, with a private auth file."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
           "XDG_RUNTIME_DIR": str(tmp_path)}
    return subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def robot(registry: LiveRegistry) -> dict:
    manage_json(registry, "create_user", "alice")
    manage_json(registry, "create_org", "acme", "--owner", "alice")
    manage_json(registry, "set_repository", "acme/app", "--create")
    data = manage_json(registry, "create_robot", "acme", "ci", "--registry", registry.host)
    manage_json(registry, "grant", "acme/app", "write", "--robot", "acme+ci")
    return data


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_printed_skopeo_line_logs_the_robot_in(robot, tmp_path):
    result = paste(robot["login"]["skopeo"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Login Succeeded" in result.stdout
    auths = json.loads((tmp_path / "auth.json").read_text())["auths"]
    stored = base64.b64decode(next(iter(auths.values()))["auth"]).decode()
    assert stored == f"acme+ci:{robot['token']}"


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_the_same_line_with_a_wrong_token_is_refused(robot, tmp_path):
    line = robot["login"]["skopeo"].replace(robot["token"], "x" * len(robot["token"]))

    result = paste(line, tmp_path)

    assert result.returncode != 0
    assert "401" in result.stderr or "unauthorized" in result.stderr.lower() or "invalid" in result.stderr.lower()


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_printed_podman_line_logs_the_robot_in(robot, tmp_path):
    result = paste(robot["login"]["podman"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Login Succeeded" in result.stdout


def test_granted_robot_gets_a_push_token_from_the_server(registry, robot):
    response = requests.get(
        f"{registry.url}/v2/auth", params={"service": registry.host, "scope": "repository:acme/app:pull,push"},
        auth=("acme+ci", robot["token"]), timeout=10,
    )

    assert response.status_code == 200, response.text
    payload = response.json()["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["access"] == [{"type": "repository", "name": "acme/app", "actions": ["pull", "push"]}]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_app_token_login_line_with_user_name_and_with_app(registry, robot, tmp_path):
    data = manage_json(registry, "create_app_token", "alice", "laptop", "--expires-in", "7", "--registry", registry.host)

    assert paste(data["login"]["skopeo"], tmp_path).returncode == 0
    as_app = data["login"]["skopeo"].replace("--username alice ", "--username '$app' ")
    result = paste(as_app, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create_robot", "nowhere", "bot"), "unknown namespace 'nowhere'"),
        (("create_org", "acme", "--owner", "alice"), "a user or organization already has this name"),
        (("grant", "acme/missing", "read", "--user", "alice"), "unknown repository 'acme/missing'"),
        (("create_team", "acme", "devs", "--role", "member", "--member", "ghost"), "unknown user 'ghost'"),
    ],
)
def test_expected_problems_exit_1_with_one_line_and_no_traceback(registry, robot, args, message):
    result = registry.manage(*args, check=False)

    assert result.returncode == 1
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(registry, robot):
    result = registry.manage("grant", "acme/app", "owner", "--user", "alice", check=False)

    assert result.returncode == 2
    assert "invalid choice: 'owner'" in result.stderr and "Traceback" not in result.stderr


def test_success_prints_nothing_on_stderr(registry, robot):
    result = registry.manage("set_repository", "acme/app", "--visibility", "public", check=False)

    assert result.returncode == 0 and result.stderr == ""
    assert "visibility private -> public" in result.stdout
