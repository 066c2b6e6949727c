"""config.example.yaml documents every key of the schema with its default, and is itself valid."""

from __future__ import annotations

from pathlib import Path

import yaml

from registry_site.config import documented_keys, load_config, load_schema
from registry_site.management.config_report import EXAMPLE_COMMAND, render_example, schema_key_paths

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def _lookup(data, dotted):
    node = data
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{dotted} is missing from config.example.yaml"
        node = node[part]
    return node


def test_every_settable_key_appears_with_its_default():
    example = yaml.safe_load(EXAMPLE.read_text())
    for key, _env_var, default, _description in documented_keys():
        assert _lookup(example, key) == default, f"{key}: example value differs from the schema default"


def test_every_schema_key_is_named_including_the_fields_of_named_entries():
    text = EXAMPLE.read_text()
    for path in schema_key_paths():
        assert f"{path.rsplit('.', 1)[-1]}:" in text, f"{path} is not documented in config.example.yaml"
    assert "#   <name>:" in text  # storage.locations entries are shown by example
    assert "#     driver: filesystem" in text


def test_every_description_and_environment_variable_is_in_the_file():
    text = " ".join(line.lstrip("# ").strip() for line in EXAMPLE.read_text().splitlines())
    for key, env_var, _default, description in documented_keys():
        assert " ".join(description.split()) in text, f"{key}: description missing"
        assert env_var in text, f"{key}: {env_var} missing"


def test_the_example_validates_and_loads_as_the_defaults():
    assert load_config(EXAMPLE, {}) == load_config(None, {})


def test_the_example_is_generated_from_the_current_schema():
    assert EXAMPLE.read_text() == render_example(load_schema()), f"config.example.yaml is stale; regenerate it: {EXAMPLE_COMMAND}"


def test_the_generator_documents_free_form_entries_generically():
    schema = {
        "description": "Test schema.",
        "type": "object",
        "properties": {
            "things": {
                "type": ["object", "null"], "default": None, "description": "Named things.",
                "additionalProperties": {
                    "type": "object", "required": ["kind"],
                    "properties": {"kind": {"enum": ["x", "y"], "description": "Its kind."}, "size": {"type": "integer", "default": 3}},
                },
            },
        },
    }
    text = render_example(schema)
    assert "#     kind: x" in text and "#     size: 3" in text
    assert "environment: MOORAGE_THINGS (JSON)" in text
    assert yaml.safe_load(text) == {"things": None}
