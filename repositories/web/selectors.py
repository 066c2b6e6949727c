"""Reads behind the web UI. Every repository read goes through ``access`` (the one authority):
a repository the viewer may not read is reported as absent, exactly as the REST API's 404."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Lower

from accounts.models import AppToken, Robot, User
from accounts.principals import ANONYMOUS, Principal
from accounts.services import principal_for_user
from common.errors import RegistryError
from organizations.models import Organization, Prototype, Team, TeamMember
from organizations.selectors import organization_find, organization_role_of, prototypes_of, team_members, team_names_of, teams_with_counts
from repositories.access import Action, is_allowed
from repositories.media_types import INDEX_TYPES, ParsedManifest, parse_manifest
from repositories.models import Label, Manifest, Repository, Star, Tag
from repositories.selectors import live_tags, manifest_find, referrer_manifests
# the REST API's listing filter (``access.readable_repositories`` as a subquery): one definition of "visible"
from repositories.selectors_api import TagView, _readable, repository_is_starred, repository_live_tags
from repositories.selectors_tags import LayerInfo, TagHistoryPage, manifest_labels, manifest_layers, tag_history_page
from repositories.selectors_usage import Usage, namespace_usage, repository_usage

#: what the manifest page says until vulnerability scanning exists
VULNERABILITY_PLACEHOLDER = "not scanned (scanning arrives with its issue)"


def principal_of_request(request: Any) -> Principal:
    """The signed-in user as a principal (a browser session), or the anonymous caller."""
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_authenticated and user.is_active:
        return principal_for_user(user, "session")
    return ANONYMOUS


def readable_repository(*, principal: Principal, full_name: str) -> Repository | None:
    """The repository ``full_name`` when ``principal`` may pull from it; None otherwise (absent and
    unreadable look the same, so the UI never reveals a private repository)."""
    repository = Repository.objects.select_related("namespace").filter(full_name=full_name).first()
    if repository is None or not is_allowed(principal, Action.PULL, repository):
        return None
    return repository


# --- explore ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExploreFilters:
    query: str = ""
    namespace: str = ""
    public_only: bool = False
    starred: bool = False


def explore_page(*, principal: Principal, filters: ExploreFilters, page: int | str = 1, per_page: int = 25) -> Page:
    """One page of the repositories ``principal`` may read that match ``filters``, by full name;
    each annotated with ``star_count`` and ``is_starred``."""
    query = _readable(principal)
    text = filters.query.strip()
    if "/" in text:
        namespace, _, name = text.partition("/")
        query = query.filter(namespace__name__istartswith=namespace, name__icontains=name)
    elif text:
        query = query.filter(Q(name__icontains=text) | Q(description__icontains=text) | Q(namespace__name__icontains=text))
    if filters.namespace:
        query = query.filter(namespace__name=filters.namespace)
    if filters.public_only:
        query = query.filter(visibility=Repository.Visibility.PUBLIC)
    if filters.starred:
        mine = Star.objects.filter(user_id=principal.user_id).values("repository_id")
        query = query.filter(pk__in=mine) if principal.kind == "user" else query.none()
    if principal.kind == "user":
        starred = Exists(Star.objects.filter(user_id=principal.id, repository=OuterRef("pk")))
    else:
        starred = Value(False, output_field=BooleanField())
    query = query.select_related("namespace").annotate(star_count=Count("stars", distinct=True), is_starred=starred)
    return Paginator(query.order_by(Lower("full_name"), "full_name"), per_page).get_page(page)


def namespaces_for_filter(*, principal: Principal, limit: int = 200) -> list[str]:
    """Names of the namespaces that hold a repository the principal may read (the filter's choices)."""
    names = _readable(principal).values_list("namespace__name", flat=True).distinct().order_by("namespace__name")
    return list(names[:limit])


# --- repository page --------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryOverview:
    repository: Repository
    tags: list[TagView]
    history: TagHistoryPage
    size_bytes: int
    star_count: int
    is_starred: bool
    is_organization: bool


def repository_overview(*, principal: Principal, repository: Repository, history_page: int = 1) -> RepositoryOverview:
    return RepositoryOverview(
        repository=repository,
        tags=repository_live_tags(repository=repository, limit=200),
        history=tag_history_page(repository=repository, page=history_page, limit=25),
        size_bytes=repository_usage(repository_id=repository.pk),
        star_count=Star.objects.filter(repository=repository).count(),
        is_starred=repository_is_starred(principal=principal, repository=repository),
        is_organization=is_organization_namespace(repository.namespace_id),
    )


def is_organization_namespace(namespace_id: int) -> bool:
    return Organization.objects.filter(namespace_id=namespace_id).exists()


# --- manifest page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """One entry of an index: the child's descriptor and whether the child is in the repository."""

    digest: str
    media_type: str
    size: int
    platform: str
    present: bool


@dataclass(frozen=True)
class ManifestOverview:
    manifest: Manifest
    is_index: bool
    layers: list[LayerInfo] | None
    layers_size: int | None
    config_digest: str | None
    platforms: list[Platform]
    labels: list[Label]
    annotations: dict[str, str]
    referrers: list[Manifest]
    tags: list[Tag]
    parents: list[Manifest] = field(default_factory=list)
    vulnerabilities: str = VULNERABILITY_PLACEHOLDER


def _platform_text(platform: dict[str, Any] | None) -> str:
    if not isinstance(platform, dict):
        return "unknown"
    parts = [str(platform.get(key)) for key in ("os", "architecture", "variant") if platform.get(key)]
    text = "/".join(parts) or "unknown"
    if platform.get("os.version"):
        text += f" ({platform['os.version']})"
    return text


def _parse(manifest: Manifest) -> ParsedManifest | None:
    try:
        return parse_manifest(bytes(manifest.content), manifest.media_type, manifest.digest.partition(":")[0])
    except RegistryError:
        return None


def manifest_overview(*, repository: Repository, digest: str) -> ManifestOverview | None:
    """Everything the manifest page shows, or None when the repository has no such manifest."""
    manifest = manifest_find(repository=repository, digest=digest)
    if manifest is None:
        return None
    parsed = _parse(manifest)
    is_index = manifest.media_type in INDEX_TYPES
    platforms: list[Platform] = []
    if is_index and parsed is not None:
        children = [child.digest for child in parsed.children]
        present = set(
            Manifest.objects.filter(repository=repository, digest__in=children, deleted_at__isnull=True).values_list("digest", flat=True)
        )
        platforms = [
            Platform(child.digest, child.media_type, child.size, _platform_text(child.platform), child.digest in present)
            for child in parsed.children
        ]
    layers = manifest_layers(manifest=manifest)
    parents = list(
        Manifest.objects.filter(repository=repository, child_links__child=manifest, deleted_at__isnull=True)
        .only("digest", "media_type")
        .order_by("digest")
    )
    return ManifestOverview(
        manifest=manifest,
        is_index=is_index,
        layers=layers,
        layers_size=sum(layer.compressed_size for layer in layers) if layers is not None else None,
        config_digest=parsed.config.digest if parsed is not None and parsed.config is not None else None,
        platforms=platforms,
        labels=manifest_labels(manifest=manifest),
        annotations={str(k): str(v) for k, v in (parsed.annotations or {}).items()} if parsed is not None else {},
        referrers=referrer_manifests(repository=repository, digest=manifest.digest),
        tags=list(Tag.objects.filter(live_tags(), repository=repository, manifest=manifest).order_by("name")),
        parents=parents,
    )


# --- organization page ------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamRow:
    team: Team
    members: list[TeamMember] | None  # None: the viewer may not see this team's members


@dataclass(frozen=True)
class OrganizationOverview:
    """What a viewer may see of an organization: its readable repositories for everyone; teams for
    members; members of their own teams for members, of every team for admins; robots for members;
    default permissions and quota use for admins and superusers."""

    organization: Organization
    role: str | None
    is_admin: bool
    is_member: bool
    sees_everything: bool
    repositories: list[Repository]
    teams: list[TeamRow]
    robots: list[Robot]
    prototypes: list[Prototype]
    usage: Usage | None


def organization_overview(*, principal: Principal, name: str) -> OrganizationOverview | None:
    organization = organization_find(name=name)
    if organization is None:
        return None
    role = organization_role_of(principal, namespace_id=organization.namespace_id)
    is_admin = principal.kind == "user" and role == Team.TeamRole.ADMIN
    is_member = role is not None
    sees_everything = is_admin or principal.is_superuser or principal.is_readonly_superuser
    repositories = list(_readable(principal).filter(namespace=organization.namespace).select_related("namespace").order_by("name")[:200])
    teams: list[TeamRow] = []
    robots: list[Robot] = []
    if is_member or sees_everything:
        viewable = None if sees_everything else team_names_of(principal, organization=organization)
        teams = [
            TeamRow(team, team_members(team=team) if viewable is None or team.name in viewable else None)
            for team in teams_with_counts(organization=organization)
        ]
        robots = list(Robot.objects.filter(namespace=organization.namespace).select_related("namespace").order_by("shortname"))
    return OrganizationOverview(
        organization=organization,
        role=role,
        is_admin=is_admin,
        is_member=is_member,
        sees_everything=sees_everything,
        repositories=repositories,
        teams=teams,
        robots=robots,
        prototypes=prototypes_of(organization=organization) if sees_everything else [],
        usage=namespace_usage(namespace_id=organization.namespace_id) if sees_everything else None,
    )


# --- a user's namespace -----------------------------------------------------------------------


@dataclass(frozen=True)
class UserNamespaceOverview:
    owner: User
    #: the viewer is the owner (or a superuser): robots and storage are shown
    sees_everything: bool
    is_self: bool
    repositories: list[Repository]
    robots: list[Robot]
    usage: Usage | None


def user_namespace_overview(*, principal: Principal, name: str) -> UserNamespaceOverview | None:
    """The page of user ``name``'s namespace as ``principal`` may see it (None: no such user).

    Others see only the repositories they may read; robots and storage use are the owner's (and
    superusers') business, as on the organization page.
    """
    owner = User.objects.filter(username=name, namespace__isnull=False, is_active=True).select_related("namespace").first()
    if owner is None:
        return None
    is_self = principal.kind == "user" and principal.user_id == owner.pk
    sees_everything = is_self or principal.is_superuser or principal.is_readonly_superuser
    repositories = list(_readable(principal).filter(namespace=owner.namespace).select_related("namespace").order_by("name")[:200])
    robots = (
        list(Robot.objects.filter(namespace=owner.namespace).select_related("namespace").order_by("shortname"))
        if sees_everything else []
    )
    return UserNamespaceOverview(
        owner=owner,
        sees_everything=sees_everything,
        is_self=is_self,
        repositories=repositories,
        robots=robots,
        usage=namespace_usage(namespace_id=owner.namespace_id) if sees_everything else None,
    )


# --- user settings ----------------------------------------------------------------------------


def app_tokens_of(*, user: User) -> list[AppToken]:
    """The user's app tokens, newest first (never their secrets: only hashes are stored)."""
    return list(AppToken.objects.filter(user=user).order_by("-created", "-id"))


def app_token_of(*, user: User, uuid: str) -> AppToken | None:
    """The user's own app token with ``uuid`` (None for another user's token or a bad id)."""
    try:
        value = uuid_module.UUID(uuid)
    except ValueError:
        return None
    return AppToken.objects.filter(user=user, uuid=value).first()
