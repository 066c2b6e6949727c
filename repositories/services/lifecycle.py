"""Tag lifecycle: expiry of tags whose ``expires_at`` passed, auto-prune policies and
immutability policies (Quay's ``autopruneworker``, ``policy.py`` and ``immutability_policy.py``).

Expired and pruned tags end their lifetime (``lifetime_end``); the namespace's time-machine
window starts from then, so they stay restorable until garbage collection. Immutable tags are
never expired nor pruned.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Namespace
from accounts.principals import Principal
from common.errors import InvalidRequestError, NotFoundError
from repositories.models import Repository, Tag
from repositories.models.lifecycle import AutoPrunePolicy, ImmutabilityPolicy
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.labels import parse_duration

logger = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 255


# -- expiry ----------------------------------------------------------------------------------
def tags_expire(*, now: datetime | None = None) -> int:
    """End the lifetime of every live, mutable tag whose expiry passed, at its ``expires_at``
    (not at the time this runs), so the time-machine window counts from the expiry. Returns how
    many. Each batch is one conditional UPDATE: a concurrent move of the tag (which ends the row
    itself) simply makes the row no longer match."""
    now = now or timezone.now()
    batch = settings.MOORAGE["lifecycle"]["expiry_batch_size"]
    ended = 0
    while True:
        ids = list(
            Tag.objects.filter(lifetime_end__isnull=True, hidden=False, immutable=False, expires_at__lte=now)
            .order_by("expires_at", "id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return ended
        live = Tag.objects.filter(pk__in=ids, lifetime_end__isnull=True, immutable=False, expires_at__lte=now)
        with transaction.atomic():
            # a lifetime never ends before it started (an expiry set in the past by a clock skew)
            ended += live.filter(expires_at__gte=F("lifetime_start")).update(lifetime_end=F("expires_at"))
            ended += live.filter(expires_at__lt=F("lifetime_start")).update(lifetime_end=F("lifetime_start"))


# -- policy validation -----------------------------------------------------------------------------
def _compile_pattern(pattern: object, *, required: bool) -> str:
    if pattern is None or pattern == "":
        if required:
            raise InvalidRequestError("tagPattern is required", detail={"tagPattern": ""})
        return ""
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRequestError(f"tagPattern must be a regular expression of at most {MAX_PATTERN_LENGTH} characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidRequestError(f"tagPattern is not a valid regular expression: {exc}", detail={"tagPattern": pattern}) from None
    return pattern


def _matches(pattern: str, matches: bool, name: str) -> bool:
    """Whether a policy with ``pattern`` applies to tag ``name`` (no pattern: every tag)."""
    if not pattern:
        return True
    return bool(re.search(pattern, name)) == matches


def _validate_prune(method: object, value: object) -> tuple[str, str]:
    if method not in AutoPrunePolicy.Method.values:
        raise InvalidRequestError("method must be number_of_tags or creation_date", detail={"method": str(method)[:40]})
    if method == AutoPrunePolicy.Method.NUMBER_OF_TAGS:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequestError("value must be a positive number of tags", detail={"value": str(value)[:40]})
        return str(method), str(value)
    if not isinstance(value, str) or parse_duration(value.strip()) is None or parse_duration(value.strip()) <= timedelta(0):
        raise InvalidRequestError("value must be an age such as 2w, 30d, 12h (<number><s|m|h|d|w>)", detail={"value": str(value)[:40]})
    return str(method), value.strip()


def policy_value(policy: AutoPrunePolicy) -> int | str:
    """The policy's value as Quay shows it: an integer tag count or an age string."""
    return int(policy.value) if policy.method == AutoPrunePolicy.Method.NUMBER_OF_TAGS else policy.value


# -- auto-prune policies CRUD -----------------------------------------------------------------------
def _scope_name(namespace: Namespace, repository: Repository | None) -> str:
    return repository.full_name if repository is not None else namespace.name


def autoprune_policy_create(
    *, namespace: Namespace, repository: Repository | None = None, method: object, value: object,
    tag_pattern: object = None, tag_pattern_matches: bool = True, actor: Principal | None = None, request: RequestInfo | None = None,
) -> AutoPrunePolicy:
    """Add an auto-prune policy to a namespace (or one of its repositories).

    Raises INVALID_REQUEST (bad method, value or pattern; too many policies)."""
    method, value = _validate_prune(method, value)
    pattern = _compile_pattern(tag_pattern, required=False)
    limit = settings.MOORAGE["lifecycle"]["autoprune_max_policies"]
    if AutoPrunePolicy.objects.filter(namespace=namespace, repository=repository).count() >= limit:
        raise InvalidRequestError(f"at most {limit} auto-prune policies per namespace or repository")
    with transaction.atomic():
        policy = AutoPrunePolicy.objects.create(
            namespace=namespace, repository=repository, method=method, value=value, tag_pattern=pattern, tag_pattern_matches=bool(tag_pattern_matches)
        )
        audit_log(
            kind="create_repository_autoprune_policy" if repository else "create_namespace_autoprune_policy",
            principal=actor, repository=repository, namespace_name=namespace.name, request=request,
            metadata={"policy_uuid": str(policy.uuid), "method": method, "value": value, "tag_pattern": pattern, "tag_pattern_matches": policy.tag_pattern_matches},
        )
    return policy


def autoprune_policy_update(
    *, policy: AutoPrunePolicy, method: object, value: object, tag_pattern: object = None, tag_pattern_matches: bool = True,
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> AutoPrunePolicy:
    method, value = _validate_prune(method, value)
    pattern = _compile_pattern(tag_pattern, required=False)
    with transaction.atomic():
        policy.method, policy.value, policy.tag_pattern, policy.tag_pattern_matches = method, value, pattern, bool(tag_pattern_matches)
        policy.save(update_fields=["method", "value", "tag_pattern", "tag_pattern_matches"])
        audit_log(
            kind="update_repository_autoprune_policy" if policy.repository_id else "update_namespace_autoprune_policy",
            principal=actor, repository=policy.repository, namespace_name=policy.namespace.name, request=request,
            metadata={"policy_uuid": str(policy.uuid), "method": method, "value": value, "tag_pattern": pattern, "tag_pattern_matches": policy.tag_pattern_matches},
        )
    return policy


def autoprune_policy_delete(*, policy: AutoPrunePolicy, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    with transaction.atomic():
        audit_log(
            kind="delete_repository_autoprune_policy" if policy.repository_id else "delete_namespace_autoprune_policy",
            principal=actor, repository=policy.repository, namespace_name=policy.namespace.name, request=request,
            metadata={"policy_uuid": str(policy.uuid)},
        )
        policy.delete()


# -- applying auto-prune ------------------------------------------------------------------------------
@dataclass
class PruneReport:
    """What one auto-prune run did (or, dry, would do)."""

    dry_run: bool
    repositories: int = 0
    policies: int = 0
    pruned: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "repositories": self.repositories, "policies": self.policies, "pruned": self.pruned, "pruned_count": len(self.pruned)}


def _prune_candidates(repository: Repository, policy: AutoPrunePolicy, now: datetime) -> list[Tag]:
    """Live, visible, unexpired, mutable tags the policy says to remove."""
    tags = [
        tag
        for tag in Tag.objects.filter(repository=repository, lifetime_end__isnull=True, hidden=False, immutable=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-lifetime_start", "-id")
        if _matches(policy.tag_pattern, policy.tag_pattern_matches, tag.name)
    ]
    if policy.method == AutoPrunePolicy.Method.NUMBER_OF_TAGS:
        return tags[int(policy.value):]
    age = parse_duration(policy.value)
    if age is None:
        return []
    cutoff = now - age
    return [tag for tag in tags if tag.lifetime_start < cutoff]


def _prune_tag(tag: Tag, policy: AutoPrunePolicy, now: datetime) -> bool:
    """End ``tag``'s lifetime unless it changed meanwhile (moved, made immutable); audit-logged."""
    with transaction.atomic():
        live = Tag.objects.select_for_update().filter(pk=tag.pk, lifetime_end__isnull=True, immutable=False).first()
        if live is None:
            return False
        live.lifetime_end = max(now, live.lifetime_start)
        live.save(update_fields=["lifetime_end"])
        audit_log(
            kind="autoprune_tag_delete", principal=None, repository=tag.repository,
            metadata={"tag": tag.name, "manifest_digest": tag.manifest.digest, "policy_uuid": str(policy.uuid), "method": policy.method, "value": policy.value},
        )
    return True


def autoprune_run(
    *, namespace_id: int | None = None, repository_id: int | None = None, dry_run: bool = False,
    progress: Callable[[str], None] | None = None, now: datetime | None = None,
) -> PruneReport:
    """Apply the auto-prune policies of every namespace (or one namespace, or one repository):
    namespace policies to each of its repositories, repository policies to theirs.

    With ``dry_run`` nothing changes; the report lists what would go. Pruned tags stay in the
    time machine until garbage collection.
    """
    now = now or timezone.now()
    report = PruneReport(dry_run=dry_run)
    policies = AutoPrunePolicy.objects.select_related("namespace", "repository")
    if repository_id is not None:
        repository = Repository.objects.filter(pk=repository_id).first()
        if repository is None:
            raise NotFoundError("repository not found", detail={"repository": repository_id})
        policies = policies.filter(namespace_id=repository.namespace_id).filter(Q(repository__isnull=True) | Q(repository_id=repository_id))
    elif namespace_id is not None:
        policies = policies.filter(namespace_id=namespace_id)
    by_repository: dict[int, list[AutoPrunePolicy]] = {}
    repositories: dict[int, Repository] = {}
    for policy in policies:
        if policy.repository_id is not None:
            targets = [policy.repository] if policy.repository.deleted_at is None else []
        else:
            targets = list(Repository.objects.filter(namespace_id=policy.namespace_id))
            if repository_id is not None:
                targets = [r for r in targets if r.pk == repository_id]
        for target in targets:
            repositories[target.pk] = target
            by_repository.setdefault(target.pk, []).append(policy)
        report.policies += 1
    for repo_id, repo_policies in sorted(by_repository.items(), key=lambda item: repositories[item[0]].full_name):
        repository = repositories[repo_id]
        report.repositories += 1
        done: set[int] = set()
        for policy in repo_policies:
            for tag in _prune_candidates(repository, policy, now):
                if tag.pk in done:
                    continue
                done.add(tag.pk)
                if dry_run or _prune_tag(tag, policy, now):
                    entry = {"repository": repository.full_name, "tag": tag.name, "policy": str(policy.uuid), "method": policy.method, "value": policy.value}
                    report.pruned.append(entry)
                    if progress:
                        progress(f"{'would prune' if dry_run else 'pruned'} {repository.full_name}:{tag.name} ({policy.method}={policy.value})")
        if progress:
            progress(f"{repository.full_name}: {len(done)} tag(s) {'to prune' if dry_run else 'pruned'} by {len(repo_policies)} policy(ies)")
    if not dry_run:
        AutoPrunePolicy.objects.filter(pk__in=[p.pk for p in policies]).update(last_run=now)
    return report


# -- immutability policies -------------------------------------------------------------------------------
def immutability_policy_create(
    *, namespace: Namespace, repository: Repository | None = None, tag_pattern: object, tag_pattern_matches: bool = True,
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> ImmutabilityPolicy:
    """Add an immutability policy; the live tags it covers become immutable at once (their
    expiration, if any, is cleared: an immutable tag never expires). Raises INVALID_REQUEST."""
    pattern = _compile_pattern(tag_pattern, required=True)
    with transaction.atomic():
        policy = ImmutabilityPolicy.objects.create(namespace=namespace, repository=repository, tag_pattern=pattern, tag_pattern_matches=bool(tag_pattern_matches))
        applied = _apply_immutability(policy)
        audit_log(
            kind="create_immutability_policy", principal=actor, repository=repository, namespace_name=namespace.name, request=request,
            metadata={"policy_uuid": str(policy.uuid), "tag_pattern": pattern, "tag_pattern_matches": policy.tag_pattern_matches, "tags_made_immutable": applied},
        )
    return policy


def immutability_policy_update(
    *, policy: ImmutabilityPolicy, tag_pattern: object, tag_pattern_matches: bool = True,
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> ImmutabilityPolicy:
    """Change a policy; tags already made immutable stay immutable (unset them one by one)."""
    pattern = _compile_pattern(tag_pattern, required=True)
    with transaction.atomic():
        policy.tag_pattern, policy.tag_pattern_matches = pattern, bool(tag_pattern_matches)
        policy.save(update_fields=["tag_pattern", "tag_pattern_matches"])
        applied = _apply_immutability(policy)
        audit_log(
            kind="update_immutability_policy", principal=actor, repository=policy.repository, namespace_name=policy.namespace.name, request=request,
            metadata={"policy_uuid": str(policy.uuid), "tag_pattern": pattern, "tag_pattern_matches": policy.tag_pattern_matches, "tags_made_immutable": applied},
        )
    return policy


def immutability_policy_delete(*, policy: ImmutabilityPolicy, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    """Remove a policy; tags it made immutable stay immutable."""
    with transaction.atomic():
        audit_log(
            kind="delete_immutability_policy", principal=actor, repository=policy.repository, namespace_name=policy.namespace.name, request=request,
            metadata={"policy_uuid": str(policy.uuid)},
        )
        policy.delete()


def _apply_immutability(policy: ImmutabilityPolicy) -> int:
    live = Tag.objects.filter(lifetime_end__isnull=True, hidden=False, immutable=False)
    if policy.repository_id is not None:
        live = live.filter(repository_id=policy.repository_id)
    else:
        live = live.filter(repository__namespace_id=policy.namespace_id)
    ids = [pk for pk, name in live.values_list("pk", "name") if _matches(policy.tag_pattern, policy.tag_pattern_matches, name)]
    if ids:
        Tag.objects.filter(pk__in=ids).update(immutable=True, expires_at=None)
    return len(ids)


def tag_immutable_by_policy(*, repository: Repository, name: str) -> bool:
    """Whether a tag ``name`` pushed to ``repository`` is made immutable by a policy of its
    namespace or of the repository."""
    policies = ImmutabilityPolicy.objects.filter(namespace_id=repository.namespace_id).filter(
        Q(repository__isnull=True) | Q(repository_id=repository.pk)
    ).values_list("tag_pattern", "tag_pattern_matches")
    return any(_matches(pattern, matches, name) for pattern, matches in policies)
