"""``manage.py check_config [FILE]``: validate a config file, or the effective configuration."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from registry_site.management.config_report import check_config_arguments, check_config_run


class Command(BaseCommand):
    help = (
        "Validate a Moorage config file (or, without FILE, the effective configuration: MOORAGE_CONFIG "
        "plus MOORAGE_* environment overrides). Lists every error with its key path; exit 1 when invalid."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        check_config_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        code = check_config_run(
            options["file"], self.stdout, self.stderr, as_json=options["json"],
            success=self.style.SUCCESS, error=self.style.ERROR, key=self.style.SQL_FIELD,
        )
        if code:
            sys.exit(code)  # the errors are printed already; CommandError would add a "CommandError:" line
