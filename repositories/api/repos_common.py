"""Shared pieces of the repository API views: repository path converters, the state-blind
management check, Quay's opaque page tokens, dates and avatars."""

from __future__ import annotations

from typing import Any

import calendar
import copy
import hashlib
from datetime import datetime
from email.utils import formatdate

from django.core import signing
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from accounts.api.authentication import principal_of
from common.errors import InvalidRequestError
from repositories.access import Action, is_allowed, refusal_reason
from repositories.api.access import ACTION_SCOPE, repository_for_api
from repositories.models import Repository
from repositories.services.audit import RequestInfo

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
#: Sub-resources of ``/repository/<repo>/...`` served by other route modules (tags, logs, ...).
#: The bare repository route must not swallow ``ns/app/tag/latest`` as a repository name.
_SUBRESOURCES = (
    "tag|manifest|permissions|changevisibility|changestate|changetrust|logs|aggregatelogs|exportlogs|notification|mirror|"
    "build|trigger|autoprunepolicy|immutabilitypolicy|signatures|tokens|authorizedemail|labels|security"
)


class RepositoryPathConverter:
    """``namespace/name`` where the name may itself contain slashes (Quay's ``apirepopath``)."""

    regex = rf"{_COMPONENT}(?:/{_COMPONENT})+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class BareRepositoryPathConverter(RepositoryPathConverter):
    """A repository path as the last part of a URL: no component after ``namespace/name`` may be a
    sub-resource keyword, so other route modules' ``<repo>/tag/<tag>`` routes stay reachable."""

    regex = rf"{_COMPONENT}/{_COMPONENT}(?:/(?!(?:{_SUBRESOURCES})(?:/|\Z)){_COMPONENT})*"


def request_info(request: Any) -> RequestInfo:
    return RequestInfo.of(request)


def allowed_ignoring_repository_state(request: Request, action: Action, repository: Repository) -> bool:
    """Whether the caller holds the role for ``action`` whatever the repository's own state.

    Administration (permissions, visibility, state, description, deletion) stays possible on a
    READ_ONLY or MIRROR repository, as in Quay, or a read-only repository could never be switched
    back; the registry-wide read-only switch still refuses.
    """
    principal = principal_of(request)
    probe = copy.copy(repository)
    probe.state = Repository.State.NORMAL
    return principal.has_api_scope(ACTION_SCOPE[action]) and is_allowed(principal, action, probe)


def repository_for_management(request: Request, full_name: str, action: Action) -> Repository:
    """The repository for an administrative change: 404 when unreadable, 403 without the role.

    ``Action.DELETE`` stands for the write role (it needs write, like a push, but is not refused
    when only pushes are disabled); ``Action.ADMIN`` for the admin role.
    """
    repository = repository_for_api(request, full_name, Action.PULL)
    if not allowed_ignoring_repository_state(request, action, repository):
        probe = copy.copy(repository)
        probe.state = Repository.State.NORMAL
        raise PermissionDenied(refusal_reason(action, probe, principal_of(request)))
    return repository


_PAGE_SALT = "moorage.api.page"


def page_token(after: str | None) -> str | None:
    """Quay's opaque ``next_page`` token: the keyset position, signed so it cannot be forged."""
    return signing.dumps({"after": after}, salt=_PAGE_SALT, compress=True) if after is not None else None


def page_after(token: str | None) -> str | None:
    """The position a ``next_page`` token encodes; INVALID_REQUEST for a forged or mangled one."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=_PAGE_SALT)
    except signing.BadSignature:
        raise InvalidRequestError("invalid next_page token", detail={"next_page": token[:100]}) from None
    after = data.get("after") if isinstance(data, dict) else None
    if not isinstance(after, str):
        raise InvalidRequestError("invalid next_page token", detail={"next_page": token[:100]})
    return after


def format_date(value: datetime | None) -> str | None:
    """Quay's date format (RFC 2822, UTC): ``Tue, 04 Mar 2025 10:20:30 -0000``."""
    if value is None:
        return None
    return formatdate(calendar.timegm(value.utctimetuple()))


_AVATAR_COLORS = ("#969696", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5")


def avatar(name: str, kind: str, email: str = "") -> dict[str, str]:
    """Quay's avatar object: ``{"name", "hash", "color", "kind"}`` (hash of the e-mail or name)."""
    digest = hashlib.md5((email or name).strip().lower().encode(), usedforsecurity=False).hexdigest()
    return {"name": name, "hash": digest, "color": _AVATAR_COLORS[int(digest[:8], 16) % len(_AVATAR_COLORS)], "kind": kind}
