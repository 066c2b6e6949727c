"""The matcher against this machine's own packages (dpkg status, the running Python environment)
with OSV records written for exactly those versions, at the range boundaries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repositories.scanning.matcher import match_packages
from repositories.scanning.osv import is_affected, vulndb_import
from repositories.scanning.types import Package
from tests.security.vulndb.conftest import osv_record, write_folder

pytestmark = pytest.mark.django_db


def higher(version: str) -> str:
    """A dpkg version just above ``version`` ("+" sorts after the end of the string)."""
    return version + "+z1"


def lower(version: str) -> str:
    """A dpkg version just below ``version`` ("~" sorts before the end of the string)."""
    return version + "~"


def ids(findings, package_name=None):
    return sorted(f.vulnerability_id for f in findings if package_name is None or f.package.name == package_name)


def test_debian_packages_match_at_the_range_boundaries(tmp_path, dpkg_packages):
    bash, libssl, zlib = dpkg_packages["bash"], dpkg_packages["libssl3"], dpkg_packages["zlib1g"]
    eco = bash.ecosystem
    records = [
        # fixed above the installed version: affected, and the fix is reported
        osv_record("DSA-1-1", eco, bash.source_name, [{"introduced": "0"}, {"fixed": higher(bash.version)}],
                   severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
        # fixed exactly at the installed version: not affected
        osv_record("DSA-2-1", eco, bash.source_name, [{"introduced": "0"}, {"fixed": bash.version}]),
        # last_affected exactly at the installed version: affected, no fix known
        osv_record("DSA-3-1", eco, bash.source_name, [{"introduced": "0"}, {"last_affected": bash.version}]),
        # last_affected just below: not affected
        osv_record("DSA-4-1", eco, bash.source_name, [{"introduced": "0"}, {"last_affected": lower(bash.version)}]),
        # introduced exactly at the installed version: affected; introduced just above: not
        osv_record("DSA-5-1", eco, bash.source_name, [{"introduced": bash.version}]),
        osv_record("DSA-6-1", eco, bash.source_name, [{"introduced": higher(bash.version)}]),
        # keyed by the source package (openssl) while the binary is libssl3
        osv_record("DSA-7-1", eco, libssl.source_name, [{"introduced": "0"}, {"fixed": higher(libssl.version)}]),
        # the epoch counts: "1:..." installed, a fix without the epoch is far below
        osv_record("DSA-8-1", eco, zlib.source_name, [{"introduced": "0"}, {"fixed": zlib.version.split(":", 1)[-1] + "+z9"}]),
        # another release of the distribution is not this one
        osv_record("DSA-9-1", "Debian:9", bash.source_name, [{"introduced": "0"}, {"fixed": higher(bash.version)}]),
        # explicitly listed version
        osv_record("DEBIAN-CVE-2099-10", eco, bash.source_name, versions=[bash.version]),
    ]
    vulndb_import(path=write_folder(tmp_path / "osv", records))
    findings = match_packages(dpkg_packages.values())
    assert ids(findings, "bash") == ["DEBIAN-CVE-2099-10", "DSA-1-1", "DSA-3-1", "DSA-5-1"]
    assert ids(findings, "libssl3") == ["DSA-7-1"]
    assert ids(findings, "zlib1g") == ([] if ":" in zlib.version else ["DSA-8-1"])
    by_id = {f.vulnerability_id: f for f in findings if f.package.name == "bash"}
    assert by_id["DSA-1-1"].fixed_version == higher(bash.version)
    assert by_id["DSA-1-1"].severity == "Critical"
    assert by_id["DSA-3-1"].fixed_version == ""
    assert findings[0].vulnerability_id == "DSA-1-1"  # most severe first
    assert by_id["DSA-1-1"].package == bash


def test_python_packages_match_by_pep503_name(tmp_path, python_packages):
    django, yaml, packaging = python_packages["Django"], python_packages["PyYAML"], python_packages["packaging"]
    records = [
        osv_record("GHSA-django-1", "PyPI", "django", [{"introduced": "0"}, {"fixed": django.version + ".post1"}],
                   database_specific={"severity": "HIGH"}),
        osv_record("PYSEC-yaml-1", "PyPI", "pyyaml", [{"introduced": "0"}, {"fixed": yaml.version}]),  # fixed = installed
        osv_record("PYSEC-yaml-2", "PyPI", "PyYaml", [{"introduced": yaml.version}, {"fixed": "999"}]),
        osv_record("PYSEC-pack-1", "PyPI", "Packaging", versions=["0.1", packaging.version]),
        osv_record("PYSEC-pack-2", "PyPI", "packaging", [{"introduced": "0"}, {"last_affected": packaging.version + ".dev0"}]),
    ]
    vulndb_import(path=write_folder(tmp_path / "osv", records))
    findings = match_packages(python_packages.values())
    assert ids(findings) == ["GHSA-django-1", "PYSEC-pack-1", "PYSEC-yaml-2"]
    django_finding = next(f for f in findings if f.vulnerability_id == "GHSA-django-1")
    assert (django_finding.severity, django_finding.fixed_version) == ("High", django.version + ".post1")


def test_language_ecosystems_use_their_own_names_and_ordering(tmp_path):
    records = [
        osv_record("GO-2099-1", "Go", "golang.org/x/net", [{"introduced": "0"}, {"fixed": "0.23.0"}]),
        osv_record("GHSA-npm-1", "npm", "left-pad", [{"introduced": "1.0.0-beta.2"}, {"fixed": "1.3.0"}]),
        osv_record("GHSA-mvn-1", "Maven", "org.apache.logging.log4j:log4j-core", [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]),
    ]
    vulndb_import(path=write_folder(tmp_path / "osv", records))
    packages = [
        Package(name="golang.org/x/net", version="v0.22.0", ecosystem="Go"),
        Package(name="golang.org/x/net", version="v0.0.0-20240101000000-abcdefabcdef", ecosystem="Go"),
        Package(name="golang.org/x/net", version="v0.23.0", ecosystem="Go"),
        Package(name="left-pad", version="1.0.0-beta.1", ecosystem="npm"),
        Package(name="left-pad", version="1.0.0", ecosystem="npm"),
        Package(name="org.apache.logging.log4j:log4j-core", version="2.14.1", ecosystem="Maven"),
        Package(name="org.apache.logging.log4j:log4j-core", version="2.0-alpha1", ecosystem="Maven"),
        Package(name="org.apache.logging.log4j:log4j-core", version="2.15.0", ecosystem="Maven"),
    ]
    found = {(f.package.name, f.package.version) for f in match_packages(packages)}
    assert found == {("golang.org/x/net", "v0.22.0"), ("golang.org/x/net", "v0.0.0-20240101000000-abcdefabcdef"),
                     ("left-pad", "1.0.0"), ("org.apache.logging.log4j:log4j-core", "2.14.1")}


def test_alpine_and_rpm_releases(tmp_path):
    records = [
        osv_record("ALPINE-1", "Alpine:v3.19", "openssl", [{"introduced": "0"}, {"fixed": "3.1.4-r5"}]),
        osv_record("RLSA-1", "Rocky Linux:9", "openssl", [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9_3"}]),
    ]
    vulndb_import(path=write_folder(tmp_path / "osv", records))
    packages = [
        Package(name="libcrypto3", source_name="openssl", version="3.1.4-r4", ecosystem="Alpine:v3.19"),
        Package(name="libcrypto3", source_name="openssl", version="3.1.4-r10", ecosystem="Alpine:v3.19"),
        Package(name="openssl-libs", source_name="openssl", version="1:3.0.7-24.el9", ecosystem="Rocky Linux:9.3"),
        Package(name="openssl-libs", source_name="openssl", version="1:3.0.7-25.el9_3", ecosystem="Rocky Linux:9"),
    ]
    found = {(f.vulnerability_id, f.package.version) for f in match_packages(packages)}
    assert found == {("ALPINE-1", "3.1.4-r4"), ("RLSA-1", "1:3.0.7-24.el9")}


def test_one_query_per_ecosystem_batch(tmp_path):
    records = [osv_record(f"PYSEC-{i}", "PyPI", f"pkg{i}", [{"introduced": "0"}]) for i in range(30)]
    records += [osv_record(f"DSA-{i}", "Debian:12", f"src{i}", [{"introduced": "0"}]) for i in range(30)]
    vulndb_import(path=write_folder(tmp_path / "osv", records))
    packages = [Package(name=f"pkg{i}", version="1.0", ecosystem="PyPI") for i in range(30)]
    packages += [Package(name=f"bin{i}", source_name=f"src{i}", version="1.0-1", ecosystem="Debian:12") for i in range(30)]
    with CaptureQueriesContext(connection) as queries:
        findings = match_packages(packages)
    assert len(findings) == 60
    assert len(queries) == 2


@pytest.mark.parametrize("version,events,expected", [
    ("1.5", [{"introduced": "1.0"}, {"fixed": "2.0"}], (True, "2.0")),
    ("2.0", [{"introduced": "1.0"}, {"fixed": "2.0"}], (False, "")),
    ("0.9", [{"introduced": "1.0"}, {"fixed": "2.0"}], (False, "")),
    ("3.1", [{"introduced": "0"}, {"fixed": "1.0"}, {"introduced": "3.0"}, {"fixed": "3.2"}], (True, "3.2")),
    ("2.5", [{"introduced": "0"}, {"fixed": "1.0"}, {"introduced": "3.0"}, {"fixed": "3.2"}], (False, "")),
    ("5.0", [{"introduced": "0"}, {"limit": "4.0"}], (False, "")),
    ("3.9", [{"introduced": "0"}, {"limit": "4.0"}], (True, "")),
])
def test_osv_event_evaluation(version, events, expected):
    assert is_affected("PyPI", version, [{"type": "ECOSYSTEM", "events": events}], []) == expected
