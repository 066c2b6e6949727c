"""The admin console: read-only scan and layer-cache pages, and the manifests' "Rescan" action."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from repositories.models import LayerIndex, ManifestScan
from repositories.services.scans import manifest_scan_queue, manifest_scan_run
from tests.factories import SuperuserFactory
from tests.security.indexer.conftest import DEBIAN_LAYER, push


def test_scan_and_layer_pages_render_and_rescan_queues_again(repository):
    pushed = push(repository, "v1", [DEBIAN_LAYER])
    manifest_scan_queue(manifest_id=pushed.manifest.id)
    scan = manifest_scan_run(manifest_id=pushed.manifest.id)
    assert scan.status == "scanned"
    client = Client()
    client.force_login(SuperuserFactory())
    page = client.get(reverse("admin:repositories_manifestscan_change", args=[scan.pk]))
    assert page.status_code == 200 and b"libc6" in page.content and b"Debian:12" in page.content
    layer = LayerIndex.objects.get()
    page = client.get(reverse("admin:repositories_layerindex_change", args=[layer.pk]))
    assert page.status_code == 200 and b"/var/lib/dpkg/status" in page.content
    assert client.get(reverse("admin:repositories_manifestscan_changelist")).status_code == 200
    assert client.get(reverse("admin:repositories_layerindex_add")).status_code == 403

    response = client.post(
        reverse("admin:repositories_manifest_changelist"), {"action": "rescan", "_selected_action": [pushed.manifest.pk], "index": 0}, follow=True
    )
    assert response.status_code == 200 and b"Queued 1 manifest(s) for a rescan" in response.content
    assert ManifestScan.objects.get(pk=scan.pk).status == "queued"
    assert not LayerIndex.objects.exists()  # the rescan reads the layers again


def test_the_manifest_page_shows_the_vulnerability_summary(repository):
    from django.utils import timezone

    from repositories.models import ManifestFinding
    from tests.security.indexer.helpers import layer

    pushed = push(repository, "v1", [layer({"a/node_modules/x/package.json": b'{"name":"x","version":"1.0.0"}'})])
    client = Client()
    client.force_login(SuperuserFactory())
    page_url = reverse("web:manifest", kwargs={"name": repository.full_name, "digest": pushed.manifest.digest})
    assert b"not scanned" in client.get(page_url).content
    manifest_scan_queue(manifest_id=pushed.manifest.id)
    assert b"not scanned yet (queued)" in client.get(page_url).content
    manifest_scan_run(manifest_id=pushed.manifest.id)
    for severity, index in (("High", 2), ("High", 2), ("Low", 4)):
        ManifestFinding.objects.create(
            manifest=pushed.manifest, vulnerability_id=f"GHSA-{severity}-{ManifestFinding.objects.count()}", package={}, package_name="x",
            package_version="1.0.0", ecosystem="npm", severity=severity, severity_index=index, fixed_version="1.0.1" if severity == "Low" else "",
            first_seen=timezone.now(),
        )
    body = client.get(page_url).content.decode()
    assert "2 High" in body and "1 Low" in body and "(1 fixable)" in body and "/security?vulnerabilities=true" in body
