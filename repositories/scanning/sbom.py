"""Software bills of materials of an image: SPDX 2.3 JSON and CycloneDX 1.5 JSON.

Both are built from the packages the indexer found (:class:`~repositories.scanning.types.Package`)
and a little about the image (:class:`ImageInfo`). Every package carries its package URL (the
indexer's, or one built here from the ecosystem) and its license when the package database
gave one: as an SPDX license expression when it is one, otherwise kept as a name (CycloneDX) or
a comment with ``NOASSERTION`` (SPDX, whose license fields accept expressions only).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from repositories.scanning.osv import normalize_ecosystem, normalize_name
from repositories.scanning.types import Package
from repositories.scanning.versions import ecosystem_base

FORMATS = ("spdx", "cyclonedx")
SPDX_MEDIA_TYPE = "application/spdx+json"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
TOOL = "moorage"


@dataclass(frozen=True)
class ImageInfo:
    """The image an SBOM describes."""

    #: repository name as pulled, e.g. ``quay.example.com/acme/app`` or ``acme/app``
    name: str
    #: manifest digest, ``sha256:...``
    digest: str
    #: when the image was built (the image config's ``created``), if known
    created: datetime | None = None
    #: a tag pointing at it, for the document's name (optional)
    tag: str = ""


# -- package URLs --------------------------------------------------------------------------------

_DISTRO_PURL = {
    "Debian": ("deb", "debian"), "Ubuntu": ("deb", "ubuntu"), "Alpine": ("apk", "alpine"), "Red Hat": ("rpm", "redhat"),
    "Rocky Linux": ("rpm", "rocky"), "AlmaLinux": ("rpm", "almalinux"),
}


def _q(text: str) -> str:
    # purl: percent-encode everything but unreserved characters and ":" (allowed unencoded)
    return quote(text, safe=".-_~:")


def package_purl(package: Package) -> str:
    """The package URL of ``package`` (its own when the indexer set one)."""
    if package.purl:
        return package.purl
    base = ecosystem_base(package.ecosystem)
    name, version = package.name, package.version
    if base in _DISTRO_PURL:
        kind, namespace = _DISTRO_PURL[base]
        release = normalize_ecosystem(package.ecosystem).partition(":")[2].lstrip("v")
        qualifiers = []
        if package.source_name and package.source_name != name:
            qualifiers.append(f"upstream={_q(package.source_name)}")
        if release:
            qualifiers.append(f"distro={namespace}-{_q(release)}")
        return f"pkg:{kind}/{namespace}/{_q(name)}@{_q(version)}" + (f"?{'&'.join(qualifiers)}" if qualifiers else "")
    if base == "PyPI":
        return f"pkg:pypi/{_q(normalize_name('PyPI', name))}@{_q(version)}"
    if base == "npm":
        scope, _, bare = name.rpartition("/")
        return f"pkg:npm/{_q(scope) + '/' if scope else ''}{_q(bare)}@{_q(version)}"
    if base == "Go":
        parts = name.split("/")
        path = "/".join(_q(p) for p in parts[:-1])
        return f"pkg:golang/{path + '/' if path else ''}{_q(parts[-1])}@{_q(version)}"
    if base == "Maven":
        group, _, artifact = name.rpartition(":")
        return f"pkg:maven/{_q(group) + '/' if group else ''}{_q(artifact)}@{_q(version)}"
    return f"pkg:generic/{_q(name)}@{_q(version)}"


def image_purl(image: ImageInfo) -> str:
    """``pkg:oci/<name>@<digest>?repository_url=<registry/repository>`` as the purl spec's oci type."""
    last = image.name.rstrip("/").rsplit("/", 1)[-1].lower()
    return f"pkg:oci/{_q(last)}@{quote(image.digest, safe='')}?repository_url={quote(image.name, safe='/:.-_~')}"


# -- licenses ------------------------------------------------------------------------------------

_LICENSE_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+-]+(?::[A-Za-z0-9.+-]+)?")
_OPERATORS = {"AND", "OR", "WITH"}


def spdx_expression(text: str) -> str | None:
    """``text`` when it reads as an SPDX license expression (identifiers joined by AND/OR/WITH,
    parentheses), else None. Identifiers are checked for their grammar, not against the list."""
    text = text.strip()
    if not text or len(text) > 500:
        return None
    tokens = _LICENSE_TOKEN.findall(text)
    if "".join(tokens) != re.sub(r"\s+", "", text):
        return None  # characters outside the grammar (commas, slashes, prose)
    expect_operand, depth = True, 0
    for token in tokens:
        if token == "(":
            if not expect_operand:
                return None
            depth += 1
        elif token == ")":
            if expect_operand or depth == 0:
                return None
            depth -= 1
        elif token in _OPERATORS:
            if expect_operand:
                return None
            expect_operand = True
        else:
            if not expect_operand or token.lower() in ("and", "or", "with"):
                return None
            expect_operand = False
    return text if depth == 0 and not expect_operand else None


# -- SPDX 2.3 ------------------------------------------------------------------------------------


def _timestamp(when: datetime | None = None) -> str:
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _spdx_id(prefix: str, index: int, name: str) -> str:
    return f"SPDXRef-{prefix}-{index}-{re.sub(r'[^A-Za-z0-9.-]+', '-', name).strip('-')[:80]}"


def spdx_document(packages: Sequence[Package], image: ImageInfo, *, namespace_base: str = "https://moorage.invalid") -> dict[str, Any]:
    """An SPDX 2.3 JSON document: the image as the described package, each installed package
    contained in it, each with its purl (``PACKAGE-MANAGER``/``purl`` external reference)."""
    image_id = "SPDXRef-Image"
    doc_name = f"{image.name}@{image.digest}"
    image_package: dict[str, Any] = {
        "SPDXID": image_id, "name": image.name, "versionInfo": image.digest, "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER", "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
        "checksums": [{"algorithm": "SHA256", "checksumValue": image.digest.partition(":")[2]}] if image.digest.startswith("sha256:") else [],
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": image_purl(image)}],
    }
    if image.created:
        image_package["builtDate"] = _timestamp(image.created)
    if not image_package["checksums"]:
        del image_package["checksums"]
    spdx_packages = [image_package]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}]
    for index, package in enumerate(packages, start=1):
        package_id = _spdx_id("Package", index, package.name)
        declared = spdx_expression(package.license) if package.license else None
        entry: dict[str, Any] = {
            "SPDXID": package_id, "name": package.name, "versionInfo": package.version, "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False, "licenseConcluded": "NOASSERTION", "licenseDeclared": declared or "NOASSERTION",
            "copyrightText": "NOASSERTION", "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": package_purl(package)}],
        }
        if package.license and not declared:
            entry["licenseComments"] = f"declared by the package database: {package.license}"
        if package.path:
            entry["sourceInfo"] = f"{package.ecosystem} package found in {package.path}"
        if package.source_name and package.source_name != package.name:
            entry["comment"] = f"source package: {package.source_name}"
        spdx_packages.append(entry)
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": package_id})
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": doc_name,
        "documentNamespace": f"{namespace_base.rstrip('/')}/spdx/{quote(image.name, safe='/')}/{image.digest}/{uuid.uuid4()}",
        "creationInfo": {"created": _timestamp(), "creators": [f"Tool: {TOOL}"]},
        "documentDescribes": [image_id],
        "packages": spdx_packages,
        "relationships": relationships,
    }


# -- CycloneDX 1.5 -------------------------------------------------------------------------------


def cyclonedx_document(packages: Sequence[Package], image: ImageInfo) -> dict[str, Any]:
    """A CycloneDX 1.5 JSON BOM: the image as ``metadata.component`` (type ``container``), each
    package a ``library`` component with its purl, licenses and where it was found."""
    image_ref = image_purl(image)
    components = []
    refs = []
    seen: set[str] = set()
    for index, package in enumerate(packages, start=1):
        purl = package_purl(package)
        ref = purl if purl not in seen else f"{purl}#{index}"  # bom-refs must be unique
        seen.add(ref)
        refs.append(ref)
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": package.name, "version": package.version, "purl": purl}
        if package.license:
            expression = spdx_expression(package.license)
            component["licenses"] = [{"expression": expression}] if expression else [{"license": {"name": package.license[:1000]}}]
        properties = [{"name": "moorage:package:ecosystem", "value": package.ecosystem}]
        if package.path:
            properties.append({"name": "moorage:package:path", "value": package.path})
        if package.source_name and package.source_name != package.name:
            properties.append({"name": "moorage:package:source_name", "value": package.source_name})
        component["properties"] = properties
        components.append(component)
    image_component: dict[str, Any] = {"type": "container", "bom-ref": image_ref, "name": image.name, "version": image.digest,
                                       "purl": image_ref}
    if image.digest.startswith("sha256:"):
        image_component["hashes"] = [{"alg": "SHA-256", "content": image.digest.partition(":")[2]}]
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": _timestamp(),
            "tools": {"components": [{"type": "application", "name": TOOL}]},
            "component": image_component,
        },
        "components": components,
        "dependencies": [{"ref": image_ref, "dependsOn": refs}, *({"ref": ref} for ref in refs)],
    }


def sbom_document(fmt: str, packages: Sequence[Package], image: ImageInfo, **kwargs: Any) -> dict[str, Any]:
    """The SBOM of ``image`` in ``fmt`` (``spdx`` or ``cyclonedx``).

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "spdx":
        return spdx_document(packages, image, **kwargs)
    if fmt == "cyclonedx":
        return cyclonedx_document(packages, image)
    raise ValueError(f"unknown SBOM format {fmt!r} (use spdx or cyclonedx)")
