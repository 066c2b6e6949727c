"""``manage.py run_registry`` (what ``make run`` executes): set up, then serve with gunicorn,
a Celery worker and Celery beat until Ctrl-C."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from registry_site.management.bootstrap import StartupError
from registry_site.management.runner import Styles, run_registry


class Command(BaseCommand):
    help = (
        "Migrate, create the first superuser if there is none, collect static files, then run gunicorn, "
        "a Celery worker and Celery beat. Ctrl-C or SIGTERM stops them all."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--stop-timeout", type=float, default=30.0, metavar="SECONDS",
            help="How long running requests and tasks may take to finish on shutdown before the processes are killed (default 30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        styles = Styles(success=self.style.SUCCESS, warning=self.style.WARNING, error=self.style.ERROR, label=self.style.MIGRATE_LABEL)
        try:
            code = run_registry(write=self._write, styles=styles, stop_timeout=options["stop_timeout"])
        except StartupError as exc:
            self.stderr.write(self.style.ERROR(f"Moorage cannot start: {exc}"))
            code = 1
        if code:
            sys.exit(code)

    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
