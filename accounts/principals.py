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


ANONYMOUS = Principal()
