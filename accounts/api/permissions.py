"""DRF permission classes for user-level resources. Repository decisions go through
repositories.access; these only check who the caller is and the API token scopes."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.api.authentication import principal_of


class IsUser(BasePermission):
    """A signed-in user (not a robot, not anonymous) whose token scopes allow the method:
    ``user:read`` for reads, ``user:admin`` for writes."""

    message = "this resource needs a signed-in user"

    def has_permission(self, request, view) -> bool:
        principal = principal_of(request)
        if principal.kind != "user":
            return False
        return principal.has_api_scope("user:read" if request.method in SAFE_METHODS else "user:admin")


class IsSuperuser(BasePermission):
    """A superuser with the ``super:user`` scope (global read-only superusers may read)."""

    message = "superuser access required"

    def has_permission(self, request, view) -> bool:
        principal = principal_of(request)
        if not principal.has_api_scope("super:user"):
            return False
        if request.method in SAFE_METHODS:
            return principal.is_superuser or principal.is_readonly_superuser
        return principal.is_superuser
