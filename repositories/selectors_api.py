"""Reads behind the repository REST API: listings, search, tags of a repository, permissions and
entity autocomplete. Every listing is filtered by ``access.readable_repositories``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BooleanField, Case, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Lower

from accounts.models import Namespace, Robot, User
from accounts.principals import Principal
from organizations.models import Organization, Team, TeamMember
from repositories.access import readable_repositories
from repositories.models import ManifestBlob, Repository, RepositoryPermission, Star, Tag
from repositories.selectors import live_tags


def _readable(principal: Principal) -> QuerySet[Repository]:
    query = Repository.objects.all()
    readable = readable_repositories(principal)
    if readable is not None:
        # The filter joins permissions and teams; as a subquery it cannot duplicate rows.
        query = query.filter(pk__in=Repository.objects.filter(readable).values("pk"))
    return query


def _member_of(principal: Principal) -> Q:
    """Repositories the principal holds a role on (own namespace, organization admin, direct or
    team grant), as opposed to those it reads only because they are public (Quay's listing
    without ``public=true``). Always combined with ``readable_repositories``, never used alone."""
    if principal.is_anonymous:
        return Q(pk__in=[])
    if principal.kind == "user":
        member, grantee = Q(members__user_id=principal.id), Q(user_id=principal.id) | Q(team__members__user_id=principal.id)
        own = Q(namespace_id=principal.namespace_id) if principal.namespace_id else Q(pk__in=[])
    else:
        member, grantee = Q(members__robot_id=principal.id), Q(robot_id=principal.id) | Q(team__members__robot_id=principal.id)
        own = Q(pk__in=[])
    admin_of = Team.objects.filter(member, role=Team.TeamRole.ADMIN).values("organization__namespace_id")
    granted = RepositoryPermission.objects.filter(grantee).values("repository_id")
    return own | Q(namespace_id__in=admin_of) | Q(pk__in=granted)


def _with_star(query: QuerySet[Repository], principal: Principal) -> QuerySet[Repository]:
    if principal.kind != "user":
        return query.annotate(is_starred=Value(False, output_field=BooleanField()))
    return query.annotate(is_starred=Exists(Star.objects.filter(user_id=principal.id, repository=OuterRef("pk"))))


@dataclass(frozen=True)
class RepositoryPage:
    repositories: list[Repository]  # namespace loaded, annotated with ``is_starred``
    next_after: str | None  # the full name to continue after; None on the last page


def repository_list(
    *, principal: Principal, namespace: str | None = None, public: bool = False, starred: bool = False,
    after: str | None = None, limit: int = 100,
) -> RepositoryPage:
    """One page of the repositories ``principal`` may read, by full name.

    ``public=False`` leaves out repositories the principal reads only because they are public
    (superusers and an open registry see everything). ``starred`` keeps the caller's stars.
    """
    query = _readable(principal)
    if not public and readable_repositories(principal) is not None:
        query = query.filter(_member_of(principal))
    if namespace:
        query = query.filter(namespace__name=namespace)
    if starred:
        query = query.filter(pk__in=Star.objects.filter(user_id=principal.user_id).values("repository_id"))
    if after:
        query = query.filter(full_name__gt=after)
    fetched = list(_with_star(query.select_related("namespace"), principal).order_by("full_name")[: limit + 1])
    page = fetched[:limit]
    return RepositoryPage(page, page[-1].full_name if len(fetched) > limit else None)


def starred_repository_list(*, principal: Principal, after: str | None = None, limit: int = 100) -> RepositoryPage:
    """The caller's starred repositories that it may still read, by full name."""
    return repository_list(principal=principal, public=True, starred=True, after=after, limit=limit)


def repository_is_starred(*, principal: Principal, repository: Repository) -> bool:
    return principal.kind == "user" and Star.objects.filter(user_id=principal.id, repository=repository).exists()


@dataclass(frozen=True)
class TagView:
    tag: Tag
    size: int | None  # bytes of the manifest's config and layers; None for an index


def repository_live_tags(*, repository: Repository, limit: int = 500) -> list[TagView]:
    """The live tags (newest first, at most ``limit``) with the size of what they point at."""
    tags = list(
        Tag.objects.filter(live_tags(), repository=repository).select_related("manifest").only(
            "name", "lifetime_start", "expires_at", "manifest__digest"
        ).order_by("-lifetime_start", "name")[:limit]
    )
    sizes = dict(
        ManifestBlob.objects.filter(manifest_id__in={tag.manifest_id for tag in tags})
        .values("manifest_id").annotate(total=Sum("blob__size")).values_list("manifest_id", "total")
    )
    return [TagView(tag, sizes.get(tag.manifest_id)) for tag in tags]


@dataclass(frozen=True)
class RepositorySearchPage:
    repositories: list[Repository]  # namespace loaded, annotated with ``star_count``
    has_additional: bool


def repository_search(*, principal: Principal, query: str, offset: int, limit: int) -> RepositorySearchPage:
    """Readable repositories whose name or description contains ``query`` (``ns/name`` searches a
    namespace); names that match come first, then by full name."""
    found = _readable(principal)
    text = query.strip().lower()
    if "/" in text:
        namespace, _, name = text.partition("/")
        found = found.filter(namespace__name__istartswith=namespace, name__icontains=name)
    elif text:
        found = found.filter(Q(name__icontains=text) | Q(description__icontains=text))
    found = found.select_related("namespace").annotate(
        star_count=Count("stars", distinct=True),
        name_match=Case(When(name__icontains=text.rpartition("/")[2], then=Value(True)), default=Value(False), output_field=BooleanField()),
    )
    fetched = list(found.order_by("-name_match", Lower("name"), "full_name")[offset : offset + limit + 1])
    return RepositorySearchPage(fetched[:limit], len(fetched) > limit)


# --- permissions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserPermissionView:
    permission: RepositoryPermission
    name: str
    is_robot: bool
    email: str
    is_org_member: bool | None  # None: the repository is not in an organization


def _organization_member_ids(namespace_id: int, user_ids: set[int]) -> set[int] | None:
    if not Organization.objects.filter(namespace_id=namespace_id).exists():
        return None
    return set(
        TeamMember.objects.filter(team__organization__namespace_id=namespace_id, user_id__in=user_ids).values_list("user_id", flat=True)
    )


def _user_permission_views(permissions: list[RepositoryPermission], namespace_id: int) -> list[UserPermissionView]:
    members = _organization_member_ids(namespace_id, {p.user_id for p in permissions if p.user_id})
    views = []
    for permission in permissions:
        if permission.robot is not None:
            views.append(UserPermissionView(permission, permission.robot.username, True, "", None if members is None else True))
        else:
            assert permission.user is not None
            is_member = None if members is None else permission.user_id in members
            views.append(UserPermissionView(permission, permission.user.username, False, permission.user.email, is_member))
    return views


def repository_user_permissions(*, repository: Repository) -> list[UserPermissionView]:
    """Direct grants to users and robots, by name."""
    permissions = list(
        RepositoryPermission.objects.filter(repository=repository, team__isnull=True).select_related("user", "robot__namespace")
    )
    return sorted(_user_permission_views(permissions, repository.namespace_id), key=lambda view: view.name)


def repository_user_permission(*, repository: Repository, user: User | None = None, robot: Robot | None = None) -> UserPermissionView | None:
    permission = (
        RepositoryPermission.objects.filter(repository=repository, user=user, robot=robot, team__isnull=True)
        .select_related("user", "robot__namespace").first()
    )
    return _user_permission_views([permission], repository.namespace_id)[0] if permission is not None else None


def repository_team_permissions(*, repository: Repository) -> list[RepositoryPermission]:
    return list(RepositoryPermission.objects.filter(repository=repository, team__isnull=False).select_related("team").order_by("team__name"))


def repository_team_permission(*, repository: Repository, team: Team) -> RepositoryPermission | None:
    return RepositoryPermission.objects.filter(repository=repository, team=team).select_related("team").first()


def repository_roles_of(*, repository: Repository, user: User | None = None, robot: Robot | None = None) -> list[str]:
    """The roles granted to the user or robot on ``repository``, directly and through its teams
    (strongest first, each once)."""
    if user is not None:
        grantee = Q(user=user) | Q(team__members__user=user)
    else:
        grantee = Q(robot=robot) | Q(team__members__robot=robot)
    roles = set(RepositoryPermission.objects.filter(grantee, repository=repository).values_list("role", flat=True))
    return [role for role in ("admin", "write", "read") if role in roles]


def user_or_robot_by_name(name: str) -> User | Robot | None:
    """``alice`` is a user, ``acme+deployer`` a robot; None when there is none of that name."""
    if "+" in name:
        namespace, _, shortname = name.partition("+")
        return Robot.objects.select_related("namespace").filter(namespace__name=namespace, shortname=shortname).first()
    return User.objects.filter(username=name).first()


def team_in_namespace(*, namespace_id: int, name: str) -> Team | None:
    return Team.objects.select_related("organization__namespace").filter(organization__namespace_id=namespace_id, name=name).first()


# --- entity autocomplete ----------------------------------------------------------------------


@dataclass(frozen=True)
class EntityMatches:
    teams: list[Team]
    users: list[tuple[User | Robot, bool | None]]  # (entity, is_org_member; None outside an organization)
    organization: Organization | None  # the namespace itself, when asked for and administered


def entity_search(
    *, principal: Principal, prefix: str, namespace_name: str = "", include_teams: bool = False, include_orgs: bool = False,
    limit: int = 10,
) -> EntityMatches:
    """Users whose name starts with ``prefix``; the robots (and, with ``include_teams``, teams) of
    ``namespace_name`` when the caller belongs to it; the organization itself with ``include_orgs``
    when the caller administers it (Quay's ``getMatchingEntities``)."""
    prefix = prefix.replace(" ", "").lower()
    namespace = Namespace.objects.filter(name=namespace_name).select_related("organization").first() if namespace_name else None
    organization = getattr(namespace, "organization", None) if namespace is not None else None
    robot_namespace: Namespace | None = None
    teams: list[Team] = []
    matched_org: Organization | None = None
    if organization is not None:
        roles = set(
            Team.objects.filter(organization=organization)
            .filter(Q(members__user_id=principal.user_id) if principal.kind == "user" else Q(members__robot_id=principal.robot_id))
            .values_list("role", flat=True)
        ) if not principal.is_anonymous else set()
        if roles or principal.is_superuser:
            robot_namespace = namespace
            if include_teams:
                teams = list(Team.objects.filter(organization=organization, name__startswith=prefix).order_by("name")[:limit])
            if include_orgs and (Team.TeamRole.ADMIN in roles or principal.is_superuser) and namespace_name.startswith(prefix):
                matched_org = organization
    elif namespace is not None and principal.kind == "user" and principal.namespace_id == namespace.id:
        robot_namespace = namespace

    users: list[User | Robot] = list(User.objects.filter(username__startswith=prefix, is_active=True).order_by("username")[:limit])
    if robot_namespace is not None:
        # "acme+dep" or just "dep" finds the robot acme+deployer
        short = prefix.split("+", 1)[1] if prefix.startswith(f"{robot_namespace.name}+") else prefix
        robots = Robot.objects.filter(namespace=robot_namespace, shortname__startswith=short).select_related("namespace")
        users += list(robots.order_by("shortname")[:limit])
    users = users[:limit]
    member_ids: set[int] = set()
    if organization is not None:
        member_ids = set(
            TeamMember.objects.filter(team__organization=organization, user_id__in=[u.pk for u in users if isinstance(u, User)])
            .values_list("user_id", flat=True)
        )

    def is_member(entity: User | Robot) -> bool | None:
        if organization is None:
            return None
        return isinstance(entity, Robot) or entity.pk in member_ids

    return EntityMatches(teams, [(entity, is_member(entity)) for entity in users], matched_org)
