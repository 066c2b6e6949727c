"""Fixtures of the indexer tests: images pushed through the real services into real storage."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from repositories.media_types import OCI_INDEX, OCI_MANIFEST
from repositories.models import Manifest, Repository
from repositories.services.manifests import manifest_put
from tests.factories import RepositoryFactory, descriptor, image_manifest
from tests.repositories.helpers import push_blob
from tests.security.indexer.helpers import layer, os_release


@dataclass
class Pushed:
    manifest: Manifest
    layers: list[bytes]


def push(repository: Repository, tag: str | None, layers: list[bytes], *, config: bytes | None = None, raw: bytes | None = None) -> Pushed:
    config = config if config is not None else json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "n": os.urandom(4).hex()}).encode()
    for data in (config, *layers):
        push_blob(repository=repository, data=data)
    raw = raw or image_manifest(config=config, layers=layers)
    result = manifest_put(repository=repository, reference=tag or f"sha256:{hashlib.sha256(raw).hexdigest()}", raw=raw, content_type=OCI_MANIFEST)
    return Pushed(result.manifest, layers)


def push_index(repository: Repository, tag: str, children: list[Pushed]) -> Manifest:
    body = {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{**descriptor(bytes(child.manifest.content), OCI_MANIFEST), "platform": {"os": "linux", "architecture": arch}} for child, arch in zip(children, ["amd64", "arm64"])],
    }
    return manifest_put(repository=repository, reference=tag, raw=json.dumps(body).encode(), content_type=OCI_INDEX).manifest


DEBIAN_LAYER = layer({"etc/os-release": os_release("debian", "12"), "var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes()})


@pytest.fixture
def repository(db) -> Repository:
    return RepositoryFactory()


@pytest.fixture
def security_config(settings):  # noqa: ANN001
    """``settings.MOORAGE["security"]`` of this test, to change keys in place."""
    settings.MOORAGE = {**settings.MOORAGE, "security": dict(settings.MOORAGE["security"])}
    return settings.MOORAGE["security"]


@pytest.fixture
def osv_folder(tmp_path: Path):
    """Writes OSV records (dicts) into a folder for ``vulndb_import``."""

    def write(*records: dict) -> Path:
        folder = tmp_path / f"osv-{os.urandom(3).hex()}"
        folder.mkdir()
        for record in records:
            (folder / f"{record['id']}.json").write_text(json.dumps(record))
        return folder

    return write


def osv_record(vuln_id: str, ecosystem: str, name: str, fixed: str, *, cvss: str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") -> dict:
    return {
        "schema_version": "1.6.0", "id": vuln_id, "modified": "2024-01-01T00:00:00Z", "published": "2024-01-01T00:00:00Z",
        "summary": f"{name} is vulnerable", "aliases": [f"CVE-2024-{abs(hash(vuln_id)) % 10000:04d}"],
        "severity": [{"type": "CVSS_V3", "score": cvss}],
        "affected": [{"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        "references": [{"type": "ADVISORY", "url": f"https://example.org/{vuln_id}"}],
    }


__all__ = ["DEBIAN_LAYER", "Pushed", "osv_record", "push", "push_index"]
