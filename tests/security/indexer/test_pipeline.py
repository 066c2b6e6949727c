"""The scan pipeline on images pushed through the real services: statuses, the layer cache,
failures with backoff, the sweep, indexes, findings, notifications and rescans."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from repositories.models import LayerIndex, ManifestFinding, ManifestScan
from repositories.scanning.osv import vulndb_import
from repositories.selectors_security import manifest_packages, manifest_security_report
from repositories.services.scans import manifest_rescan, manifest_scan_queue, manifest_scan_run, manifest_scan_sweep, manifests_rematch_all
from repositories.signals import manifest_pushed, registry_event
from storagebackends.paths import blob_path
from storagebackends.registry import get_location
from tests.factories import digest_of
from tests.security.indexer.conftest import DEBIAN_LAYER, osv_record, push, push_index
from tests.security.indexer.helpers import layer

PYTHON_LAYER = layer({
    "usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nbody\n",
    "usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\n",
})


def scan(manifest_id: int) -> ManifestScan:
    manifest_scan_queue(manifest_id=manifest_id)
    result = manifest_scan_run(manifest_id=manifest_id)
    assert result is not None
    return result


def dpkg_installed() -> dict[str, str]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"], capture_output=True, text=True, check=True).stdout
    return {n: v for n, v, s in (line.split("\t") for line in out.splitlines()) if s.strip() == "ii"}


def test_an_image_is_scanned_with_its_packages_and_the_layer_that_added_each(repository):
    pushed = push(repository, "v1", [DEBIAN_LAYER, PYTHON_LAYER])
    result = scan(pushed.manifest.id)
    assert result.status == "scanned" and result.distro == "Debian:12" and result.attempts == 0
    packages = {p.name: p for p in manifest_packages(pushed.manifest)}
    assert {name: packages[name].version for name in dpkg_installed()} == dpkg_installed()
    assert packages["requests"].version == "2.31.0" and packages["requests"].ecosystem == "PyPI"
    layer_of = {p["name"]: p["layer"] for p in result.packages}
    assert layer_of["requests"] == digest_of(PYTHON_LAYER) and layer_of["bash"] == digest_of(DEBIAN_LAYER)


def test_layers_shared_by_images_are_read_once(repository):
    first = push(repository, "a", [DEBIAN_LAYER, PYTHON_LAYER])
    scan(first.manifest.id)
    cached = {row.digest: row.pk for row in LayerIndex.objects.all()}
    assert set(cached) == {digest_of(DEBIAN_LAYER), digest_of(PYTHON_LAYER)}
    other = layer({"app/node_modules/lodash/package.json": b'{"name":"lodash","version":"4.17.20"}'})
    second = push(repository, "b", [DEBIAN_LAYER, other])
    assert scan(second.manifest.id).status == "scanned"
    after = {row.digest: row.pk for row in LayerIndex.objects.all()}
    assert after[digest_of(DEBIAN_LAYER)] == cached[digest_of(DEBIAN_LAYER)]  # the same row: not indexed again
    assert len(after) == 3
    assert "lodash" in {p.name for p in manifest_packages(second.manifest)}


def test_a_helm_chart_or_a_signature_is_unsupported_with_a_reason(repository):
    from repositories.media_types import OCI_MANIFEST
    from repositories.services.manifests import manifest_put
    from tests.factories import descriptor
    from tests.repositories.helpers import push_blob

    for data in (b'{"name":"mychart","version":"1.0.0"}', b"chart bytes"):
        push_blob(repository=repository, data=data)
    raw = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor(b'{"name":"mychart","version":"1.0.0"}', "application/vnd.cncf.helm.config.v1+json"),
        "layers": [descriptor(b"chart bytes", "application/vnd.cncf.helm.chart.content.v1.tar+gzip")],
    }).encode()
    helm = manifest_put(repository=repository, reference="helm", raw=raw, content_type=OCI_MANIFEST).manifest
    result = scan(helm.id)
    assert result.status == "unsupported"
    assert "application/vnd.cncf.helm.config.v1+json" in result.reason
    assert manifest_security_report(manifest=helm, vulnerabilities=True) == {"status": "unsupported", "data": None, "reason": result.reason}


def _remove_layer_bytes(data: bytes) -> None:
    for name in ("default",):
        get_location(name).delete(blob_path(digest_of(data)))


def test_a_layer_missing_from_storage_fails_the_scan_and_it_is_retried_with_backoff(repository, security_config):
    security_config.update(retry_backoff_s=60, max_retry_backoff_s=3600, max_attempts=3)
    broken = layer({"var/lib/dpkg/status": b"Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\n"})
    pushed = push(repository, "broken", [broken])
    backend = get_location("default")
    backend.delete(blob_path(digest_of(broken)))

    first = scan(pushed.manifest.id)
    assert first.status == "failed" and first.attempts == 1
    assert "missing from storage" in first.reason
    assert timedelta(seconds=55) <= first.next_attempt_at - timezone.now() <= timedelta(seconds=61)
    assert manifest_security_report(manifest=pushed.manifest, vulnerabilities=False)["status"] == "failed"

    # not due yet: a run leaves it alone, and the sweep does not hand it out
    assert manifest_scan_run(manifest_id=pushed.manifest.id).attempts == 1
    assert pushed.manifest.id not in manifest_scan_sweep().due

    ManifestScan.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert pushed.manifest.id in manifest_scan_sweep().due
    second = manifest_scan_run(manifest_id=pushed.manifest.id)
    assert second.status == "failed" and second.attempts == 2
    assert timedelta(seconds=115) <= second.next_attempt_at - timezone.now() <= timedelta(seconds=121)  # doubled

    backend.write_atomic(blob_path(digest_of(broken)), [broken])  # the bytes are back
    ManifestScan.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    third = manifest_scan_run(manifest_id=pushed.manifest.id)
    assert third.status == "scanned" and third.reason == ""
    assert [p.name for p in manifest_packages(pushed.manifest)] == ["zlib1g"]


def test_a_scan_gives_up_after_max_attempts_and_a_rescan_starts_over(repository, security_config):
    security_config.update(max_attempts=2)
    broken = layer({"var/lib/dpkg/status": b"Package: a\nVersion: 1\n"})
    pushed = push(repository, "x", [broken])
    get_location("default").delete(blob_path(digest_of(broken)))
    scan(pushed.manifest.id)
    ManifestScan.objects.filter(manifest=pushed.manifest).update(next_attempt_at=timezone.now())
    final = manifest_scan_run(manifest_id=pushed.manifest.id)
    assert final.status == "failed" and final.attempts == 2 and final.next_attempt_at is None
    assert "gave up after 2 attempts" in final.reason
    assert pushed.manifest.id not in manifest_scan_sweep().due
    get_location("default").write_atomic(blob_path(digest_of(broken)), [broken])
    manifest_rescan(manifest_id=pushed.manifest.id)
    assert manifest_scan_run(manifest_id=pushed.manifest.id).status == "scanned"


def test_a_damaged_layer_fails_with_the_reason(repository):
    damaged = DEBIAN_LAYER[: len(DEBIAN_LAYER) // 3]
    pushed = push(repository, "damaged", [damaged])
    result = scan(pushed.manifest.id)
    assert result.status == "failed"
    assert "broke off" in result.reason or "truncated" in result.reason


def test_a_scan_whose_worker_died_is_queued_again_by_the_sweep(repository, security_config):
    security_config.update(stale_after_s=600, max_attempts=5)
    pushed = push(repository, "v", [PYTHON_LAYER])
    manifest_scan_queue(manifest_id=pushed.manifest.id)
    ManifestScan.objects.filter(manifest=pushed.manifest).update(status="in_progress", started_at=timezone.now() - timedelta(hours=1))
    report = manifest_scan_sweep()
    assert report.requeued_stale == 1 and pushed.manifest.id in report.due
    row = ManifestScan.objects.get(manifest=pushed.manifest)
    assert row.status == "queued" and row.attempts == 1 and "lost" in row.reason
    assert manifest_scan_run(manifest_id=pushed.manifest.id).status == "scanned"


def test_no_more_scans_run_at_once_than_indexer_workers(repository, security_config):
    security_config.update(indexer_workers=1)
    busy = push(repository, "busy", [PYTHON_LAYER])
    waiting = push(repository, "waiting", [DEBIAN_LAYER])
    manifest_scan_queue(manifest_id=busy.manifest.id)
    ManifestScan.objects.filter(manifest=busy.manifest).update(status="in_progress", started_at=timezone.now())
    assert scan(waiting.manifest.id).status == "queued"
    ManifestScan.objects.filter(manifest=busy.manifest).update(status="queued", started_at=None)
    assert manifest_scan_run(manifest_id=waiting.manifest.id).status == "scanned"


def test_the_sweep_queues_unscanned_manifests_most_recently_pushed_first(repository, security_config):
    security_config.update(batch_size=2)
    old = push(repository, "old", [PYTHON_LAYER])
    middle = push(repository, "middle", [DEBIAN_LAYER])
    new = push(repository, "new", [layer({"a/node_modules/x/package.json": b'{"name":"x","version":"1.0.0"}'})])
    from repositories.models import Manifest

    Manifest.objects.filter(pk=old.manifest.pk).update(created=timezone.now() - timedelta(days=2))
    Manifest.objects.filter(pk=middle.manifest.pk).update(created=timezone.now() - timedelta(days=1))
    report = manifest_scan_sweep()
    assert report.due == [new.manifest.id, middle.manifest.id]
    assert report.queued_new == 2


def test_an_index_is_scanned_per_platform(repository):
    amd64 = push(repository, None, [DEBIAN_LAYER])
    arm64 = push(repository, None, [PYTHON_LAYER])
    index = push_index(repository, "multi", [amd64, arm64])
    assert scan(index.id).status == "scanned"
    report = manifest_security_report(manifest=index, vulnerabilities=False)
    assert report["status"] == "scanned"
    by_arch = {p["platform"]["architecture"]: p for p in report["platforms"]}
    assert by_arch["arm64"]["digest"] == arm64.manifest.digest
    names = {f["Name"] for f in by_arch["arm64"]["data"]["Layer"]["Features"]}
    assert names == {"requests", "six"}
    assert by_arch["amd64"]["data"]["Layer"]["NamespaceName"] == "Debian:12"
    assert manifest_packages(index) is None


def test_a_pushed_manifest_without_a_scan_row_is_queued_by_the_sweep(repository):
    pushed = push(repository, "sig", [PYTHON_LAYER])
    ManifestScan.objects.filter(manifest=pushed.manifest).delete()
    # the receiver only queues a task (nothing is written on the push path)
    manifest_pushed.send(sender=None, repository_id=repository.id, manifest_id=pushed.manifest.id, digest=pushed.manifest.digest, tags=["sig"])
    assert not ManifestScan.objects.filter(manifest=pushed.manifest).exists()
    assert pushed.manifest.id in manifest_scan_sweep().due  # what a lost task leaves is caught up
    row = ManifestScan.objects.get(manifest=pushed.manifest)
    assert row.status == "queued" and row.pushed_at == pushed.manifest.created


def test_findings_are_stored_rematched_after_an_import_and_notify_once(repository, osv_folder, security_config, django_capture_on_commit_callbacks):
    security_config.update(notify_min_severity="High")
    pushed = push(repository, "v1", [PYTHON_LAYER])
    assert scan(pushed.manifest.id).status == "scanned"
    assert not ManifestFinding.objects.filter(manifest=pushed.manifest).exists()

    events = []

    def listen(sender, event, payload, **kwargs):  # noqa: ANN001
        events.append((event, payload))

    registry_event.connect(listen, dispatch_uid="test-indexer-events")
    try:
        folder = osv_folder(
            osv_record("PYSEC-2024-1", "PyPI", "requests", "2.32.0"),
            osv_record("PYSEC-2024-2", "PyPI", "six", "1.17.0", cvss="CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"),
            osv_record("PYSEC-2024-3", "PyPI", "requests", "2.0.0"),  # fixed long before 2.31.0
        )
        with django_capture_on_commit_callbacks(execute=True):
            vulndb_import(path=folder)
            report = manifests_rematch_all()
        assert report.manifests == 1 and report.new_findings == 2
        rows = {row.vulnerability_id: row for row in ManifestFinding.objects.filter(manifest=pushed.manifest)}
        assert set(rows) == {"PYSEC-2024-1", "PYSEC-2024-2"}
        assert rows["PYSEC-2024-1"].severity == "Critical" and rows["PYSEC-2024-1"].fixed_version == "2.32.0"
        found = [payload for event, payload in events if event == "vulnerability_found"]
        assert [p["vulnerability"]["id"] for p in found] == ["PYSEC-2024-1"]  # the Low one stays quiet
        assert found[0]["tags"] == ["v1"] and found[0]["vulnerability"]["priority"] == "Critical"
        assert found[0]["repository"] == repository.full_name

        events.clear()
        with django_capture_on_commit_callbacks(execute=True):
            again = manifests_rematch_all()
        assert again.new_findings == 0 and not [e for e in events if e[0] == "vulnerability_found"]
    finally:
        registry_event.disconnect(dispatch_uid="test-indexer-events")

    report = manifest_security_report(manifest=pushed.manifest, vulnerabilities=True)
    feature = next(f for f in report["data"]["Layer"]["Features"] if f["Name"] == "requests")
    assert feature["VersionFormat"] == "pypi" and feature["NamespaceName"] == "PyPI"
    vulnerability = feature["Vulnerabilities"][0]
    assert vulnerability["Name"] == "PYSEC-2024-1" and vulnerability["Severity"] == "Critical" and vulnerability["FixedBy"] == "2.32.0"
    assert vulnerability["Link"] == "https://example.org/PYSEC-2024-1"
    assert set(vulnerability) == {"Name", "NamespaceName", "Description", "Link", "Severity", "FixedBy", "Metadata"}


def test_a_rescan_reads_the_layers_again(repository):
    pushed = push(repository, "r", [PYTHON_LAYER])
    scan(pushed.manifest.id)
    before = LayerIndex.objects.get(digest=digest_of(PYTHON_LAYER)).pk
    assert manifest_rescan(manifest_id=pushed.manifest.id).status == "queued"
    assert manifest_scan_run(manifest_id=pushed.manifest.id).status == "scanned"
    assert LayerIndex.objects.get(digest=digest_of(PYTHON_LAYER)).pk != before


@pytest.mark.parametrize("enabled", [False])
def test_nothing_is_queued_when_scanning_is_disabled(repository, security_config, enabled):
    security_config.update(scanning_enabled=enabled)
    pushed = push(repository, "off", [PYTHON_LAYER])
    ManifestScan.objects.filter(manifest=pushed.manifest).delete()
    assert manifest_scan_queue(manifest_id=pushed.manifest.id) is None
    assert manifest_scan_sweep().due == []
