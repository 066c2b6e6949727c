"""``manage.py export_logs``: the audit log of a date range, archived and live entries, to a file
or stdout, with progress on stderr."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import InvalidRequestError
from repositories.models import Repository
from repositories.selectors_logs import LogScope, log_window_parse
from repositories.services.logs import export_document, export_views


def _text_line(view: dict[str, Any]) -> str:
    metadata = json.dumps(view.get("metadata") or {}, sort_keys=True, separators=(",", ":"))
    performer = (view.get("performer") or {}).get("name") or "(anonymous)"
    namespace = (view.get("namespace") or {}).get("name") or "-"
    return f"{view['datetime']}  {view['kind']:<24} {performer:<24} {namespace:<20} {view.get('ip') or '-':<15} {metadata}\n"


class Command(BaseCommand):
    help = (
        "Write the audit log of a date range (entries rotated to storage included) to a file or stdout. "
        "Dates: YYYY-MM-DD (the end day included), MM/DD/YYYY or ISO 8601 date-times. Without --namespace "
        "or --repository, the whole registry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", required=True, help="First day (or moment) of the range.")
        parser.add_argument("--end", required=True, help="Last day, included (or an exact ISO 8601 moment, excluded).")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--namespace", metavar="N", help="Only entries of this organization or user namespace.")
        scope.add_argument("--repository", metavar="NAMESPACE/NAME", help="Only entries of this repository.")
        parser.add_argument("--output", default="-", metavar="FILE|-", help="Where to write (default: stdout).")
        parser.add_argument(
            "--json", action="store_true",
            help="Write the JSON document the API's exportlogs produces (export_id, details, logs[], terminated) instead of one text line per entry.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            window = log_window_parse(starttime=options["start"], endtime=options["end"])
        except InvalidRequestError as exc:
            raise CommandError(str(exc)) from None
        details: dict[str, Any] = {}
        if options["repository"]:
            repository = Repository.objects.filter(full_name=options["repository"]).first()
            if repository is None:
                raise CommandError(f"no repository named {options['repository']}")
            scope = LogScope(repository_id=repository.pk)
            details["repository"] = repository.full_name
        elif options["namespace"]:
            scope = LogScope(namespace_name=options["namespace"])
            details["namespace"] = options["namespace"]
        else:
            scope = LogScope(everything=True)
        started = time.monotonic()
        progress = lambda line: self.stderr.write(f"  {line}")  # noqa: E731

        output: BinaryIO | None = None  # None: stdout (every chunk is whole lines of ASCII JSON or text)
        if options["output"] != "-":
            try:
                output = open(options["output"], "wb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']}: {exc}") from None
        self.stderr.write(f"Exporting audit log {window.start:%Y-%m-%d %H:%M:%S} .. {window.end:%Y-%m-%d %H:%M:%S} UTC ({details or 'whole registry'})")
        counter = [0]
        try:
            if options["json"]:
                chunks = export_document(export_id=str(uuid.uuid4()), scope_details=details, scope=scope, window=window, counter=counter, progress=progress)
            else:
                chunks = self._text(scope, window, counter, progress)
            for chunk in chunks:
                self._write(output, chunk)
        finally:
            if output is not None:
                output.close()
        where = "stdout" if options["output"] == "-" else options["output"]
        self.stderr.write(f"Exported {counter[0]:,} entries to {where} in {time.monotonic() - started:.1f}s")

    def _text(self, scope: LogScope, window, counter: list[int], progress):  # noqa: ANN001
        for view in export_views(scope=scope, window=window, progress=progress):
            counter[0] += 1
            if counter[0] % 1000 == 0:
                progress(f"{counter[0]:,} entries written")
            yield _text_line(view).encode()

    def _write(self, output: BinaryIO | None, chunk: bytes) -> None:
        if output is None:
            self.stdout.write(chunk.decode(), ending="")
        else:
            output.write(chunk)
