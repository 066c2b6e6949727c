"""Repository lookups for API views, through the one authorization authority.

A repository the caller may not read answers 404, never 403, so the API does not reveal that a
private repository exists; a readable repository the caller may not change answers 403.
"""

from __future__ import annotations

from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request

from accounts.api.authentication import principal_of
from accounts.principals import Principal
from repositories.access import Action, is_allowed, refusal_reason
from repositories.models import Repository

#: the API token scope each action needs (Quay's scopes)
ACTION_SCOPE = {Action.PULL: "repo:read", Action.PUSH: "repo:write", Action.DELETE: "repo:write", Action.ADMIN: "repo:admin"}


def repository_for_api(request: Request, full_name: str, action: Action) -> Repository:
    """The repository ``full_name`` if the caller may perform ``action`` on it; 404 or 403 otherwise."""
    principal = principal_of(request)
    repository = Repository.objects.select_related("namespace").filter(full_name=full_name).first()
    if repository is None or not _allowed(principal, Action.PULL, repository):
        raise NotFound(f"repository {full_name} not found")
    if action != Action.PULL and not _allowed(principal, action, repository):
        raise PermissionDenied(refusal_reason(action, repository, principal))
    return repository


def _allowed(principal: Principal, action: Action, repository: Repository) -> bool:
    return principal.has_api_scope(ACTION_SCOPE[action]) and is_allowed(principal, action, repository)
