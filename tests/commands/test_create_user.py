"""manage.py create_user."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from accounts.models import Namespace, User
from accounts.services import credentials_verify
from repositories.models import AuditLog
from tests.commands.conftest import audit_kinds, run, tables_containing

pytestmark = pytest.mark.django_db


def test_generated_password_is_printed_once_and_logs_the_user_in():
    out = run("create_user", "carol")

    password = out.stdout.split("Password: ", 1)[1].split()[0]
    assert len(password) >= 20
    principal = credentials_verify(username="carol", password=password)
    assert principal is not None and principal.kind == "user" and principal.name == "carol" and principal.via == "password"
    assert "shown only this once" in out.stdout
    assert tables_containing(password) == []


def test_user_gets_a_personal_namespace_and_an_audit_entry():
    run("create_user", "carol", "--password", "long-enough-pw", "--email", "carol@example.com")

    user = User.objects.select_related("namespace").get(username="carol")
    assert user.email == "carol@example.com"
    assert user.namespace.name == "carol" and user.namespace.kind == Namespace.Kind.USER
    assert not user.is_superuser and not user.is_global_readonly_superuser
    entry = AuditLog.objects.get(kind="create_user")
    assert entry.namespace_name == "carol" and entry.performer_name == "manage.py"
    assert entry.metadata["via"] == "manage.py create_user"


def test_given_password_is_not_printed():
    out = run("create_user", "carol", "--password", "long-enough-pw")

    assert "long-enough-pw" not in out.stdout
    assert "Password:" not in out.stdout
    assert credentials_verify(username="carol", password="long-enough-pw") is not None


def test_password_from_stdin_without_its_newline():
    run("create_user", "carol", "--password-stdin", stdin="piped-secret-1\n")

    assert credentials_verify(username="carol", password="piped-secret-1") is not None


def test_empty_stdin_is_refused():
    with pytest.raises(CommandError, match="no password on standard input"):
        run("create_user", "carol", "--password-stdin", stdin="")
    assert not User.objects.filter(username="carol").exists()


def test_superuser_and_readonly_superuser_flags():
    run("create_user", "root", "--superuser")
    run("create_user", "auditor", "--readonly-superuser")

    root, auditor = User.objects.get(username="root"), User.objects.get(username="auditor")
    assert root.is_superuser and root.is_staff and not root.is_global_readonly_superuser
    assert auditor.is_global_readonly_superuser and not auditor.is_superuser


def test_superuser_and_readonly_superuser_exclude_each_other():
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("create_user", "root", "--superuser", "--readonly-superuser")


def test_json_output_carries_the_generated_password():
    data = run("create_user", "carol", "--json").json

    assert data["username"] == "carol" and data["password_generated"] is True
    assert credentials_verify(username="carol", password=data["password"]) is not None


def test_json_output_never_echoes_a_given_password():
    data = run("create_user", "carol", "--password", "long-enough-pw", "--json").json

    assert data["password"] is None and data["password_generated"] is False


def test_taken_name_is_a_one_line_error(alice):
    with pytest.raises(CommandError) as caught:
        run("create_user", "alice")

    assert str(caught.value) == "cannot create user 'alice': a user or organization already has this name"
    assert caught.value.returncode == 1
    assert audit_kinds() == []


def test_organization_name_is_taken_too(acme):
    with pytest.raises(CommandError, match="already has this name"):
        run("create_user", "acme")


def test_invalid_name_is_refused():
    with pytest.raises(CommandError, match="names are lowercase letters and digits"):
        run("create_user", "Carol")
    assert not Namespace.objects.exists()


def test_too_long_name_is_refused_before_the_database_sees_it():
    with pytest.raises(CommandError, match="at most 150 characters"):
        run("create_user", "a" * 151)


def test_short_password_is_refused():
    with pytest.raises(CommandError, match="too short"):
        run("create_user", "carol", "--password", "short")
    assert not User.objects.exists()


def test_bad_email_is_refused():
    with pytest.raises(CommandError, match="not a valid e-mail address"):
        run("create_user", "carol", "--email", "not-an-address")
