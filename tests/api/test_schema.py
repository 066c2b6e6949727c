"""The OpenAPI document is valid and generated without a single warning (a warning means an
endpoint whose request or response the schema cannot describe)."""

from __future__ import annotations

import subprocess
import sys

from tests.live import ROOT


def test_spectacular_validates_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )

    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert "openapi: 3" in (tmp_path / "schema.yaml").read_text()
