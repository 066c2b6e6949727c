"""The one authorization authority: (principal, action, repository) -> allowed.

The token endpoint, Basic auth on /v2, catalog listings, the REST API's permission classes and the
admin all ask here. Decision order:

1. Registry and repository state: read-only registry, pushes disabled, READ_ONLY and MIRROR
   repositories and pull-through cache organizations refuse writes whoever asks.
2. An open registry (``registry.open``, loopback and CI only) allows everything else.
3. A bearer token decides by its grants alone (no database query).
4. Otherwise roles from the database: superusers;
   public repositories (pull, anonymous too when ``registry.anonymous_pull``); the owner of a
   personal namespace and organization admins (admin); direct and team permissions
   (read < write < admin); global read-only superusers add pull on everything to their own roles;
   members and robots of a pull-through cache organization pull every repository in it (also
   ones the cache has not created yet).
   Creating a repository by pushing needs the own namespace, or the admin
   or creator team role in the organization.
"""

from __future__ import annotations

import enum

from django.conf import settings
from django.db.models import Q

from accounts.models import Namespace, Robot
from accounts.principals import ANONYMOUS, Principal
from common.grammar import split_repository_name
from organizations.models import ROLE_RANK, Role, Team
from organizations.selectors import organization_role_of
from repositories.lookup_proxy import proxy_config_for_namespace_cached
from repositories.models import ProxyCacheConfig, Repository, RepositoryMirror, RepositoryPermission
from repositories.selectors_dashboard import registry_read_only_switch

__all__ = ["ANONYMOUS", "Action", "Principal", "is_allowed", "refusal_reason", "repository_role", "readable_repositories", "can_create_in_namespace"]


class Action(str, enum.Enum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    ADMIN = "*"
    CATALOG = "catalog"


WRITE_ACTIONS = frozenset({Action.PUSH, Action.DELETE, Action.ADMIN})
_REQUIRED_ROLE = {Action.PULL: Role.READ, Action.PUSH: Role.WRITE, Action.DELETE: Role.WRITE, Action.ADMIN: Role.ADMIN}


def _registry() -> dict:
    return settings.MOORAGE_REGISTRY


def state_refuses(action: Action, repository: Repository | None, principal: Principal, *, name: str = "") -> str | None:
    """Why the registry or repository state refuses ``action`` (None when it does not); ``name``
    names a repository that does not exist yet (its namespace may be a proxy cache)."""
    if action not in WRITE_ACTIONS:
        return None
    if _registry()["read_only"] or registry_read_only_switch():  # the config value, or the admin dashboard's switch
        return "the registry is in read-only mode"
    if action == Action.PUSH and _registry()["pushes_disabled"]:
        return "pushes are disabled on this registry"
    if repository is not None:
        if repository.state == Repository.State.READ_ONLY:
            return f"repository {repository.full_name} is read-only"
        if repository.state == Repository.State.MIRROR and not _is_mirror_robot(principal, repository):
            return f"repository {repository.full_name} is a mirror; only its mirror robot may push"
    proxy = _proxy_cache_of(repository, name)
    if proxy is not None:
        return f"organization {proxy.organization.name} is a pull-through cache of {proxy.upstream_registry}; pushes, deletes and tag changes are refused"
    return None


def _proxy_cache_of(repository: Repository | None, name: str) -> ProxyCacheConfig | None:
    """The proxy-cache configuration of the repository's (or ``name``'s) organization.

    Every push request asks; the usual "not a proxy cache" answer comes from the cache
    (``lookup_proxy``, forgotten whenever a configuration or namespace changes)."""
    full_name = repository.full_name if repository is not None else name
    if not full_name:
        return None
    return proxy_config_for_namespace_cached(namespace_name=split_repository_name(full_name)[0])


def _proxy_cache_puller(principal: Principal, repository: Repository | None, name: str) -> bool:
    """Members of a proxy-cache organization (any team) and its robots may pull every repository
    in it, including ones the cache has not created yet (as Quay)."""
    if principal.is_anonymous:
        return False
    proxy = _proxy_cache_of(repository, name)
    if proxy is None:
        return False
    if principal.is_superuser or principal.is_readonly_superuser:
        return True
    namespace_id = proxy.organization.namespace_id
    if principal.kind == "robot":
        if Robot.objects.filter(pk=principal.id, namespace_id=namespace_id).exists():
            return True
    return organization_role_of(principal, namespace_id=namespace_id) is not None


def _is_mirror_robot(principal: Principal, repository: Repository) -> bool:
    if principal.kind != "robot" or principal.id is None:
        return False
    return RepositoryMirror.objects.filter(repository=repository, robot_id=principal.id).exists()


def repository_role(principal: Principal, repository: Repository) -> str | None:
    """The strongest role ``principal`` holds on ``repository`` (None: none)."""
    if principal.is_anonymous:
        return None
    if principal.kind == "user" and principal.namespace_id == repository.namespace_id:
        return Role.ADMIN
    if organization_role_of(principal, namespace_id=repository.namespace_id) == Team.TeamRole.ADMIN:
        return Role.ADMIN
    if principal.kind == "user":
        grantee = Q(user_id=principal.id) | Q(team__members__user_id=principal.id)
    else:
        grantee = Q(robot_id=principal.id) | Q(team__members__robot_id=principal.id)
    roles = set(RepositoryPermission.objects.filter(grantee, repository=repository).values_list("role", flat=True))
    return max(roles, key=lambda role: ROLE_RANK[role]) if roles else None


def can_create_in_namespace(principal: Principal, namespace_name: str) -> bool:
    if principal.is_anonymous:
        return False
    namespace = Namespace.objects.filter(name=namespace_name).first()
    if namespace is None:
        return principal.is_superuser  # superusers may push into a new namespace (it becomes an organization)
    if principal.is_superuser:
        return True
    if principal.kind == "user" and principal.namespace_id == namespace.id:
        return True
    return organization_role_of(principal, namespace_id=namespace.id) in (Team.TeamRole.ADMIN, Team.TeamRole.CREATOR)


def _granted_by_token(principal: Principal, action: Action, full_name: str) -> bool:
    grants = principal.grants or frozenset()
    if action == Action.CATALOG:
        return ("registry:catalog", "*") in grants
    return (full_name, action.value) in grants or (full_name, "*") in grants


def is_allowed(principal: Principal, action: Action, repository: Repository | None = None, *, name: str = "") -> bool:
    """Whether ``principal`` may perform ``action`` on ``repository`` (or on ``name``, a repository
    that does not exist yet)."""
    if state_refuses(action, repository, principal, name=name):
        return False
    if _registry()["open"]:
        return True
    if principal.grants is not None:
        if action == Action.CATALOG:  # names no repository: canonicalising "" would raise NAME_INVALID
            return _granted_by_token(principal, action, "")
        full_name = repository.full_name if repository is not None else _canonical(name)
        return _granted_by_token(principal, action, full_name)
    if action == Action.CATALOG:
        return not principal.is_anonymous
    if repository is None:
        if action == Action.PULL:
            return bool(name) and _proxy_cache_puller(principal, None, name)
        return action == Action.PUSH and bool(name) and can_create_in_namespace(principal, split_repository_name(name)[0])
    if principal.is_superuser:
        return True
    if principal.is_readonly_superuser and action == Action.PULL:
        return True  # reads everything; writes only where their own roles allow (as in Quay)
    if action == Action.PULL and repository.visibility == Repository.Visibility.PUBLIC:
        if not principal.is_anonymous or _registry()["anonymous_pull"]:
            return True
    role = repository_role(principal, repository)
    if role is not None and ROLE_RANK[role] >= ROLE_RANK[_REQUIRED_ROLE[action]]:
        return True
    return action == Action.PULL and _proxy_cache_puller(principal, repository, name)


def refusal_reason(action: Action, repository: Repository | None, principal: Principal = ANONYMOUS) -> str:
    """The message a client sees when ``is_allowed`` said no."""
    return state_refuses(action, repository, principal) or "requested access to the resource is denied"


def readable_repositories(principal: Principal) -> Q | None:
    """A filter on Repository for what ``principal`` may read; None means everything.

    Written as ``IN (subquery)`` terms rather than joins: PostgreSQL evaluates each subquery once
    (a hashed SubPlan) and can walk the ``full_name`` index in order, stopping after a page, where
    the joined form had to join, de-duplicate (DISTINCT) and sort every repository first (30 ms at
    10k repositories). No row appears twice, so callers need no ``distinct()``."""
    if _registry()["open"] or principal.is_superuser or principal.is_readonly_superuser:
        return None
    public = Q(visibility=Repository.Visibility.PUBLIC)
    if principal.is_anonymous:
        return public if _registry()["anonymous_pull"] else Q(pk__in=[])
    member = {"members__user_id": principal.id} if principal.kind == "user" else {"members__robot_id": principal.id}
    direct = {"user_id": principal.id} if principal.kind == "user" else {"robot_id": principal.id}
    admin_namespaces = Team.objects.filter(role=Team.TeamRole.ADMIN, **member).values("organization__namespace_id")
    granted = RepositoryPermission.objects.filter(Q(**direct) | Q(team__in=Team.objects.filter(**member).values("pk"))).values("repository_id")
    readable = public | Q(namespace_id__in=admin_namespaces) | Q(pk__in=granted)
    if principal.kind == "user" and principal.namespace_id is not None:
        readable |= Q(namespace_id=principal.namespace_id)
    return readable


def _canonical(name: str) -> str:
    namespace, path = split_repository_name(name)
    return f"{namespace}/{path}"
