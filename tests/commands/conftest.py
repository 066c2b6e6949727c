"""Helpers for the management-command tests: run a command in-process and capture what a person
(or a script, with --json) would see, plus a scan of every table for a leaked secret."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import Robot, User
from accounts.services import robot_create, user_create
from organizations.models import Organization
from organizations.services import organization_create
from repositories.models import AuditLog, Repository
from repositories.services.repositories import repository_get_or_create


@dataclass
class Output:
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run(command: str, *args: str, stdin: str | None = None, **options: Any) -> Output:
    """``manage.py command args...`` in this process; CommandError propagates to the test."""
    stdout, stderr = io.StringIO(), io.StringIO()
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command(command, *args, stdout=stdout, stderr=stderr, no_color=True, **options)
    return Output(stdout.getvalue(), stderr.getvalue())


def tables_containing(secret: str) -> list[str]:
    """Every table with a value that contains ``secret`` (all tables, all columns, as text)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                values = [bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v) for v in row]
                if any(secret in value for value in values):
                    found.append(table)
                    break
    return found


def audit_kinds() -> list[str]:
    return list(AuditLog.objects.order_by("id").values_list("kind", flat=True))


@pytest.fixture(autouse=True)
def closed_registry(settings) -> None:
    """Access checks in these tests mean something only on a registry that is not open."""
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": False, "read_only": False, "pushes_disabled": False}


@pytest.fixture
def alice(db) -> User:
    return user_create(username="alice", password="correct-horse-battery")


@pytest.fixture
def bob(db) -> User:
    return user_create(username="bob", password="correct-horse-battery")


@pytest.fixture
def acme(alice: User) -> Organization:
    return organization_create(name="acme", creator=alice)


@pytest.fixture
def deployer(acme: Organization) -> Robot:
    return robot_create(namespace=acme.namespace, shortname="deployer").robot


@pytest.fixture
def app_repo(acme: Organization) -> Repository:
    return repository_get_or_create(name="acme/app")
