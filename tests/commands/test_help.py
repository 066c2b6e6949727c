"""Every identity command explains itself in --help and offers --json."""

from __future__ import annotations

import pytest
from django.core.management import load_command_class

COMMANDS = [
    "create_user", "create_org", "create_team", "create_robot", "create_app_token", "grant", "revoke", "set_repository", "default_permission",
]


@pytest.mark.parametrize("name", COMMANDS)
def test_help_describes_the_command_and_its_json_output(name):
    command = load_command_class("registry_site", name)
    text = command.create_parser("manage.py", name).format_help()

    assert len(command.help) > 60
    assert "--json" in text and "JSON" in text


@pytest.mark.parametrize("name", ["create_robot", "create_app_token"])
def test_credential_commands_document_the_registry_host(name):
    text = load_command_class("registry_site", name).create_parser("manage.py", name).format_help()

    assert "--registry HOST" in text and "127.0.0.1" in text
