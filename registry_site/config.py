"""Load, override and validate the Moorage configuration.

Order: schema defaults < YAML file (``MOORAGE_CONFIG`` or an explicit path) < environment
(``MOORAGE_<KEY_PATH>``). Every error is reported at once with its key path.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("config_schema.json")
ENV_PREFIX = "MOORAGE_"


class ConfigError(Exception):
    """The configuration is invalid; ``errors`` lists ``(key_path, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]], source: str = ""):
        self.errors = errors
        self.source = source
        lines = [f"invalid configuration{f' in {source}' if source else ''}:"]
        lines += [f"  {path or '<root>'}: {message}" for path, message in errors]
        super().__init__("\n".join(lines))


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def env_var_name(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + "_".join(path).upper()


def _leaf_paths(schema: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """Every overridable key: nested objects with declared properties are walked into."""
    leaves = []
    for key, sub in schema.get("properties", {}).items():
        path = prefix + (key,)
        if sub.get("type") == "object" and "properties" in sub:
            leaves.extend(_leaf_paths(sub, path))
        else:
            leaves.append((path, sub))
    return leaves


def _types(sub: Mapping[str, Any]) -> set[str]:
    declared = sub.get("type")
    if declared is None:
        return {"string"}
    return {declared} if isinstance(declared, str) else set(declared)


def _parse_env_value(raw: str, sub: Mapping[str, Any]) -> Any:
    types = _types(sub)
    if "null" in types and raw.strip().lower() in ("", "null", "none"):
        return None
    if "integer" in types:
        try:
            return int(raw)
        except ValueError:
            return raw  # left for the schema to report with its path
    if "boolean" in types:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return raw
    if types & {"object", "array"}:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            if "array" in types:
                return [item.strip() for item in raw.split(",") if item.strip()]
            return raw
    return raw


def _apply_defaults(schema: Mapping[str, Any], data: dict[str, Any]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if isinstance(data.get(key), dict) and "properties" in sub:
            _apply_defaults(sub, data[key])


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError([("", f"cannot read config file: {exc.strerror or exc}")], str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"not valid YAML: {exc}")], str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([("", "the top level must be a mapping of keys")], str(path))
    return data


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the validated configuration with defaults filled in; raise ConfigError."""
    environ = os.environ if environ is None else environ
    schema = load_schema()
    path = path if path is not None else environ.get("MOORAGE_CONFIG") or None
    data = read_config_file(path) if path else {}
    for leaf_path, sub in _leaf_paths(schema):
        name = env_var_name(leaf_path)
        if name in environ:
            _set_path(data, leaf_path, _parse_env_value(environ[name], sub))
    validate(data, schema, source=str(path) if path else "")
    _apply_defaults(schema, data)
    return data


def validate(data: Mapping[str, Any], schema: Mapping[str, Any] | None = None, source: str = "") -> None:
    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        errors.append((".".join(str(p) for p in error.absolute_path), error.message))
    if errors:
        raise ConfigError(errors, source)


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(key path, environment variable, default, description) for every key, for docs and tests."""
    return [
        (".".join(path), env_var_name(path), sub.get("default"), sub.get("description", ""))
        for path, sub in _leaf_paths(load_schema())
    ]
