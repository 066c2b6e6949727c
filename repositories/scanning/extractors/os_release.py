"""``/etc/os-release`` (os-release(5)): the distribution and its release."""

from __future__ import annotations

import shlex

#: os-release ``ID`` -> OSV ecosystem name, and how much of ``VERSION_ID`` names the release
_ECOSYSTEMS = {
    "debian": ("Debian", 1),
    "ubuntu": ("Ubuntu", 2),
    "alpine": ("Alpine", 2),
    "rocky": ("Rocky Linux", 1),
    "almalinux": ("AlmaLinux", 1),
    "rhel": ("Red Hat", 1),
    "centos": ("CentOS", 1),
    "fedora": ("Fedora", 1),
    "opensuse-leap": ("openSUSE", 2),
    "sles": ("SUSE", 2),
    "amzn": ("Amazon Linux", 1),
    "ol": ("Oracle Linux", 1),
    "wolfi": ("Wolfi", 0),
    "chainguard": ("Chainguard", 0),
}


def parse(data: bytes) -> list[dict[str, str]]:
    """One record with the os-release fields that matter (``ID``, ``VERSION_ID``, ...)."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        fields[key.strip()] = words[0] if words else ""
    keep = ("ID", "ID_LIKE", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME", "NAME")
    return [{key: fields[key] for key in keep if key in fields}]


def ecosystem(release: dict[str, str] | None, default: str) -> str:
    """The OSV ecosystem of the distribution in ``release`` ("Debian:12", "Alpine:v3.19",
    "Rocky Linux:9"); ``default`` when nothing is known."""
    if not release:
        return default
    distro = release.get("ID", "").lower()
    version = release.get("VERSION_ID", "")
    if distro not in _ECOSYSTEMS:
        return default
    name, parts = _ECOSYSTEMS[distro]
    if not version or parts == 0:
        return name
    release_id = ".".join(version.split(".")[:parts])
    if distro == "alpine":
        release_id = "v" + release_id
    return f"{name}:{release_id}"


def purl_distro(release: dict[str, str] | None) -> str:
    """The ``distro`` qualifier of a purl: ``debian-12``, ``alpine-3.19.1``, ``rocky-9.3``."""
    if not release or not release.get("ID"):
        return ""
    version = release.get("VERSION_ID", "")
    return f"{release['ID'].lower()}-{version}" if version else release["ID"].lower()
