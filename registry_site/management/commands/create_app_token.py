"""``manage.py create_app_token USERNAME TITLE``: an app-specific token, shown once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from accounts.services import app_token_create
from registry_site.management.commands._identity import (
    IdentityCommand, Report, add_registry_argument, audit, login_lines, login_text, positive_days, user_named,
)


class Command(IdentityCommand):
    help = (
        "Create an app-specific token for a user: a password substitute for CLI clients and CI, revocable on its "
        "own. Log in with the user's name (or '$app') and the token. The token is printed once; only a hash is stored."
    )

    def add_command_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USERNAME", help="The user the token acts as.")
        parser.add_argument("title", metavar="TITLE", help="What the token is for, e.g. 'laptop' or 'ci'.")
        parser.add_argument("--expires-in", type=positive_days, metavar="DAYS", help="Expire after this many days (default: never).")
        add_registry_argument(parser)

    def failure(self, options: dict[str, Any]) -> str:
        return f"cannot create an app token for {options['username']!r}"

    def run(self, options: dict[str, Any]) -> Report:
        user = user_named(options["username"])
        expires_at = timezone.now() + timedelta(days=options["expires_in"]) if options["expires_in"] else None
        created = app_token_create(user=user, title=options["title"], expires_at=expires_at)
        app_token = created.app_token
        audit(
            "create_app_token", command="create_app_token", namespace_name=user.username,
            uuid=str(app_token.uuid), title=app_token.title, expires_at=expires_at.isoformat() if expires_at else None,
        )
        logins = login_lines(registry=options["registry"], username=user.username, secret=created.token)
        expiry = f"expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "never expires"
        return Report(
            headline=f"Created app token {app_token.title!r} for {user.username} ({expiry}).",
            notices=[
                f"Token: {created.token}",
                "It is shown only this once and stored only as a hash: keep it now.",
            ],
            lines=[*login_text(options["registry"], logins), f"  (the user name '$app' works in place of {user.username} with this token)"],
            data={
                "username": user.username, "title": app_token.title, "uuid": str(app_token.uuid), "token": created.token,
                "expires_at": expires_at.isoformat() if expires_at else None, "login_usernames": [user.username, "$app"],
                "registry": options["registry"], "login": logins,
            },
        )
