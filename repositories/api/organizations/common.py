"""What every organization view shares: who is asking and what they may do (``OrgCaller``,
``org_caller``, ``require_org_admin``), member lookup, the audit helper, and the bodies shared with
the robot views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.request import Request

from accounts.api.authentication import principal_of
from accounts.models import Robot, User
from accounts.principals import Principal
from organizations.models import Organization, Team
from organizations.selectors import organization_find, organization_role_of
from repositories.models import RepositoryPermission
from repositories.services.audit import RequestInfo, audit_log

#: the response of views that answer 204 with no body
NO_CONTENT = {204: OpenApiResponse(description="done; no body")}


# --- who is asking --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgCaller:
    """The caller and the organization named in the path, with the caller's strongest team role."""

    principal: Principal
    organization: Organization
    role: str | None

    @property
    def is_admin(self) -> bool:
        """An organization administrator: a user (robots never administer) in an admin team."""
        return self.principal.kind == "user" and self.role == Team.TeamRole.ADMIN

    @property
    def is_member(self) -> bool:
        return self.role is not None

    @property
    def sees_everything(self) -> bool:
        """Admins and (read-only) superusers read every detail of the organization."""
        return self.is_admin or self.principal.is_superuser or self.principal.is_readonly_superuser


def org_caller(request: Request, orgname: str) -> OrgCaller:
    """The organization ``orgname`` (404 when there is none) and who is asking."""
    organization = organization_find(name=orgname)
    if organization is None:
        raise NotFound(f"organization {orgname} not found")
    principal = principal_of(request)
    return OrgCaller(principal, organization, organization_role_of(principal, namespace_id=organization.namespace_id))


def require_org_admin(caller: OrgCaller, *, write: bool) -> None:
    """Organization admin or superuser (a global read-only superuser when ``write`` is False),
    with the ``org:admin`` API scope; 401 for anonymous callers, 403 otherwise."""
    principal = caller.principal
    if principal.is_anonymous:
        raise NotAuthenticated()
    if not principal.has_api_scope("org:admin"):
        raise PermissionDenied("this API token lacks the org:admin scope")
    if caller.is_admin or principal.is_superuser or (not write and principal.is_readonly_superuser):
        return
    raise PermissionDenied("organization administrator access required")


def request_info(request: Any) -> RequestInfo:
    return RequestInfo.of(request)


def audit(request: Request, kind: str, namespace_name: str, **metadata: Any) -> None:
    """One audit-log entry for a change made through the API (never pass a secret here)."""
    audit_log(kind=kind, principal=principal_of(request), namespace_name=namespace_name, request=request_info(request), metadata=metadata)


def member_lookup(name: str) -> User | Robot | None:
    """A user, or a robot when the name has the ``namespace+short`` form."""
    if "+" in name:
        namespace_name, _, shortname = name.partition("+")
        return Robot.objects.select_related("namespace").filter(namespace__name=namespace_name, shortname=shortname).first()
    return User.objects.filter(username=name).first()


# --- bodies shared with the robot views -------------------------------------------------------


def permission_body(permission: RepositoryPermission) -> dict[str, Any]:
    repository = permission.repository
    return {"repository": {"name": repository.name, "is_public": repository.visibility == repository.Visibility.PUBLIC}, "role": permission.role}
