"""SBOM documents validated against the official SPDX 2.3 and CycloneDX 1.5 JSON schemas."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from repositories.scanning.sbom import ImageInfo, cyclonedx_document, package_purl, sbom_document, spdx_document, spdx_expression
from repositories.scanning.types import Package

SCHEMAS = Path(__file__).parent / "schemas"
IMAGE = ImageInfo(name="registry.example/acme/app", digest="sha256:" + "ab" * 32, created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))


def load(name):
    return json.loads((SCHEMAS / name).read_text())


def spdx_validator():
    schema = load("spdx-2.3-schema.json")
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def cyclonedx_validator():
    resources = [(s["$id"], Resource.from_contents(s)) for s in (load("cyclonedx-spdx.schema.json"), load("cyclonedx-jsf-0.82.schema.json"))]
    schema = load("cyclonedx-bom-1.5.schema.json")
    return jsonschema.Draft7Validator(schema, registry=Registry().with_resources(resources), format_checker=jsonschema.FormatChecker())


def sample_packages(dpkg=None, python=None):
    packages = [
        Package(name="libssl3", version="3.0.11-1~deb12u2", ecosystem="Debian:12", source_name="openssl", path="var/lib/dpkg/status",
                license="Apache-2.0"),
        Package(name="musl", version="1.2.4-r2", ecosystem="Alpine:v3.19", license="MIT"),
        Package(name="openssl-libs", version="1:3.0.7-24.el9", ecosystem="Rocky Linux:9", source_name="openssl",
                license="ASL 2.0"),
        Package(name="Django", version="5.2.19", ecosystem="PyPI", license="BSD-3-Clause"),
        Package(name="@babel/core", version="7.24.0", ecosystem="npm", license="MIT OR (Apache-2.0 AND BSD-2-Clause)"),
        Package(name="golang.org/x/net", version="v0.23.0", ecosystem="Go"),
        Package(name="org.apache.logging.log4j:log4j-core", version="2.17.1", ecosystem="Maven", license="Apache License, Version 2.0"),
    ]
    for extra in (dpkg or {}, python or {}):
        packages.extend(extra.values())
    return packages


def test_spdx_document_is_valid_and_lists_every_package_with_its_purl(dpkg_packages, python_packages):
    packages = sample_packages(dpkg_packages, python_packages)
    doc = spdx_document(packages, IMAGE)
    errors = sorted(spdx_validator().iter_errors(doc), key=str)
    assert not errors, [e.message for e in errors]
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"
    listed = {(p["name"], p["versionInfo"]): p for p in doc["packages"][1:]}
    assert len(listed) == len({(p.name, p.version) for p in packages})
    for package in packages:
        entry = listed[(package.name, package.version)]
        assert entry["externalRefs"][0] == {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                            "referenceLocator": package_purl(package)}
    assert listed[("Django", "5.2.19")]["licenseDeclared"] == "BSD-3-Clause"
    assert listed[("openssl-libs", "1:3.0.7-24.el9")]["licenseDeclared"] == "NOASSERTION"  # "ASL 2.0" is not SPDX
    assert "ASL 2.0" in listed[("openssl-libs", "1:3.0.7-24.el9")]["licenseComments"]
    contains = {r["relatedSpdxElement"] for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"}
    assert contains == {p["SPDXID"] for p in doc["packages"][1:]}
    assert doc["packages"][0]["versionInfo"] == IMAGE.digest and doc["documentDescribes"] == ["SPDXRef-Image"]
    assert len({p["SPDXID"] for p in doc["packages"]}) == len(doc["packages"])


def test_cyclonedx_document_is_valid_and_lists_every_package_with_its_purl(dpkg_packages, python_packages):
    packages = sample_packages(dpkg_packages, python_packages)
    doc = cyclonedx_document(packages, IMAGE)
    errors = sorted(cyclonedx_validator().iter_errors(doc), key=str)
    assert not errors, [e.message for e in errors]
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.5")
    assert [c["purl"] for c in doc["components"]] == [package_purl(p) for p in packages]
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["@babel/core"]["licenses"] == [{"expression": "MIT OR (Apache-2.0 AND BSD-2-Clause)"}]
    assert by_name["org.apache.logging.log4j:log4j-core"]["licenses"] == [{"license": {"name": "Apache License, Version 2.0"}}]
    assert doc["metadata"]["component"]["type"] == "container"
    assert doc["dependencies"][0]["dependsOn"] == [c["bom-ref"] for c in doc["components"]]


def test_the_schemas_do_reject_a_broken_document():
    doc = spdx_document(sample_packages(), IMAGE)
    del doc["packages"][1]["downloadLocation"]
    assert any("downloadLocation" in e.message for e in spdx_validator().iter_errors(doc))
    bom = cyclonedx_document(sample_packages(), IMAGE)
    bom["components"][0]["type"] = "not-a-type"
    assert list(cyclonedx_validator().iter_errors(bom))


def test_empty_package_list_is_still_a_valid_document():
    assert not list(spdx_validator().iter_errors(spdx_document([], IMAGE)))
    assert not list(cyclonedx_validator().iter_errors(cyclonedx_document([], IMAGE)))


@pytest.mark.parametrize("package,purl", [
    (Package(name="libssl3", version="3.0.11-1~deb12u2", ecosystem="Debian:12", source_name="openssl"),
     "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?upstream=openssl&distro=debian-12"),
    (Package(name="musl", version="1.2.4-r2", ecosystem="Alpine:v3.19"), "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.19"),
    (Package(name="Friendly_Bard", version="1.0", ecosystem="PyPI"), "pkg:pypi/friendly-bard@1.0"),
    (Package(name="@babel/core", version="7.24.0", ecosystem="npm"), "pkg:npm/%40babel/core@7.24.0"),
    (Package(name="golang.org/x/net", version="v0.23.0", ecosystem="Go"), "pkg:golang/golang.org/x/net@v0.23.0"),
    (Package(name="org.apache:log4j", version="2.17.1", ecosystem="Maven"), "pkg:maven/org.apache/log4j@2.17.1"),
    (Package(name="x", version="1", ecosystem="PyPI", purl="pkg:pypi/x@1?own=1"), "pkg:pypi/x@1?own=1"),
])
def test_package_urls(package, purl):
    assert package_purl(package) == purl


@pytest.mark.parametrize("text,ok", [
    ("MIT", True), ("GPL-2.0-or-later WITH Classpath-exception-2.0", True), ("(MIT OR Apache-2.0) AND BSD-3-Clause", True),
    ("LicenseRef-custom", True), ("MIT OR", False), ("Apache License, Version 2.0", False), ("GPL/BSD", False), ("(MIT", False),
])
def test_spdx_expression_grammar(text, ok):
    assert (spdx_expression(text) is not None) == ok


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        sbom_document("swid", [], IMAGE)
