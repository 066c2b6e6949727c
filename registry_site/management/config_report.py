"""Checking a configuration for humans, and the documented example file.

``config_check()`` runs the same loader as start-up (``registry_site.config.load_config``) plus
the cross-key rules settings.py enforces, and returns every problem with its key path, the
environment variable that supplied the value (if any) and secrets masked. ``manage.py`` calls
``exit_if_config_invalid()`` before Django starts, so an invalid configuration stops every
command with that list instead of a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence, TextIO

import yaml

from registry_site.config import ConfigError, documented_keys, load_config, load_schema, read_config_file
from registry_site.management.describe import describe_broker, describe_database, describe_storage, resolve_data_dir

#: Key names whose values never appear in output.
SECRET_KEYS = frozenset({"secret_key", "password"})
EXAMPLE_COMMAND = ".venv/bin/python manage.py config_example > config.example.yaml"

Style = Callable[[str], str]
_MISSING = object()


def _plain(text: str) -> str:
    return text


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration."""

    path: str
    message: str
    env_var: str | None = None

    @property
    def display_path(self) -> str:
        return self.path or "(top level)"


@dataclass(frozen=True)
class ConfigCheck:
    """The outcome of checking one configuration: a file alone, or file + environment."""

    source: str
    file: str | None = None
    problems: list[ConfigProblem] = field(default_factory=list)
    config: dict[str, Any] | None = None
    file_keys: int = 0
    env_overrides: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


# --- checking -----------------------------------------------------------------------------------
def _count_keys_set(data: Mapping[str, Any]) -> int:
    """How many of the schema's keys ``data`` (a parsed file) sets."""
    count = 0
    for key, _env_var, _default, _description in documented_keys():
        node: Any = data
        for part in key.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        count += node is not _MISSING
    return count


def _schema_at(schema: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema
    for key in path:
        if node is None:
            return None
        properties = node.get("properties", {})
        if key in properties:
            node = properties[key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


_UNEXPECTED_RE = re.compile(r"^Additional properties are not allowed \((.*) (?:was|were) unexpected\)$")
_VALIDATOR_WORDINGS = (" is not of type ", " is too short", " is too long", " does not match ", " is not one of ",
                       " should be non-empty", " is not valid under ")
_URL_SECRET_RE = re.compile(r"(://[^:/@\s']*:)[^@\s']+@")


def _split_unknown_keys(path: str, message: str, schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Turn jsonschema's one-line "additional properties" error into one error per unknown key."""
    match = _UNEXPECTED_RE.match(message)
    if not match:
        return [(path, message)]
    parent = _schema_at(schema, path.split(".") if path else [])
    allowed = sorted((parent or {}).get("properties", {}))
    result = []
    for key in re.findall(r"'([^']*)'", match.group(1)):
        hint = difflib.get_close_matches(key, allowed, n=1)
        if hint:
            text = f"unknown key (did you mean '{hint[0]}'?)"
        else:
            text = f"unknown key (known here: {', '.join(allowed)})" if allowed else "unknown key"
        result.append((f"{path}.{key}" if path else key, text))
    return result


def _redact(path: str, message: str) -> str:
    """Never echo a secret: drop the value of secret keys, mask passwords inside URLs.

    jsonschema messages start with the offending value; for a secret key everything before the
    validator's own wording is replaced (searched from the right, as the value may contain it).
    """
    if path.rsplit(".", 1)[-1] in SECRET_KEYS:
        start = max(message.rfind(wording) for wording in _VALIDATOR_WORDINGS)
        return "the value" + message[start:] if start >= 0 else "the value is invalid"
    return _URL_SECRET_RE.sub(r"\1***@", message)


def _env_var_for(path: str, environ: Mapping[str, str]) -> str | None:
    """The environment variable that set the value at ``path`` (or an ancestor of it)."""
    for key, env_var, _default, _description in documented_keys():
        if env_var in environ and (path == key or path.startswith(key + ".")):
            return env_var
    return None


def _raise_for_yaml_syntax(path: str) -> None:
    """A YAML syntax error as one line with its position (the loader's message spans five)."""
    try:
        with open(path, encoding="utf-8") as handle:
            yaml.safe_load(handle)
    except OSError:
        return  # read_config_file reports it
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigError([("", f"not valid YAML{where}: {exc.problem}{context}")], path) from None
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"not valid YAML: {exc}")], path) from None


def cross_key_problems(config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Rules the JSON Schema cannot express; settings.py refuses to start on the same ones."""
    locations = config["storage"]["locations"] or {"default": {}}
    preference = config["storage"]["preference"] or []
    unknown = [name for name in preference if name not in locations]
    if unknown:
        return [ConfigProblem("storage.preference", f"unknown location(s) {', '.join(unknown)}; configured: {', '.join(locations)}")]
    return []


def config_check(path: str | None, environ: Mapping[str, str], source: str | None = None) -> ConfigCheck:
    """Check the configuration made of file ``path`` (may be None) and ``environ`` overrides.

    Never raises for a bad configuration: every problem is in the result.
    """
    source = source or path or "the configuration"
    env_names = {env_var for _key, env_var, _default, _description in documented_keys()}
    overrides = sorted(name for name in environ if name in env_names)
    file_keys = 0
    try:
        if path:
            _raise_for_yaml_syntax(path)
            file_keys = _count_keys_set(read_config_file(path))
        config = load_config(path, environ)
    except ConfigError as exc:
        schema = load_schema()
        problems = []
        for error_path, message in exc.errors:
            for key_path, text in _split_unknown_keys(error_path, message, schema):
                problems.append(ConfigProblem(key_path, _redact(key_path, text), _env_var_for(key_path, environ)))
        problems.sort(key=lambda problem: problem.path)
        return ConfigCheck(source, path, problems, None, file_keys, overrides)
    problems = cross_key_problems(config)
    return ConfigCheck(source, path, problems, None if problems else config, file_keys, overrides)


def effective_config_check(environ: Mapping[str, str] | None = None) -> ConfigCheck:
    """Check what start-up loads: the file named by ``MOORAGE_CONFIG`` (if any) plus the environment."""
    environ = os.environ if environ is None else environ
    return config_check(environ.get("MOORAGE_CONFIG") or None, environ, "the effective configuration")


# --- reporting ----------------------------------------------------------------------------------
def _indent_continuation(text: str, width: int) -> str:
    lines = text.splitlines() or [""]
    return "\n".join([lines[0], *(" " * width + line for line in lines[1:])])


def format_problems(problems: Sequence[ConfigProblem], style_key: Style = _plain) -> list[str]:
    """Aligned ``key.path   message   (from MOORAGE_X)`` lines."""
    width = max(len(problem.display_path) for problem in problems) + 3
    lines = []
    for problem in problems:
        origin = f"  (from {problem.env_var})" if problem.env_var else ""
        padding = " " * (width - len(problem.display_path))
        lines.append("  " + style_key(problem.display_path) + padding + _indent_continuation(problem.message + origin, width + 2))
    return lines


def format_summary(check: ConfigCheck) -> list[str]:
    """A few aligned lines saying where the keys came from and what a valid configuration selects."""
    config = check.config or {}
    data_dir = resolve_data_dir(config["data_dir"])
    total = len(documented_keys())
    if check.file:
        keys = f"{check.file_keys} in {check.file}" if check.file_keys else f"none in {check.file}"
    else:
        keys = "no config file"
    if check.env_overrides:
        keys += f", {len(check.env_overrides)} from the environment ({', '.join(check.env_overrides)})"
    if check.file_keys < total:
        keys += "; every other key takes its default"
    rows = [
        ("keys set", keys),
        ("listens on", f"{config['bind']}:{config['port']}"),
        ("data dir", str(data_dir)),
        ("database", describe_database(config["database"]["url"], data_dir)),
        ("broker", describe_broker(config["broker"]["url"], config["redis"]["url"], data_dir)),
        ("storage", "; ".join(describe_storage(config["storage"]["locations"], data_dir))),
    ]
    return [f"  {label:<11} {value}" for label, value in rows]


def report_check(check: ConfigCheck, out: TextIO, err: TextIO, *, success: Style = _plain, error: Style = _plain,
                 key: Style = _plain) -> int:
    """Print the result of a check; return the exit code (0 valid, 1 invalid)."""
    if check.valid:
        out.write(success(f"{_capitalize(check.source)} is valid.") + "\n")
        out.write("\n".join(format_summary(check)) + "\n")
        return 0
    count = len(check.problems)
    err.write(error(f"{_capitalize(check.source)} is invalid: {count} error{'s' if count != 1 else ''}") + "\n")
    err.write("\n".join(format_problems(check.problems, key)) + "\n")
    return 1


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text.startswith("the ") else text


def check_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``check_config`` (shared by the command and the pre-Django fallback)."""
    parser.add_argument(
        "file", nargs="?", default=None,
        help="YAML file to validate on its own (environment overrides are not applied). "
             "Without it: the effective configuration (MOORAGE_CONFIG + MOORAGE_* variables).",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="Print one JSON object (valid, source, file, problems with key path and environment variable) "
             "instead of text, for scripts and CI checks.",
    )


def check_config_run(file: str | None, out: TextIO, err: TextIO, *, as_json: bool = False, **styles: Style) -> int:
    """What ``manage.py check_config [FILE] [--json]`` does; returns the exit code."""
    check = config_check(file, {}) if file else effective_config_check()
    if as_json:
        # one write: Django's OutputWrapper would end every chunk json.dump writes with a newline
        out.write(json.dumps(check_as_json(check), indent=2) + "\n")
        return 0 if check.valid else 1
    return report_check(check, out, err, **styles)


def check_as_json(check: ConfigCheck) -> dict[str, Any]:
    """The outcome of a check for scripts; problems are already redacted (no secret values)."""
    return {
        "valid": check.valid,
        "source": check.source,
        "file": check.file,
        "keys_set_in_file": check.file_keys,
        "environment_overrides": list(check.env_overrides),
        "problems": [
            {"path": problem.display_path, "message": problem.message, "environment_variable": problem.env_var}
            for problem in check.problems
        ],
    }


def exit_if_config_invalid(argv: Sequence[str]) -> None:
    """Called by manage.py before Django loads settings: an invalid effective configuration
    ends the process with the list of errors (exit 1) instead of Django's traceback.

    ``check_config`` still runs (its FILE does not depend on the environment).
    """
    check = effective_config_check()
    if check.valid:
        return
    if argv[1:2] == ["check_config"]:
        parser = argparse.ArgumentParser(prog=f"{os.path.basename(argv[0])} check_config")
        check_config_arguments(parser)
        options, _unknown = parser.parse_known_args(list(argv[2:]))
        sys.exit(check_config_run(options.file, sys.stdout, sys.stderr, as_json=options.json))
    source = os.environ.get("MOORAGE_CONFIG")
    sys.stderr.write(f"Moorage cannot start: the configuration{f' ({source} + environment)' if source else ''} is invalid.\n")
    sys.stderr.write("\n".join(format_problems(check.problems)) + "\n")
    sys.stderr.write("Every key is documented in config.example.yaml.\n")
    sys.exit(1)


# --- the documented example file ----------------------------------------------------------------
def _scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return dumped.removesuffix("...").strip()


def _type_text(sub: Mapping[str, Any]) -> str:
    if "enum" in sub:
        return "one of " + ", ".join(str(v) for v in sub["enum"])
    declared = sub.get("type", "string")
    types = [declared] if isinstance(declared, str) else list(declared)
    text = " or ".join(types)
    bounds = []
    if "minimum" in sub and "maximum" in sub:
        bounds.append(f"{sub['minimum']}..{sub['maximum']}")
    elif "minimum" in sub:
        bounds.append(f">= {sub['minimum']}")
    if sub.get("minLength") == 1:
        bounds.append("not empty")
    elif "minLength" in sub:
        bounds.append(f"at least {sub['minLength']} characters")
    if "pattern" in sub:
        bounds.append(f"matching {sub['pattern']}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width=100 - len(indent) - 2)]


def _env_text(path: tuple[str, ...], sub: Mapping[str, Any]) -> str:
    name = "MOORAGE_" + "_".join(path).upper()
    declared = sub.get("type", "string")
    types = {declared} if isinstance(declared, str) else set(declared)
    return name + (" (JSON)" if types & {"object", "array"} else "")


def _entry_example(sub: Mapping[str, Any]) -> str:
    if "default" in sub:
        return _scalar(sub["default"])
    if "enum" in sub:
        return _scalar(sub["enum"][0])
    return "..."


def _example_lines(schema: Mapping[str, Any], prefix: tuple[str, ...], indent: str) -> Iterator[str]:
    for key, sub in schema.get("properties", {}).items():
        path = prefix + (key,)
        if not prefix:
            yield ""
        if sub.get("type") == "object" and "properties" in sub:
            if sub.get("description"):
                yield from _comment(sub["description"], indent)
            yield f"{indent}{key}:"
            yield from _example_lines(sub, path, indent + "  ")
            continue
        if sub.get("description"):
            yield from _comment(sub["description"], indent)
        yield f"{indent}# {_type_text(sub)}; environment: {_env_text(path, sub)}"
        entry = sub.get("additionalProperties")
        if isinstance(entry, dict) and "properties" in entry:
            required = set(entry.get("required", []))
            yield f"{indent}# Each entry, by name:"
            yield f"{indent}#   <name>:"
            for entry_key, entry_sub in entry["properties"].items():
                note = f"{entry_sub.get('description', '')} Type: {_type_text(entry_sub)}"
                note += "; required." if entry_key in required else f"; default {_entry_example(entry_sub)}."
                yield from _comment(note, indent + "#     ")
                yield f"{indent}#     {entry_key}: {_entry_example(entry_sub)}"
        yield f"{indent}{key}: {_scalar(sub.get('default'))}"


def render_example(schema: Mapping[str, Any] | None = None) -> str:
    """``config.example.yaml``: every key of the schema with its default and description."""
    schema = schema or load_schema()
    header = [
        "# Moorage configuration: every key with its default value and meaning.",
        "#",
        "# Copy the keys you change into your own file and name it in MOORAGE_CONFIG, e.g.",
        "#   MOORAGE_CONFIG=/etc/moorage/config.yaml make run",
        "# Check a file (every error is listed with its key path):",
        "#   .venv/bin/python manage.py check_config /etc/moorage/config.yaml",
        "#",
        *_comment(schema.get("description", ""), ""),
        "#",
        "# Generated from registry_site/config_schema.json; after changing the schema run",
        f"#   {EXAMPLE_COMMAND}",
    ]
    return "\n".join([*header, *_example_lines(schema, (), "")]) + "\n"


def schema_key_paths(schema: Mapping[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Every key the schema declares, ``<name>`` standing for free-form names (for tests and docs)."""
    schema = schema or load_schema()
    paths = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        paths.append(path)
        paths.extend(schema_key_paths(sub, path + "."))
        entry = sub.get("additionalProperties")
        if isinstance(entry, dict):
            paths.extend(schema_key_paths(entry, path + ".<name>."))
    return paths
