"""``manage.py create_user USERNAME``: a user and their personal namespace."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from accounts.services import user_create
from registry_site.management.commands._identity import IdentityCommand, Report, audit, email_address


class Command(IdentityCommand):
    help = (
        "Create a user and their personal namespace (user and organization names share one name space). "
        "Without --password or --password-stdin a password is generated and printed once."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USERNAME", help="Lowercase letters and digits, optionally separated by '.', '_' or '-'.")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", metavar="P", help="The password (visible in the process list and shell history: prefer --password-stdin).")
        secret.add_argument("--password-stdin", action="store_true", help="Read the password from standard input.")
        parser.add_argument("--email", type=email_address, default="", metavar="E", help="E-mail address.")
        power = parser.add_mutually_exclusive_group()
        power.add_argument("--superuser", action="store_true", help="Registry superuser: manages users, organizations and every repository.")
        power.add_argument(
            "--readonly-superuser", action="store_true", help="Global read-only superuser: reads every repository, writes nothing."
        )

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot create user {options['username']!r}"

    def run(self, options: dict[str, Any]) -> Report:
        username: str = options["username"]
        password: str | None = self.read_stdin(options, "password") if options["password_stdin"] else options["password"]
        generated = password is None
        if password is None:
            password = secrets.token_urlsafe(18)
        else:
            try:
                validate_password(password)
            except ValidationError as error:
                raise CommandError(f"{self.failure(options)}: {' '.join(error.messages)}") from None
        user = user_create(
            username=username, password=password, email=options["email"],
            is_superuser=options["superuser"], is_readonly_superuser=options["readonly_superuser"],
        )
        audit(
            "create_user", command="create_user", namespace_name=user.username,
            username=user.username, superuser=user.is_superuser, readonly_superuser=user.is_global_readonly_superuser,
        )
        kind = "superuser" if user.is_superuser else "read-only superuser" if user.is_global_readonly_superuser else "user"
        report = Report(
            headline=f"Created {kind} {user.username} (namespace {user.username}).",
            data={
                "username": user.username, "email": user.email, "namespace": user.username,
                "superuser": user.is_superuser, "readonly_superuser": user.is_global_readonly_superuser,
                "password": password if generated else None, "password_generated": generated,
            },
        )
        if generated:
            report.notices.append(f"Password: {password}")
            report.notices.append("It is shown only this once and stored only as a hash: keep it now.")
        return report
