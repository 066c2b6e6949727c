"""Repository writes: creation (on push or on request) with default permissions, visibility, state."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Namespace, Robot, User
from accounts.principals import Principal
from accounts.services import NameTakenError, namespace_get_or_create
from common.errors import InvalidRequestError, NameUnknownError
from common.grammar import split_repository_name
from organizations.models import ROLE_RANK, Organization, Prototype, Role, Team
from organizations.services import organization_create
from repositories.models import Repository, RepositoryPermission


def canonical_name(name: str) -> str:
    """``busybox`` -> ``library/busybox``; raises NAME_INVALID for a bad name."""
    namespace, path = split_repository_name(name)
    return f"{namespace}/{path}"


def repository_get_or_create(*, name: str, creator: Principal | None = None) -> Repository:
    """The repository called ``name``, created (private) when missing. Safe when two pushes race.

    A missing namespace is created only for an open registry (as a bare namespace) or a
    superuser (as an organization they own); otherwise NAME_UNKNOWN.
    """
    namespace_name, path = split_repository_name(name)
    full_name = f"{namespace_name}/{path}"
    repository = Repository.objects.select_related("namespace").filter(full_name=full_name).first()
    if repository is not None:
        return repository
    namespace = Namespace.objects.filter(name=namespace_name).first()
    if namespace is None:
        if creator is not None and creator.is_superuser:
            user = User.objects.filter(pk=creator.user_id).first()
            try:
                namespace = organization_create(name=namespace_name, creator=user).namespace
            except NameTakenError:  # raced with another creator: use theirs
                namespace = Namespace.objects.get(name=namespace_name)
        elif creator is None or creator.is_anonymous or creator.grants is not None:
            namespace = namespace_get_or_create(name=namespace_name)
        else:
            raise NameUnknownError(f"namespace {namespace_name} does not exist", detail={"namespace": namespace_name})
    try:
        with transaction.atomic():
            repository = Repository.objects.create(namespace=namespace, name=path, full_name=full_name)
            _grant_creator_and_defaults(repository, creator)
            return repository
    except IntegrityError:
        return Repository.objects.select_related("namespace").get(full_name=full_name)


def _grant(repository: Repository, role: str, *, user: User | None = None, robot: Robot | None = None, team: Team | None = None) -> None:
    existing = RepositoryPermission.objects.filter(repository=repository, user=user, robot=robot, team=team).first()
    if existing is None:
        RepositoryPermission.objects.create(repository=repository, user=user, robot=robot, team=team, role=role)
    elif ROLE_RANK[role] > ROLE_RANK[existing.role]:
        existing.role = role
        existing.save(update_fields=["role"])


def _grant_creator_and_defaults(repository: Repository, creator: Principal | None) -> None:
    """The creator gets admin (unless it owns the namespace anyway); then the organization's
    default permissions apply."""
    if creator is None or creator.is_anonymous:
        return
    if creator.kind == "user" and creator.namespace_id != repository.namespace_id:
        _grant(repository, Role.ADMIN, user=User.objects.get(pk=creator.id))
    elif creator.kind == "robot":
        _grant(repository, Role.ADMIN, robot=Robot.objects.get(pk=creator.id))
    organization = Organization.objects.filter(namespace_id=repository.namespace_id).first()
    if organization is None:
        return
    prototypes = Prototype.objects.filter(organization=organization).select_related("delegate_user", "delegate_robot", "delegate_team")
    for prototype in prototypes:
        if prototype.activating_user_id is not None and prototype.activating_user_id != creator.user_id:
            continue
        _grant(repository, prototype.role, user=prototype.delegate_user, robot=prototype.delegate_robot, team=prototype.delegate_team)


def repository_touch(*, repository: Repository) -> None:
    Repository.objects.filter(pk=repository.pk).update(last_modified=timezone.now())


def repository_set_visibility(*, repository: Repository, visibility: str) -> Repository:
    if visibility not in Repository.Visibility.values:
        raise InvalidRequestError(f"visibility must be one of {', '.join(Repository.Visibility.values)}")
    repository.visibility = visibility
    repository.save(update_fields=["visibility", "last_modified"])
    return repository


def repository_set_state(*, repository: Repository, state: str) -> Repository:
    if state not in Repository.State.values:
        raise InvalidRequestError(f"state must be one of {', '.join(Repository.State.values)}")
    repository.state = state
    repository.save(update_fields=["state", "last_modified"])
    return repository


def permission_set(*, repository: Repository, role: str, user: User | None = None, robot: Robot | None = None, team: Team | None = None) -> RepositoryPermission:
    """Give exactly one user, robot or team ``role`` on ``repository`` (replacing their old role)."""
    if role not in Role.values:
        raise InvalidRequestError(f"role must be one of {', '.join(Role.values)}")
    if sum(x is not None for x in (user, robot, team)) != 1:
        raise InvalidRequestError("a permission names exactly one user, robot or team")
    with transaction.atomic():
        permission, _ = RepositoryPermission.objects.update_or_create(
            repository=repository, user=user, robot=robot, team=team, defaults={"role": role}
        )
    return permission


def permission_remove(*, repository: Repository, user: User | None = None, robot: Robot | None = None, team: Team | None = None) -> int:
    return RepositoryPermission.objects.filter(repository=repository, user=user, robot=robot, team=team).delete()[0]
