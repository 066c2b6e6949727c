"""Repository writes: creation (on push or on request) with default permissions, visibility, state,
description, deletion, permissions and stars. The ``*_change``/``repository_create``/``repository_delete``
functions are the REST API's: each owns its transaction and writes its audit-log entry."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Namespace, Robot, User
from accounts.principals import Principal
from accounts.services import NameTakenError, namespace_get_or_create
from common.errors import ConflictError, InvalidRequestError, NameUnknownError, NotFoundError
from common.grammar import split_repository_name, validate_repository_name
from organizations.models import ROLE_RANK, Organization, Prototype, Role, Team
from organizations.services import organization_create
from repositories import signals
from repositories.lookup_invalidation import repository_lookups_invalidate
from repositories.models import Repository, RepositoryPermission, Star
from repositories.services.audit import RequestInfo, audit_log


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
    default permissions apply. ``creator=None`` is an operator (``manage.py set_repository
    --create``): nobody gets admin, only the rules without an activating user apply."""
    if creator is not None and creator.is_anonymous:
        return
    if creator is not None and creator.kind == "user" and creator.namespace_id != repository.namespace_id:
        _grant(repository, Role.ADMIN, user=User.objects.get(pk=creator.id))
    elif creator is not None and creator.kind == "robot":
        _grant(repository, Role.ADMIN, robot=Robot.objects.get(pk=creator.id))
    organization = Organization.objects.filter(namespace_id=repository.namespace_id).first()
    if organization is None:
        return
    prototypes = Prototype.objects.filter(organization=organization).select_related("delegate_user", "delegate_robot", "delegate_team")
    # As in Quay, a rule for this creator overrides the general rules for the same delegate
    # (and may grant less); among rules of one kind the strongest role wins.
    chosen: dict[tuple[int | None, int | None, int | None], Prototype] = {}
    for prototype in prototypes:
        if prototype.activating_user_id is not None and (creator is None or prototype.activating_user_id != creator.user_id):
            continue
        delegate = (prototype.delegate_user_id, prototype.delegate_robot_id, prototype.delegate_team_id)
        current = chosen.get(delegate)
        if current is None or _precedence(prototype) > _precedence(current):
            chosen[delegate] = prototype
    for prototype in chosen.values():
        _grant(repository, prototype.role, user=prototype.delegate_user, robot=prototype.delegate_robot, team=prototype.delegate_team)


def _precedence(prototype: Prototype) -> tuple[bool, int]:
    return prototype.activating_user_id is not None, ROLE_RANK[prototype.role]


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


def permission_validate(*, repository: Repository, role: str, user: User | None = None, robot: Robot | None = None, team: Team | None = None) -> None:
    """The checks of ``permission_set``, for forms that report errors before saving."""
    if role not in Role.values:
        raise InvalidRequestError(f"role must be one of {', '.join(Role.values)}")
    if sum(x is not None for x in (user, robot, team)) != 1:
        raise InvalidRequestError("a permission names exactly one user, robot or team")
    if user is not None and user.namespace_id == repository.namespace_id:
        raise InvalidRequestError("the namespace owner is always admin of its repositories", detail={"user": user.username})
    if robot is not None and robot.namespace_id != repository.namespace_id:
        raise InvalidRequestError(
            f"robot {robot.username} belongs to another namespace; robots get permissions only on their own namespace's repositories",
            detail={"robot": robot.username},
        )
    if team is not None and team.organization.namespace_id != repository.namespace_id:
        raise InvalidRequestError(
            f"team {team} belongs to another organization; teams get permissions only on their organization's repositories",
            detail={"team": str(team)},
        )


def permission_set(*, repository: Repository, role: str, user: User | None = None, robot: Robot | None = None, team: Team | None = None) -> RepositoryPermission:
    """Give exactly one user, robot or team ``role`` on ``repository`` (replacing their old role).

    As in Quay: the namespace's own user is always admin and gets no grant; robots and teams
    only get permissions on repositories of their own namespace.

    Raises:
        InvalidRequestError: bad role, not exactly one grantee, or a grantee outside the namespace.
    """
    permission_validate(repository=repository, role=role, user=user, robot=robot, team=team)
    with transaction.atomic():
        permission, _ = RepositoryPermission.objects.update_or_create(
            repository=repository, user=user, robot=robot, team=team, defaults={"role": role}
        )
    return permission


def permission_remove(*, repository: Repository, user: User | None = None, robot: Robot | None = None, team: Team | None = None) -> int:
    return RepositoryPermission.objects.filter(repository=repository, user=user, robot=robot, team=team).delete()[0]


# --- the REST API's writes (audited) ---------------------------------------------------------


def repository_create(
    *, namespace_name: str, name: str, creator: Principal, visibility: str = Repository.Visibility.PRIVATE, description: str = "",
    request: RequestInfo | None = None,
) -> Repository:
    """A new repository ``namespace_name/name`` (``POST /api/v1/repository``); the creator gets admin
    and the organization's default permissions apply, as for a push.

    Raises:
        NameInvalidError: a name outside the repository grammar.
        InvalidRequestError: an unknown visibility.
        NameUnknownError: the namespace does not exist (the API never creates namespaces).
        ConflictError: the repository exists.
    """
    full_name = f"{namespace_name}/{name}"
    validate_repository_name(full_name)
    if visibility not in Repository.Visibility.values:
        raise InvalidRequestError(f"visibility must be one of {', '.join(Repository.Visibility.values)}", detail={"visibility": visibility})
    namespace = Namespace.objects.filter(name=namespace_name).first()
    if namespace is None:
        raise NameUnknownError(f"namespace {namespace_name} does not exist", detail={"namespace": namespace_name})
    if Repository.objects.filter(full_name=full_name).exists():
        raise ConflictError("Repository already exists", detail={"repository": full_name})
    try:
        with transaction.atomic():
            repository = Repository.objects.create(
                namespace=namespace, name=name, full_name=full_name, visibility=visibility, description=description
            )
            _grant_creator_and_defaults(repository, creator)
            audit_log(
                kind="create_repo", principal=creator, repository=repository, request=request,
                metadata={"repo": name, "namespace": namespace_name, "visibility": visibility},
            )
    except IntegrityError:  # created at the same moment by another request or a push
        raise ConflictError("Repository already exists", detail={"repository": full_name}) from None
    return repository


def repository_change_description(*, repository: Repository, description: str, actor: Principal, request: RequestInfo | None = None) -> Repository:
    with transaction.atomic():
        repository.description = description
        repository.save(update_fields=["description", "last_modified"])
        audit_log(
            kind="set_repo_description", principal=actor, repository=repository, request=request,
            metadata={"repo": repository.name, "namespace": repository.namespace.name, "description": description[:1000]},
        )
    return repository


def repository_change_visibility(*, repository: Repository, visibility: str, actor: Principal, request: RequestInfo | None = None) -> Repository:
    """``repository_set_visibility`` with its audit entry. INVALID_REQUEST for an unknown visibility."""
    with transaction.atomic():
        repository_set_visibility(repository=repository, visibility=visibility)
        audit_log(
            kind="change_repo_visibility", principal=actor, repository=repository, request=request,
            metadata={"repo": repository.name, "namespace": repository.namespace.name, "visibility": visibility},
        )
    return repository


def repository_change_state(*, repository: Repository, state: str, actor: Principal, request: RequestInfo | None = None) -> Repository:
    """``repository_set_state`` with its audit entry. INVALID_REQUEST for an unknown state."""
    with transaction.atomic():
        repository_set_state(repository=repository, state=state)
        audit_log(
            kind="change_repo_state", principal=actor, repository=repository, request=request,
            metadata={"repo": repository.name, "namespace": repository.namespace.name, "state_changed": state},
        )
    return repository


#: Deleted repositories wait for their purge in this namespace (``~`` is not valid in names, so
#: no user or organization can ever claim it): their own namespace can go at once.
GRAVEYARD_NAMESPACE = "~deleted"


def _hide(repository: Repository) -> None:
    """Move a locked repository out of sight: into the graveyard namespace under a name of its
    own id, marked deleted. Its old name is free at once; the purge is queued after commit."""
    graveyard, _ = Namespace.objects.get_or_create(name=GRAVEYARD_NAMESPACE, defaults={"kind": Namespace.Kind.ORGANIZATION})
    tombstone = f"{repository.pk}"
    Repository.all_objects.filter(pk=repository.pk).update(
        deleted_at=timezone.now(), namespace=graveyard, name=tombstone, full_name=f"{GRAVEYARD_NAMESPACE}/{tombstone}"
    )
    repository_lookups_invalidate(repository_id=repository.pk)  # cached /v2 lookups of the old name
    transaction.on_commit(
        lambda: signals.repository_deleted.send(sender=Repository, repository_id=repository.pk, namespace_id=repository.namespace_id)
    )


def repository_delete(*, repository: Repository, actor: Principal, request: RequestInfo | None = None) -> None:
    """Delete a repository: it disappears at once (its name is free again and every lookup misses
    it) and its content is purged in the background (``services.gc.repository_purge``).

    The repository row is locked first, so a concurrent delete waits and then finds nothing to
    do; the audit entry keeps the repository's name.
    """
    with transaction.atomic():
        locked = Repository.objects.select_for_update().select_related("namespace").filter(pk=repository.pk).first()
        if locked is None:
            return
        audit_log(
            kind="delete_repo", principal=actor, repository=locked, request=request,
            metadata={"repo": locked.name, "namespace": locked.namespace.name},
        )
        _hide(locked)


def namespace_repositories_delete(*, namespace: Namespace, actor: Principal | None, request: RequestInfo | None = None) -> int:
    """Delete every repository of ``namespace`` as ``repository_delete`` does (hidden now, purged
    in the background), so the namespace itself can be deleted at once. Returns how many."""
    count = 0
    with transaction.atomic():
        for repository in Repository.objects.select_for_update().select_related("namespace").filter(namespace=namespace).order_by("pk"):
            audit_log(
                kind="delete_repo", principal=actor, repository=repository, request=request,
                metadata={"repo": repository.name, "namespace": namespace.name, "with_namespace": True},
            )
            _hide(repository)
            count += 1
    return count


def _grantee_metadata(user: User | None, robot: Robot | None, team: Team | None) -> dict[str, str]:
    if team is not None:
        return {"team": team.name}
    return {"username": user.username if user is not None else robot.username if robot is not None else ""}


def repository_permission_change(
    *, repository: Repository, role: str, actor: Principal, user: User | None = None, robot: Robot | None = None, team: Team | None = None,
    request: RequestInfo | None = None,
) -> RepositoryPermission:
    """``permission_set`` (same checks, same errors) with its audit entry."""
    with transaction.atomic():
        permission = permission_set(repository=repository, role=role, user=user, robot=robot, team=team)
        audit_log(
            kind="change_repo_permission", principal=actor, repository=repository, request=request,
            metadata={**_grantee_metadata(user, robot, team), "repo": repository.name, "namespace": repository.namespace.name, "role": role},
        )
    return permission


def repository_permission_delete(
    *, repository: Repository, actor: Principal, user: User | None = None, robot: Robot | None = None, team: Team | None = None,
    request: RequestInfo | None = None,
) -> None:
    """Revoke the direct grant of one user, robot or team.

    Raises:
        NotFoundError: the grantee holds no direct permission on the repository.
    """
    with transaction.atomic():
        if not permission_remove(repository=repository, user=user, robot=robot, team=team):
            raise NotFoundError("no such permission on this repository", detail={**_grantee_metadata(user, robot, team), "repository": repository.full_name})
        audit_log(
            kind="delete_repo_permission", principal=actor, repository=repository, request=request,
            metadata={**_grantee_metadata(user, robot, team), "repo": repository.name, "namespace": repository.namespace.name},
        )


def star_add(*, user: User, repository: Repository) -> Star:
    """Star ``repository`` for ``user`` (no-op when already starred; safe under races)."""
    try:
        with transaction.atomic():
            return Star.objects.create(user=user, repository=repository)
    except IntegrityError:
        return Star.objects.get(user=user, repository=repository)


def star_remove(*, user: User, full_name: str) -> bool:
    """Remove the user's star from the repository called ``full_name``; whether there was one."""
    return Star.objects.filter(user=user, repository__full_name=full_name).delete()[0] > 0
