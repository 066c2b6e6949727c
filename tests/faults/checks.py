"""What must hold after every fault: nothing partial or corrupt is visible, fsck is clean."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import requests

from tests.live import ROOT, LiveRegistry

FSCK_SERVICE = ROOT / "repositories" / "services" / "fsck.py"


def assert_fsck_clean(registry: LiveRegistry, repository: str | None = None) -> dict | None:
    """``manage.py fsck --json`` on the server's database and storage exits 0 (no problem).

    ``repository`` limits it to one repository and the blobs it references (for a server whose
    storage configuration a test changed: blobs of earlier cases sit in locations no longer
    configured, which fsck rightly reports). Returns its report; None while the checker has not
    landed."""
    if not FSCK_SERVICE.exists():
        return None
    result = registry.manage("fsck", "--json", *(["--repository", repository] if repository else []), check=False)
    assert result.returncode == 0, f"fsck found problems (exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {"output": result.stdout}


def filesystem_blob_files(blobs_root: Path) -> list[Path]:
    """Every committed blob file below a filesystem location's root."""
    base = blobs_root / "blobs"
    return [path for path in base.rglob("*") if path.is_file()] if base.exists() else []


def assert_no_corrupt_blob_file(blobs_root: Path) -> int:
    """Every committed blob file hashes to the digest its path names (nothing partial was
    committed); returns how many were checked."""
    files = filesystem_blob_files(blobs_root)
    for path in files:
        algorithm = path.parent.parent.name
        digest = hashlib.new(algorithm)
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        assert digest.hexdigest() == path.name, f"{path} holds bytes of another digest: a partial or corrupt blob"
    return len(files)


def assert_blob_absent_or_whole(session: requests.Session, base: str, name: str, digest: str, data: bytes) -> bool:
    """GET of a blob is a clean 404 (BLOB_UNKNOWN) or exactly ``data``; True when present."""
    response = session.get(f"{base}/v2/{name}/blobs/{digest}", timeout=60)
    if response.status_code == 404:
        assert response.json()["errors"][0]["code"] in ("BLOB_UNKNOWN", "NAME_UNKNOWN"), response.text
        return False
    assert response.status_code == 200, f"{name}@{digest}: {response.status_code} {response.text[:300]}"
    assert response.content == data, f"{name}@{digest} serves other bytes than were pushed"
    return True
