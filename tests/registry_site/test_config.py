"""Loading the configuration: schema defaults < YAML file < MOORAGE_* environment, all validated."""

from __future__ import annotations

import pytest
import yaml

from registry_site.config import ConfigError, documented_keys, env_var_name, load_config, load_schema


def _write(tmp_path, data, name="config.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_no_file_and_no_environment_gives_every_schema_default():
    config = load_config(None, {})
    for key, _env_var, default, _description in documented_keys():
        node = config
        for part in key.split("."):
            node = node[part]
        assert node == default, key


def test_a_file_sets_the_keys_it_names_and_leaves_the_rest_at_their_defaults(tmp_path):
    path = _write(tmp_path, {"port": 6000, "server": {"workers": 5}, "admin": {"user": "root"}})
    config = load_config(path, {})
    assert config["port"] == 6000
    assert config["server"]["workers"] == 5
    assert config["server"]["threads"] == 16  # sibling of a set key keeps its default
    assert config["admin"] == {"user": "root", "password": None, "email": ""}
    assert config["bind"] == "127.0.0.1"


def test_moorage_config_names_the_file_when_no_path_is_given(tmp_path):
    path = _write(tmp_path, {"port": 6001})
    assert load_config(None, {"MOORAGE_CONFIG": str(path)})["port"] == 6001


def test_an_empty_file_is_all_defaults(tmp_path):
    assert load_config(_write(tmp_path, ""), {})["port"] == 5000


def test_the_environment_overrides_the_file(tmp_path):
    path = _write(tmp_path, {"port": 6000, "server": {"workers": 5}})
    config = load_config(path, {"MOORAGE_PORT": "7000"})
    assert config["port"] == 7000
    assert config["server"]["workers"] == 5


@pytest.mark.parametrize(
    ("variable", "raw", "path", "expected"),
    [
        ("MOORAGE_PORT", "6500", ("port",), 6500),
        ("MOORAGE_SERVER_CELERY_CONCURRENCY", "4", ("server", "celery_concurrency"), 4),
        ("MOORAGE_LIMITS_MAX_MANIFEST_BYTES", "2048", ("limits", "max_manifest_bytes"), 2048),
        ("MOORAGE_DEBUG", "true", ("debug",), True),
        ("MOORAGE_DEBUG", "1", ("debug",), True),
        ("MOORAGE_DEBUG", "Yes", ("debug",), True),
        ("MOORAGE_DEBUG", "on", ("debug",), True),
        ("MOORAGE_METRICS_ENABLED", "false", ("metrics", "enabled"), False),
        ("MOORAGE_METRICS_ENABLED", "0", ("metrics", "enabled"), False),
        ("MOORAGE_METRICS_ENABLED", "off", ("metrics", "enabled"), False),
        ("MOORAGE_ADMIN_PASSWORD", "s3cret-pass", ("admin", "password"), "s3cret-pass"),
        ("MOORAGE_ADMIN_PASSWORD", "", ("admin", "password"), None),
        ("MOORAGE_DATABASE_URL", "null", ("database", "url"), None),
        ("MOORAGE_DATABASE_URL", "postgres://u@127.0.0.1:5432/x", ("database", "url"), "postgres://u@127.0.0.1:5432/x"),
        ("MOORAGE_LOG_LEVEL", "DEBUG", ("log_level",), "DEBUG"),
        ("MOORAGE_STORAGE_PREFERENCE", '["b", "a"]', ("storage", "preference"), ["b", "a"]),
        ("MOORAGE_STORAGE_PREFERENCE", "b, a", ("storage", "preference"), ["b", "a"]),
        (
            "MOORAGE_STORAGE_LOCATIONS",
            '{"a": {"driver": "filesystem", "options": {"location": "/srv/a"}}, "b": {"driver": "filesystem"}}',
            ("storage", "locations"),
            {"a": {"driver": "filesystem", "options": {"location": "/srv/a"}}, "b": {"driver": "filesystem"}},
        ),
    ],
)
def test_environment_values_are_parsed_by_the_type_the_schema_declares(variable, raw, path, expected):
    node = load_config(None, {variable: raw})
    for part in path:
        node = node[part]
    assert node == expected


@pytest.mark.parametrize(
    ("variable", "raw", "path", "fragment"),
    [
        ("MOORAGE_PORT", "abc", "port", "'abc' is not of type 'integer'"),
        ("MOORAGE_PORT", "70000", "port", "70000 is greater than the maximum of 65535"),
        ("MOORAGE_DEBUG", "maybe", "debug", "'maybe' is not of type 'boolean'"),
        ("MOORAGE_SERVER_WORKERS", "0", "server.workers", "0 is less than the minimum of 1"),
        ("MOORAGE_LOG_LEVEL", "LOUD", "log_level", "'LOUD' is not one of"),
        ("MOORAGE_REDIS_URL", "memcached://x", "redis.url", "does not match"),
        ("MOORAGE_STORAGE_LOCATIONS", "{not json", "storage.locations", "is not of type 'object', 'null'"),
        ("MOORAGE_STORAGE_LOCATIONS", '{"a": {"driver": "tape"}}', "storage.locations.a.driver", "'tape' is not one of"),
    ],
)
def test_a_bad_environment_value_is_reported_at_its_key_path(variable, raw, path, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config(None, {variable: raw})
    assert [error_path for error_path, _message in caught.value.errors] == [path]
    assert fragment in caught.value.errors[0][1]


def test_every_error_is_reported_at_once_with_its_key_path(tmp_path):
    path = _write(
        tmp_path,
        {
            "port": "http",
            "debug": "yes please",
            "server": {"workers": 0, "threads": -1},
            "database": {"url": "mysql://db/x"},
            "storage": {"locations": {"main": {"options": {}}}},
            "unknown_top": 1,
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"MOORAGE_LIMITS_MAX_PAGE_SIZE": "0"})
    paths = [error_path for error_path, _message in caught.value.errors]
    assert sorted(paths) == sorted(
        ["", "port", "debug", "server.workers", "server.threads", "database.url", "storage.locations.main", "limits.max_page_size"]
    )
    message = str(caught.value)
    assert str(path) in message
    assert "  server.threads: -1 is less than the minimum of 1" in message
    assert "'unknown_top' was unexpected" in message
    assert "'driver' is a required property" in message


def test_unknown_nested_keys_are_errors(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, {"server": {"wokers": 3}}), {})
    assert caught.value.errors == [("server", "Additional properties are not allowed ('wokers' was unexpected)")]


@pytest.mark.parametrize("text", ["port: [\n", "a: b: c\n", "key: 'unterminated\n", "\tport: 1\n"])
def test_invalid_yaml_is_one_error_naming_the_file(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert len(caught.value.errors) == 1
    assert caught.value.errors[0][1].startswith("not valid YAML")
    assert caught.value.source == str(path)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_a_file_whose_top_level_is_not_a_mapping_is_rejected(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), {})
    assert caught.value.errors == [("", "the top level must be a mapping of keys")]


def test_a_missing_file_is_reported_not_raised_as_oserror(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", {})
    assert caught.value.errors[0][1].startswith("cannot read config file")


def test_environment_variables_are_named_after_the_key_path():
    assert env_var_name(("limits", "max_manifest_bytes")) == "MOORAGE_LIMITS_MAX_MANIFEST_BYTES"
    assert env_var_name(("port",)) == "MOORAGE_PORT"
    documented = {key: env for key, env, _default, _description in documented_keys()}
    assert documented["server.celery_concurrency"] == "MOORAGE_SERVER_CELERY_CONCURRENCY"


def test_unrelated_environment_variables_are_ignored():
    config = load_config(None, {"MOORAGE_NOT_A_KEY": "x", "PORT": "1", "MOORAGE_SERVER": '{"workers": 9}'})
    assert config["port"] == 5000
    assert config["server"]["workers"] == 2


def test_every_key_has_a_description_and_a_default():
    schema = load_schema()
    for key, _env_var, _default, description in documented_keys():
        assert description, f"{key} has no description"
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
        assert "default" in node, f"{key} has no default"
