"""``manage.py check_config [FILE]`` and the start-up check manage.py runs before Django."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from registry_site.management.config_report import config_check, effective_config_check, format_problems

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    env.update({"MOORAGE_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "registry_site.settings"})
    env.update(extra)
    return env


def _manage(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=_env(tmp_path, **extra_env), capture_output=True, text=True, timeout=60
    )


def _write(tmp_path: Path, data: object, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


BAD = {"port": "http", "server": {"workers": 0}, "databse": {"url": None}, "redis": {"url": "memcached://x"}}


# --- the command, as a person runs it -----------------------------------------------------------
def test_a_valid_file_exits_0_with_a_short_summary(tmp_path):
    path = _write(tmp_path, {"port": 6000, "server": {"workers": 3}})
    result = _manage(tmp_path, "check_config", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path} is valid."
    assert f"  keys set    2 in {path}; every other key takes its default" in lines
    assert "  listens on  127.0.0.1:6000" in lines
    assert any(line.startswith("  database    SQLite (") for line in lines)
    assert any(line.startswith("  broker      embedded (kombu filesystem queue in ") for line in lines)
    assert len(lines) <= 8


def test_an_invalid_file_exits_1_listing_every_error_by_key_path_aligned(tmp_path):
    path = _write(tmp_path, BAD)
    result = _manage(tmp_path, "check_config", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path} is invalid: 4 errors"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"databse", "port", "redis.url", "server.workers"}
    assert "unknown key (did you mean 'database'?)" in rows["databse"]
    assert "'http' is not of type 'integer'" in rows["port"]
    assert "0 is less than the minimum of 1" in rows["server.workers"]
    message_columns = {line.index(line.split(None, 1)[1]) for line in lines[1:]}
    assert len(message_columns) == 1, "messages should start in one column"
    assert "Traceback" not in result.stderr


def test_a_yaml_syntax_error_is_reported_with_its_line_and_column(tmp_path):
    path = _write(tmp_path, "port: 5000\nserver:\n  workers: [1, 2\n")
    result = _manage(tmp_path, "check_config", str(path))
    assert result.returncode == 1
    assert "(top level)   not valid YAML at line 4, column 1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_exits_1_without_a_traceback(tmp_path):
    result = _manage(tmp_path, "check_config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1
    assert "cannot read config file: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_file_the_effective_configuration_is_checked_and_env_errors_name_their_variable(tmp_path):
    result = _manage(tmp_path, "check_config", MOORAGE_PORT="abc", MOORAGE_SERVER_THREADS="0")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "The effective configuration is invalid: 2 errors"
    assert "'abc' is not of type 'integer'  (from MOORAGE_PORT)" in result.stderr
    assert "(from MOORAGE_SERVER_THREADS)" in result.stderr


def test_without_file_moorage_config_and_the_environment_are_combined(tmp_path):
    path = _write(tmp_path, {"port": 6000, "server": {"workers": 3}})
    result = _manage(tmp_path, "check_config", MOORAGE_CONFIG=str(path), MOORAGE_PORT="6100")
    assert result.returncode == 0, result.stderr
    assert "  listens on  127.0.0.1:6100" in result.stdout
    assert "1 from the environment" not in result.stdout  # MOORAGE_DATA_DIR is set too
    assert "2 from the environment (MOORAGE_DATA_DIR, MOORAGE_PORT)" in result.stdout


def test_a_file_is_checked_on_its_own_even_when_the_environment_is_invalid(tmp_path):
    path = _write(tmp_path, {"port": 6000})
    result = _manage(tmp_path, "check_config", str(path), MOORAGE_PORT="abc")
    assert result.returncode == 0, result.stderr
    assert f"{path} is valid." in result.stdout


def test_any_other_command_refuses_an_invalid_configuration_without_a_traceback(tmp_path):
    result = _manage(tmp_path, "migrate", MOORAGE_PORT="abc", MOORAGE_LOG_LEVEL="LOUD")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Moorage cannot start: the configuration is invalid."
    assert any(line.split()[:1] == ["port"] and "(from MOORAGE_PORT)" in line for line in lines)
    assert any(line.split()[:1] == ["log_level"] for line in lines)
    assert "Traceback" not in result.stderr


def test_check_config_through_call_command_exits_1_for_an_invalid_file(tmp_path):
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command("check_config", str(_write(tmp_path, BAD)), stderr=stderr, stdout=io.StringIO())
    assert caught.value.code == 1
    assert "server.workers" in stderr.getvalue()


# --- the checks behind it -----------------------------------------------------------------------
def test_secrets_never_appear_in_the_report(tmp_path):
    path = _write(
        tmp_path,
        {"secret_key": "too-short-secret", "admin": {"password": 12345}, "database": {"url": "mysql://app:hunter2@db/x"}},
    )
    check = config_check(str(path), {})
    text = "\n".join(format_problems(check.problems))
    assert {problem.path for problem in check.problems} == {"secret_key", "admin.password", "database.url"}
    for secret in ("too-short-secret", "12345", "hunter2"):
        assert secret not in text
    assert "mysql://app:***@db/x" in text


def test_several_unknown_keys_are_reported_one_per_line(tmp_path):
    check = config_check(str(_write(tmp_path, {"prot": 1, "zzz": 2, "server": {"workerz": 1}})), {})
    messages = {problem.path: problem.message for problem in check.problems}
    assert messages["prot"] == "unknown key (did you mean 'port'?)"
    assert messages["zzz"].startswith("unknown key (known here: ")
    assert messages["server.workerz"] == "unknown key (did you mean 'workers'?)"


def test_a_preference_naming_an_unknown_location_is_an_error(tmp_path):
    path = _write(tmp_path, {"storage": {"locations": {"a": {"driver": "filesystem"}}, "preference": ["a", "b"]}})
    check = config_check(str(path), {})
    assert [(p.path, p.message) for p in check.problems] == [("storage.preference", "unknown location(s) b; configured: a")]


def test_the_effective_check_reads_moorage_config_and_counts_keys(tmp_path):
    path = _write(tmp_path, {"port": 6000, "admin": {"user": "root", "email": "r@example.org"}})
    check = effective_config_check({"MOORAGE_CONFIG": str(path), "MOORAGE_DEBUG": "true"})
    assert check.valid
    assert check.file_keys == 3
    assert check.env_overrides == ["MOORAGE_DEBUG"]
    assert check.config["port"] == 6000 and check.config["debug"] is True


# --- --json, for scripts ----------------------------------------------------------------------------
def test_json_output_of_a_valid_file_is_one_object_and_exit_0(tmp_path):
    import json

    path = _write(tmp_path, {"port": 6000})
    result = _manage(tmp_path, "check_config", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["problems"] == []
    assert report["keys_set_in_file"] == 1


def test_json_output_lists_every_problem_by_key_path_and_exits_1(tmp_path):
    import json

    path = _write(tmp_path, BAD)
    result = _manage(tmp_path, "check_config", str(path), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    paths = {problem["path"] for problem in report["problems"]}
    assert {"port", "server.workers", "databse"} <= paths


def test_json_output_names_the_environment_variable_of_a_bad_override(tmp_path):
    import json

    result = _manage(tmp_path, "check_config", "--json", MOORAGE_PORT="not-a-port")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert any(problem["environment_variable"] == "MOORAGE_PORT" for problem in problems)
