"""Fixtures of the logs and statistics tests: real filesystem storage under ``tmp_path``, audit
entries written by the real service and moved back in time, users with real credentials."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from django.conf import settings as django_settings

from accounts.models import User
from accounts.principals import Principal
from accounts.services import principal_for_user
from repositories.models import AuditLog, Repository
from repositories.services.audit import RequestInfo, audit_log
from tests.api.conftest import PASSWORD, make_user  # noqa: F401
from tests.repositories.conftest import storage, storage_root  # noqa: F401


def as_principal(user: User) -> Principal:
    return principal_for_user(user, "password")


def log_entry(
    kind: str, *, by: Principal | None = None, repository: Repository | None = None, namespace: str = "",
    at: datetime | None = None, metadata: dict[str, Any] | None = None,
) -> AuditLog:
    """An entry written by the real service, then moved to ``at`` (entries are stamped on write)."""
    entry = audit_log(
        kind=kind, principal=by, repository=repository, namespace_name=namespace, request=RequestInfo(ip="192.0.2.9", user_agent="pytest"),
        metadata=metadata,
    )
    if at is not None:
        AuditLog.objects.filter(pk=entry.pk).update(created=at)
        entry.refresh_from_db()
    return entry


def logs_config(**changes: Any) -> dict[str, Any]:
    """``settings.MOORAGE`` with ``changes`` in its ``logs`` section."""
    return {**django_settings.MOORAGE, "logs": {**django_settings.MOORAGE["logs"], **changes}}


@pytest.fixture
def unique() -> str:
    """A fresh name part: /v2 caches Basic credentials by header, across tests."""
    return uuid.uuid4().hex[:8]


# the people, the organization ``acme`` (alice admin, bob member) and ``acme/app`` of the API tests
from tests.api.admin.conftest import acme, acme_app  # noqa: E402,F401
from tests.api.conftest import alice, bob, login, root  # noqa: E402,F401
