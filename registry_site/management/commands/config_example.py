"""``manage.py config_example``: print config.example.yaml (every key, default and meaning)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from registry_site.management.config_report import render_example


class Command(BaseCommand):
    help = "Print the documented example configuration generated from registry_site/config_schema.json."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(render_example(), ending="")
