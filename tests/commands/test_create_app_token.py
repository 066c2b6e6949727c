"""manage.py create_app_token: shown once, stored hashed, logs in as the user (or $app)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from accounts.models import AppToken
from accounts.services import credentials_verify
from repositories.models import AuditLog
from tests.commands.conftest import run, tables_containing

pytestmark = pytest.mark.django_db


def test_token_is_printed_once_and_logs_in_with_the_user_name_or_app(alice):
    out = run("create_app_token", "alice", "laptop")

    token = re.search(r"^Token: (\S+)$", out.stdout, re.M).group(1)
    for login in ("alice", "$app"):
        principal = credentials_verify(username=login, password=token)
        assert principal is not None and (principal.kind, principal.name, principal.via) == ("user", "alice", "app_token")
    assert "shown only this once" in out.stdout
    assert "'$app'" in out.stdout


def test_token_does_not_log_in_as_another_user(alice, bob):
    token = run("create_app_token", "alice", "laptop", "--json").json["token"]

    assert credentials_verify(username="bob", password=token) is None


def test_database_holds_only_the_hash(alice):
    token = run("create_app_token", "alice", "laptop", "--json").json["token"]

    app_token = AppToken.objects.get(user=alice)
    assert app_token.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert tables_containing(token) == []


def test_login_lines_use_the_user_name(alice):
    data = run("create_app_token", "alice", "ci", "--json").json

    assert set(data["login"]) == {"skopeo", "podman", "docker"}
    assert all("--username alice " in line and data["token"] in line for line in data["login"].values())
    assert data["login_usernames"] == ["alice", "$app"]


def test_expiry_in_days(alice):
    before = timezone.now()
    data = run("create_app_token", "alice", "ci", "--expires-in", "30", "--json").json

    expires_at = AppToken.objects.get(user=alice).expires_at
    assert before + timedelta(days=30) <= expires_at <= timezone.now() + timedelta(days=30)
    assert data["expires_at"] == expires_at.isoformat()


def test_expired_token_no_longer_logs_in(alice):
    token = run("create_app_token", "alice", "ci", "--expires-in", "1", "--json").json["token"]
    AppToken.objects.filter(user=alice).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert credentials_verify(username="$app", password=token) is None


def test_no_expiry_by_default(alice):
    data = run("create_app_token", "alice", "ci", "--json").json

    assert data["expires_at"] is None and AppToken.objects.get(user=alice).expires_at is None


def test_audit_entry_without_the_token(alice):
    token = run("create_app_token", "alice", "ci", "--json").json["token"]

    entry = AuditLog.objects.get(kind="create_app_token")
    assert entry.namespace_name == "alice" and entry.metadata["title"] == "ci"
    assert token not in str(entry.metadata)


def test_unknown_user(db):
    with pytest.raises(CommandError, match="unknown user 'ghost'") as caught:
        run("create_app_token", "ghost", "ci")
    assert caught.value.returncode == 1
    assert not AppToken.objects.exists()


def test_robot_cannot_have_app_tokens(deployer):
    with pytest.raises(CommandError, match="is a robot name, not a user"):
        run("create_app_token", "acme+deployer", "ci")


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_invalid_expiry(alice, days):
    with pytest.raises(CommandError, match="--expires-in"):
        run("create_app_token", "alice", "ci", "--expires-in", days)
