"""npm packages: ``node_modules/<name>/package.json`` and ``node_modules/@scope/<name>/package.json``."""

from __future__ import annotations

import json


def parse(data: bytes) -> list[dict[str, str]]:
    """``name``, ``version`` and ``license`` of one package.json."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return []
    if not isinstance(document, dict):
        return []
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return []
    license_ = document.get("license", "")
    if isinstance(license_, dict):
        license_ = license_.get("type", "")
    return [{"name": name, "version": version, "license": license_ if isinstance(license_, str) else ""}]
