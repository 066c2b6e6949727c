"""``manage.py vulndb_import``: output, --json, --dry-run and exit codes (run as a real process
where the exit code matters)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from repositories.models import Vulnerability
from tests.security.vulndb.conftest import osv_record, write_folder, write_zip

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


def records():
    return [osv_record(f"PYSEC-2099-{i}", "PyPI", f"pkg{i}", [{"introduced": "0"}, {"fixed": "1.0"}]) for i in range(12)]


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("vulndb_import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_text_output_shows_progress_and_a_summary(tmp_path):
    archive = write_zip(tmp_path / "PyPI.zip", records())
    out, _ = run(str(archive), "--progress-every", "5")
    assert f"Importing {archive}" in out
    assert "  5 records read, " in out and "  10 records read, " in out
    assert "Succeeded: 12 records read; 12 added, 0 updated, 0 unchanged" in out
    out, _ = run(str(archive))
    assert "0 added, 0 updated, 12 unchanged" in out


def test_json_summary_and_malformed_report(tmp_path):
    folder = write_folder(tmp_path / "osv", records())
    (folder / "bad.json").write_text("{")
    out, _ = run(str(folder), "--json")
    [summary] = json.loads(out)
    assert (summary["status"], summary["records"], summary["added"], summary["malformed"]) == ("succeeded", 13, 12, 1)
    assert summary["errors"][0]["file"] == "bad.json"
    assert summary["import_id"] and summary["finished"]


def test_text_output_lists_malformed_records_on_stderr(tmp_path):
    folder = write_folder(tmp_path / "osv", records())
    (folder / "bad.json").write_text(json.dumps({"id": "X"}))
    _, err = run(str(folder))
    assert "malformed: bad.json: modified must be an RFC 3339 time string" in err


def test_dry_run_writes_nothing(tmp_path):
    out, _ = run(str(write_zip(tmp_path / "a.zip", records())), "--dry-run")
    assert "(dry run)" in out and "12 would change" in out
    assert not Vulnerability.objects.exists()


def test_a_bad_path_is_an_error(tmp_path):
    with pytest.raises(CommandError) as info:
        call_command("vulndb_import", str(tmp_path / "missing.zip"), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert info.value.returncode == 1
    assert "missing.zip does not exist" in err.getvalue()


def test_exit_status_is_non_zero_for_an_unreadable_source(tmp_path):
    path = tmp_path / "Debian.zip"
    path.write_text("garbage")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "MOORAGE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "manage.py", "vulndb_import", str(path), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    [summary] = json.loads(proc.stdout)
    assert summary["status"] == "failed"
    assert "neither a folder nor a zip archive" in summary["error"]
