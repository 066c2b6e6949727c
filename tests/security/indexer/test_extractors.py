"""The indexer on real package databases and real binaries, layer by layer (no server)."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from repositories.scanning.extractors import dpkg, os_release
from repositories.scanning.indexer import LayerDamaged, LayerUnsupported, file_view, image_packages, index_layer
from repositories.scanning.tarstream import GzipReader
from tests.security.indexer.helpers import APK_INSTALLED, jar, layer, layer_tar, os_release as release_file, pom_properties, rpmdb_with

#: the running interpreter's own site-packages: a real Python environment with real dist-info folders
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


def index(data: bytes, media_type: str = ""):
    return index_layer(io.BytesIO(data), media_type=media_type)


def packages_of(*layers: bytes):
    return image_packages([(f"sha256:{i}", index(data).as_json()) for i, data in enumerate(layers)])


def installed_dpkg() -> dict[str, str]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"], capture_output=True, text=True, check=True).stdout
    return {name: version for name, version, status in (line.split("\t") for line in out.splitlines()) if status.strip() == "ii"}


def test_this_machines_dpkg_status_gives_every_installed_package_with_its_version():
    data = layer({"etc/os-release": release_file("debian", "12"), "var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes()})
    found = packages_of(data)
    got = {p.name: p.version for p, _ in found.packages}
    assert got == installed_dpkg()
    assert found.distro == "Debian:12"
    libc = next(p for p, _ in found.packages if p.name == "libc6")
    assert libc.source_name == "glibc" and libc.ecosystem == "Debian:12"
    assert libc.purl.startswith("pkg:deb/debian/libc6@") and "distro=debian-12" in libc.purl


def test_dpkg_source_with_its_own_version_and_removed_packages():
    status = (
        b"Package: libfoo1\nStatus: install ok installed\nVersion: 1.2-3+b1\nSource: foo (1.2-3)\nArchitecture: amd64\n\n"
        b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
    )
    records = dpkg.parse(status)
    assert records == [{"name": "libfoo1", "version": "1.2-3+b1", "source_name": "foo", "arch": "amd64", "source_version": "1.2-3"}]


def test_distroless_status_d_files_are_read_and_md5sums_ignored():
    found = packages_of(layer({
        "etc/os-release": release_file("debian", "12"),
        "var/lib/dpkg/status.d/base-files": b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        "var/lib/dpkg/status.d/base-files.md5sums": b"d41d8cd98f00b204e9800998ecf8427e  etc/issue\n",
        "var/lib/dpkg/status.d/tzdata": b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
    }))
    assert sorted((p.name, p.version) for p, _ in found.packages) == [("base-files", "12.4+deb12u5"), ("tzdata", "2024a-0+deb12u1")]


def test_a_real_python_environment_gives_its_distributions():
    files = {}
    for metadata in SITE_PACKAGES.glob("*.dist-info/METADATA"):
        files[f"usr/lib/python3.11/site-packages/{metadata.parent.name}/METADATA"] = metadata.read_bytes()
    found = packages_of(layer(files))
    got = {p.name.lower().replace("_", "-"): p.version for p, _ in found.packages}
    import django
    import requests

    assert got["django"] == django.__version__
    assert got["requests"] == requests.__version__
    assert len(found.packages) == len(files)
    assert all(p.ecosystem == "PyPI" and p.purl.startswith("pkg:pypi/") for p, _ in found.packages)


def test_apk_installed_database():
    found = packages_of(layer({"etc/os-release": release_file("alpine", "3.19.1"), "lib/apk/db/installed": APK_INSTALLED}))
    got = {p.name: p for p, _ in found.packages}
    assert set(got) == {"musl", "libcrypto3"}
    assert got["libcrypto3"].version == "3.1.4-r5" and got["libcrypto3"].source_name == "openssl"
    assert got["musl"].ecosystem == "Alpine:v3.19" and got["musl"].license == "MIT"
    assert got["musl"].purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpm not installed (apt-get install rpm)")
def test_a_real_rpmdb_sqlite_gives_name_epoch_version_release_source_and_license(tmp_path):
    db = rpmdb_with([
        {"name": "openssl-libs", "version": "3.0.7", "release": "24.el9", "epoch": "1", "license": "Apache-2.0"},
        {"name": "bash", "version": "5.1.8", "release": "6.el9_1", "epoch": "0", "license": "GPLv3+"},
    ], tmp_path)
    found = packages_of(layer({"etc/os-release": release_file("rocky", "9.3"), "var/lib/rpm/rpmdb.sqlite": db}))
    got = {p.name: p for p, _ in found.packages}
    assert got["openssl-libs"].version == "1:3.0.7-24.el9"
    assert got["bash"].version in ("5.1.8-6.el9_1", "0:5.1.8-6.el9_1")
    assert got["openssl-libs"].source_name == "openssl-libs" and got["openssl-libs"].license == "Apache-2.0"
    assert got["openssl-libs"].ecosystem == "Rocky Linux:9"
    assert got["openssl-libs"].purl == "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=noarch&distro=rocky-9.3&epoch=1"


def test_npm_packages_plain_and_scoped_but_not_files_inside_them():
    found = packages_of(layer({
        "app/node_modules/lodash/package.json": b'{"name": "lodash", "version": "4.17.20", "license": "MIT"}',
        "app/node_modules/@babel/core/package.json": b'{"name": "@babel/core", "version": "7.1.0"}',
        "app/node_modules/lodash/fp/package.json": b'{"name": "nested-not-a-package", "version": "0"}',
    }))
    got = {p.name: p for p, _ in found.packages}
    assert set(got) == {"lodash", "@babel/core"}
    assert got["@babel/core"].purl == "pkg:npm/%40babel/core@7.1.0"


def test_jar_pom_properties_including_a_nested_jar():
    inner = jar({"META-INF/maven/org.yaml/snakeyaml/pom.properties": pom_properties("org.yaml", "snakeyaml", "1.33")})
    outer = jar({
        "META-INF/maven/com.example/app/pom.properties": pom_properties("com.example", "app", "2.0.1"),
        "BOOT-INF/lib/snakeyaml-1.33.jar": inner,
    })
    found = packages_of(layer({"opt/app.jar": outer}))
    got = {p.name: p for p, _ in found.packages}
    assert got["org.yaml:snakeyaml"].version == "1.33" and got["org.yaml:snakeyaml"].ecosystem == "Maven"
    assert got["org.yaml:snakeyaml"].path == "/opt/app.jar!BOOT-INF/lib/snakeyaml-1.33.jar"
    assert got["com.example:app"].purl == "pkg:maven/com.example/app@2.0.1"


@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain (apt-get install golang-go)")
def test_a_go_binary_gives_its_modules_and_go_version(tmp_path):
    (tmp_path / "dep").mkdir()
    (tmp_path / "dep" / "go.mod").write_text("module example.com/dep\n\ngo 1.19\n")
    (tmp_path / "dep" / "dep.go").write_text('package dep\n\nfunc Hello() string { return "hi" }\n')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "go.mod").write_text("module example.com/app\n\ngo 1.19\n\nrequire example.com/dep v1.2.3\n\nreplace example.com/dep v1.2.3 => ../dep\n")
    (tmp_path / "app" / "main.go").write_text('package main\n\nimport (\n\t"fmt"\n\t"example.com/dep"\n)\n\nfunc main() { fmt.Println(dep.Hello()) }\n')
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOPATH": str(tmp_path / "gopath"), "GOCACHE": str(tmp_path / "cache")}
    subprocess.run(["go", "build", "-o", str(tmp_path / "server"), "."], cwd=tmp_path / "app", env=env, check=True, capture_output=True)
    go_version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    found = packages_of(layer({"usr/local/bin/server": ("exec", (tmp_path / "server").read_bytes())}))
    got = {p.name: p for p, _ in found.packages}
    assert got["example.com/dep"].version == "v1.2.3" and got["example.com/dep"].ecosystem == "Go"
    assert got["stdlib"].version == go_version.removeprefix("go")
    assert got["example.com/app"].path == "/usr/local/bin/server"
    assert got["example.com/dep"].purl == "pkg:golang/example.com/dep@v1.2.3"


def test_whiteouts_remove_a_package_database_and_directories_of_lower_layers():
    dist = "usr/lib/python3/site-packages"
    bottom = layer({
        f"{dist}/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\n",
        f"{dist}/idna-3.4.dist-info/METADATA": b"Name: idna\nVersion: 3.4\n",
        "var/lib/dpkg/status": b"Package: old\nVersion: 1\n",
        "opt/node_modules/left-pad/package.json": b'{"name":"left-pad","version":"1.0.0"}',
    })
    top = layer({
        f"{dist}/.wh.six-1.16.0.dist-info": b"",
        "opt/.wh..wh..opq": b"",
        "var/lib/dpkg/status": b"Package: new\nVersion: 2\n",
        f"{dist}/certifi-2024.2.2.dist-info/METADATA": b"Name: certifi\nVersion: 2024.2.2\n",
    })
    found = packages_of(bottom, top)
    assert sorted(p.name for p, _ in found.packages) == ["certifi", "idna", "new"]
    added_by = {p.name: layer_digest for p, layer_digest in found.packages}
    assert added_by["idna"] == "sha256:0" and added_by["new"] == "sha256:1"


def test_a_layers_own_whiteout_does_not_hide_its_own_files():
    view = file_view([("a", {"entries": {}, "whiteouts": [], "opaque": []}), ("b", {"entries": {"x/y": {"kind": "npm", "records": []}}, "whiteouts": [], "opaque": ["x"]})])
    assert "x/y" in view


def test_os_release_symlink_falls_back_to_usr_lib():
    found = packages_of(layer({
        "etc/os-release": ("symlink", "../usr/lib/os-release"),
        "usr/lib/os-release": release_file("ubuntu", "22.04"),
        "var/lib/dpkg/status": b"Package: bash\nVersion: 5.1-6ubuntu1\n",
    }))
    assert found.distro == "Ubuntu:22.04"
    assert found.packages[0][0].purl.startswith("pkg:deb/ubuntu/bash@")


@pytest.mark.parametrize(("distro", "version", "ecosystem"), [
    ("debian", "12", "Debian:12"), ("ubuntu", "22.04", "Ubuntu:22.04"), ("alpine", "3.19.1", "Alpine:v3.19"),
    ("rocky", "9.3", "Rocky Linux:9"), ("almalinux", "9.4", "AlmaLinux:9"), ("rhel", "9.2", "Red Hat:9"),
])
def test_os_release_ecosystems(distro, version, ecosystem):
    assert os_release.ecosystem(os_release.parse(release_file(distro, version))[0], "") == ecosystem


def test_uncompressed_gnu_and_ustar_layers_with_long_names_are_read():
    long_dir = "usr/lib/python3/site-packages/" + "x" * 120
    for fmt in (2, 1, 0):  # PAX, GNU, USTAR (ustar splits a long name into its prefix field)
        name = f"{long_dir[:80] if fmt == 0 else long_dir}/pkg-1.0.dist-info/METADATA"
        found = packages_of(layer_tar({name: b"Name: pkg\nVersion: 1.0\n"}, fmt=fmt))
        assert [(p.name, p.path) for p, _ in found.packages] == [("pkg", "/" + name)], fmt


def test_multi_member_gzip_is_read_to_the_end():
    tar = layer_tar({"a/node_modules/x/package.json": b'{"name":"x","version":"1.0.0"}', "b/node_modules/y/package.json": b'{"name":"y","version":"2.0.0"}'})
    half = len(tar) // 2
    data = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    assert index(data).package_count == 2
    reader = GzipReader(io.BytesIO(data))
    out = b""
    while chunk := reader.read(1000):
        out += chunk
    assert out == tar


def test_a_truncated_layer_is_damaged_and_a_zstd_layer_is_unsupported_without_a_zstd_module():
    data = layer({"var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes()})
    with pytest.raises(LayerDamaged):
        index(data[: len(data) // 2])
    try:
        import zstandard  # noqa: F401
    except ImportError:
        with pytest.raises(LayerUnsupported, match="zstd"):
            index(b"\x28\xb5\x2f\xfd" + b"\0" * 100)
    with pytest.raises(LayerUnsupported):
        index(b"{}", media_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip")


def test_only_wanted_files_are_read_and_the_stream_is_read_once():
    big = os.urandom(3 * 1024 * 1024)
    data = layer_tar({"var/cache/blob.bin": big, "var/lib/dpkg/status": b"Package: a\nVersion: 1\n"})
    content = index(data)
    assert content.bytes_read == len(data)
    assert content.members == 2
    assert list(content.entries) == ["var/lib/dpkg/status"]


def test_egg_info_folders_and_single_file_egg_infos():
    found = packages_of(layer({
        "usr/lib/python3/dist-packages/PyYAML-5.4.1.egg-info/PKG-INFO": b"Metadata-Version: 1.1\nName: PyYAML\nVersion: 5.4.1\nLicense: MIT\n",
        "usr/lib/python3/dist-packages/chardet-4.0.0.egg-info": b"Metadata-Version: 1.1\nName: chardet\nVersion: 4.0.0\n",
        "home/user/notes.egg-info": b"Name: not-a-package\nVersion: 0\n",
    }))
    got = {p.name: p for p, _ in found.packages}
    assert set(got) == {"PyYAML", "chardet"}
    assert got["PyYAML"].purl == "pkg:pypi/pyyaml@5.4.1" and got["PyYAML"].license == "MIT"
