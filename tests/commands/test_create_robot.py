"""manage.py create_robot: the token is shown once, stored hashed, and really logs in."""

from __future__ import annotations

import hashlib
import re
import shlex

import pytest
from django.core.management import CommandError

from accounts.models import Robot
from accounts.services import credentials_verify
from repositories.models import AuditLog
from tests.commands.conftest import audit_kinds, run, tables_containing

pytestmark = pytest.mark.django_db

TOKEN_LINE = re.compile(r"^Token:\s+(\S+)$", re.M)


def test_robot_token_is_printed_once_and_authenticates(acme):
    out = run("create_robot", "acme", "deployer", "--description", "CI pushes")

    token = TOKEN_LINE.search(out.stdout).group(1)
    principal = credentials_verify(username="acme+deployer", password=token)
    assert principal is not None
    assert (principal.kind, principal.name) == ("robot", "acme+deployer")
    assert "Robot name: acme+deployer" in out.stdout
    assert "shown only this once" in out.stdout
    robot = Robot.objects.get(namespace__name="acme", shortname="deployer")
    assert robot.description == "CI pushes"


def test_database_holds_only_the_hash(acme):
    token = run("create_robot", "acme", "deployer", "--json").json["token"]

    robot = Robot.objects.get(shortname="deployer")
    assert robot.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert tables_containing(token) == []  # not in the robot row, not in the audit log, nowhere


def test_wrong_token_does_not_authenticate(acme):
    token = run("create_robot", "acme", "deployer", "--json").json["token"]

    assert credentials_verify(username="acme+deployer", password=token[:-1] + ("x" if token[-1] != "x" else "y")) is None
    assert credentials_verify(username="acme+other", password=token) is None


def test_login_lines_for_skopeo_podman_and_docker(acme):
    out = run("create_robot", "acme", "deployer")
    token = TOKEN_LINE.search(out.stdout).group(1)

    lines = {tool: next(line.strip() for line in out.stdout.splitlines() if f"| {tool} login" in line) for tool in ("skopeo", "podman", "docker")}
    for tool, line in lines.items():
        feed, login = (shlex.split(part) for part in line.split(" | "))
        assert feed == ["printf", "%s\\n", token]
        assert login[:2] == [tool, "login"]
        assert login[login.index("--username") + 1] == "acme+deployer"
        assert "--password-stdin" in login and login[-1] == "127.0.0.1:5000"
    assert "--tls-verify=false" in lines["skopeo"] and "--tls-verify=false" in lines["podman"]
    assert "--tls-verify" not in lines["docker"]


def test_https_registry_drops_the_tls_switch(acme):
    data = run("create_robot", "acme", "deployer", "--registry", "https://registry.example.com", "--json").json

    assert all("--tls-verify" not in line for line in data["login"].values())
    assert all(line.endswith(" registry.example.com") for line in data["login"].values())


def test_plain_http_registry_on_another_host_mentions_docker_insecure_registries(acme):
    out = run("create_robot", "acme", "deployer", "--registry", "registry.internal:5000")

    assert "insecure-registries" in out.stdout and "registry.internal:5000" in out.stdout


def test_robot_in_a_user_namespace(alice):
    data = run("create_robot", "alice", "laptop", "--json").json

    assert data["name"] == "alice+laptop"
    assert credentials_verify(username="alice+laptop", password=data["token"]).name == "alice+laptop"


def test_supplied_token_is_kept(acme):
    token = "migrated-token-0123456789abcdefghijklmnop"
    data = run("create_robot", "acme", "deployer", "--token", token, "--json").json

    assert data["token"] == token
    assert credentials_verify(username="acme+deployer", password=token) is not None
    assert AuditLog.objects.get(kind="create_robot").metadata["token_supplied"] is True
    assert tables_containing(token) == []


def test_token_from_stdin(acme):
    token = "piped-token-0123456789abcdefghijklmnopqr"
    run("create_robot", "acme", "deployer", "--token-stdin", stdin=token + "\n")

    assert credentials_verify(username="acme+deployer", password=token) is not None


def test_json_output(acme):
    data = run("create_robot", "acme", "deployer", "--json").json

    assert set(data) == {"name", "namespace", "shortname", "description", "token", "registry", "login"}
    assert (data["name"], data["namespace"], data["shortname"], data["registry"]) == ("acme+deployer", "acme", "deployer", "127.0.0.1:5000")
    assert set(data["login"]) == {"skopeo", "podman", "docker"}
    assert all(data["token"] in line for line in data["login"].values())


def test_audit_entry_without_the_token(acme):
    token = run("create_robot", "acme", "deployer", "--json").json["token"]

    entry = AuditLog.objects.get(kind="create_robot")
    assert entry.namespace_name == "acme" and entry.metadata["robot"] == "acme+deployer"
    assert token not in str(entry.metadata)


def test_existing_robot_is_a_clear_error(acme, deployer):
    with pytest.raises(CommandError, match=r"cannot create robot acme\+deployer: robot acme\+deployer exists"):
        run("create_robot", "acme", "deployer")
    assert audit_kinds() == []


def test_invalid_short_name(acme):
    with pytest.raises(CommandError, match="robot names start with a letter"):
        run("create_robot", "acme", "Deploy-Bot")
    assert not Robot.objects.exists()


def test_unknown_namespace(db):
    with pytest.raises(CommandError, match="unknown namespace 'nowhere'"):
        run("create_robot", "nowhere", "deployer")


def test_too_short_supplied_token(acme):
    with pytest.raises(CommandError, match="at least 32 characters"):
        run("create_robot", "acme", "deployer", "--token", "short")
