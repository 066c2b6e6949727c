"""End to end: image layers made with umoci from this machine's own dpkg status and the project
virtualenv's dist-info folders, pushed with skopeo to a live server, scanned by
``manage.py scan`` and read back through the security API over HTTP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import ContainerTool, containers_config, layout_image, repository_name, requires, run
from tests.security.indexer.test_extractors import SITE_PACKAGES, installed_dpkg

pytestmark = [pytest.mark.e2e, pytest.mark.live, requires("umoci", "skopeo")]

REMOVED = "requests"  # its dist-info folder is deleted in the top layer (a whiteout)


def _dist_infos() -> list[Path]:
    return sorted(p for p in SITE_PACKAGES.glob("*.dist-info") if (p / "METADATA").exists())


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three layers: dpkg status + os-release; the dist-info folders; removal of one of them."""
    workdir = tmp_path_factory.mktemp("scan-umoci")
    layout = workdir / "layout"
    image = f"{layout}:v1"
    bundle = workdir / "bundle"
    run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", image])

    def step(change) -> None:  # noqa: ANN001
        run(["umoci", "unpack", "--rootless", "--image", image, bundle])
        change(bundle / "rootfs")
        run(["umoci", "repack", "--image", image, bundle])
        shutil.rmtree(bundle)

    def debian(root: Path) -> None:
        (root / "var/lib/dpkg").mkdir(parents=True)
        shutil.copyfile("/var/lib/dpkg/status", root / "var/lib/dpkg/status")
        (root / "etc").mkdir(exist_ok=True)
        shutil.copyfile("/etc/os-release", root / "etc/os-release")  # follows the symlink

    def python(root: Path) -> None:
        target = root / "usr/lib/python3/site-packages"
        target.mkdir(parents=True)
        for folder in _dist_infos():
            shutil.copytree(folder, target / folder.name)

    def remove(root: Path) -> None:
        for folder in (root / "usr/lib/python3/site-packages").glob(f"{REMOVED}-*.dist-info"):
            shutil.rmtree(folder)

    step(debian)
    step(python)
    step(remove)
    run(["umoci", "config", "--image", image, "--architecture", "amd64", "--os", "linux"])
    return layout


@pytest.fixture(scope="module")
def pushed(live_registry, layout: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    env = containers_config(tmp_path_factory.mktemp("scan-containers"), live_registry.host)
    name = repository_name("security-scan-umoci")
    ContainerTool(["skopeo"], env)("copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{live_registry.host}/{name}:v1")
    return name, layout_image(layout, "v1").digest


def _release() -> dict[str, str]:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


def test_the_scan_command_finds_the_packages_of_every_layer_but_the_removed_one(live_registry, pushed):
    name, digest = pushed
    result = live_registry.manage("scan", f"{name}:v1", "--json", check=False)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["manifest"] == f"{name}@{digest}" and report["status"] == "scanned"
    release = _release()
    if release.get("ID") == "debian":
        assert report["distro"] == f"Debian:{release['VERSION_ID']}"
    expected = len(installed_dpkg()) + len(_dist_infos()) - 1
    assert report["packages"] == expected

    again = live_registry.manage("scan", f"{name}@{digest}", check=False)
    assert again.returncode == 0 and "scanned" in again.stderr and f"{expected} packages" in again.stderr


def test_the_security_api_reports_the_real_versions_and_not_the_whited_out_package(live_registry, pushed):
    name, digest = pushed
    live_registry.manage("scan", f"{name}:v1")
    response = requests.get(f"{live_registry.url}/api/v1/repository/{name}/manifest/{digest}/security", params={"vulnerabilities": "true"}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "scanned"
    features = body["data"]["Layer"]["Features"]
    debs = {f["Name"]: f["Version"] for f in features if f["VersionFormat"] == "dpkg"}
    assert debs == installed_dpkg()
    pythons = {f["Name"].lower().replace("_", "-"): f["Version"] for f in features if f["NamespaceName"] == "PyPI"}
    import django

    assert pythons["django"] == django.__version__
    assert REMOVED not in pythons
    assert all(set(f) >= {"Name", "VersionFormat", "NamespaceName", "Version", "BaseScores", "Vulnerabilities", "AddedBy"} for f in features)
    layers = {f["AddedBy"] for f in features}
    assert len(layers) == 2  # the dpkg layer and the Python layer; the whiteout layer added nothing

    summary = requests.get(f"{live_registry.url}/api/v1/repository/{name}/securitysummary", timeout=30)
    assert summary.status_code == 200, summary.text
    [tag] = summary.json()["tags"]
    assert tag["name"] == "v1" and tag["status"] == "scanned" and tag["manifest_digest"] == digest


def test_rescan_from_the_command_line_reads_the_image_again(live_registry, pushed):
    name, digest = pushed
    result = live_registry.manage("scan", f"{name}:v1", "--rescan", "--json", check=False)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["status"] == "scanned" and report["attempts"] == 0


def test_the_scan_command_refuses_an_unknown_repository(live_registry):
    result = live_registry.manage("scan", "nobody/nothing", check=False)
    assert result.returncode != 0 and "no repository named nobody/nothing" in result.stderr
