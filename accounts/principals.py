"""Who is acting: an anonymous caller, a user or a robot, and how they proved it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    kind: str = "anonymous"  # "anonymous" | "user" | "robot"
    id: int | None = None
    name: str = ""
    is_superuser: bool = False
    is_readonly_superuser: bool = False
    #: how the caller authenticated: "password", "app_token", "robot_token", "bearer", "session"
    via: str = ""
    #: A bearer token's grants as {(repository full name, action)}: the token decides, not the
    #: database. None for credentials checked against the database.
    grants: frozenset[tuple[str, str]] | None = None
    #: the namespace a user owns (their personal namespace)
    namespace_id: int | None = None
    #: REST API token scopes (Quay's ``repo:read`` ... ``super:user``) that cap what the caller may
    #: do on top of its permissions; None means no cap (session, password, app or robot token).
    api_scopes: frozenset[str] | None = None

    def has_api_scope(self, scope: str) -> bool:
        """Whether the API token scopes allow ``scope``; stronger scopes imply weaker ones."""
        if self.api_scopes is None:
            return True
        return bool(API_SCOPE_IMPLIES.get(scope, {scope}) & self.api_scopes)

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def user_id(self) -> int | None:
        return self.id if self.kind == "user" else None

    @property
    def robot_id(self) -> int | None:
        return self.id if self.kind == "robot" else None

    @property
    def display_name(self) -> str:
        return self.name or "(anonymous)"


#: scope -> the scopes that grant it (a scope is granted by itself or a stronger one)
API_SCOPE_IMPLIES: dict[str, set[str]] = {
    "repo:read": {"repo:read", "repo:write", "repo:admin", "super:user"},
    "repo:write": {"repo:write", "repo:admin", "super:user"},
    "repo:admin": {"repo:admin", "super:user"},
    "repo:create": {"repo:create", "super:user"},
    "user:read": {"user:read", "user:admin", "super:user"},
    "user:admin": {"user:admin", "super:user"},
    "org:admin": {"org:admin", "super:user"},
    "super:user": {"super:user"},
}
API_SCOPES = tuple(API_SCOPE_IMPLIES)

ANONYMOUS = Principal()
