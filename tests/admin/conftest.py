"""A registry with one row of every model the admin console shows, and the three kinds of people
who open it: a superuser, a global read-only superuser and a user who is not staff."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AppToken, BannerMessage, Robot, SigningKey, User
from accounts.services import app_token_create, banner_message_create, robot_create, user_create
from organizations.models import Organization, Team
from organizations.services import organization_create, prototype_create, team_member_add, team_upsert
from repositories.models import Label, Star
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.repositories import permission_set
from tests.factories import BlobPlacementFactory, ManifestBlobFactory, ManifestFactory, RepositoryFactory, TagFactory

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----"
#: models whose add page a superuser may open (the others are created by pushes, services or commands)
ADDABLE = {
    "auth.group", "accounts.user", "accounts.bannermessage", "organizations.organization", "organizations.team", "organizations.prototype",
    "repositories.repositorypermission",
}


@dataclass
class World:
    root: User
    auditor: User
    alice: User
    bob: User
    acme: Organization
    developers: Team
    robot: Robot
    robot_token: str
    app_token: AppToken
    objects: dict[str, models.Model] = field(default_factory=dict)


def registered_labels() -> list[str]:
    return sorted(model._meta.label_lower for model in admin.site._registry)


def url(label: str, view: str, *args: object) -> str:
    app, model = label.split(".")
    return reverse(f"admin:{app}_{model}_{view}", args=args)


@pytest.fixture(autouse=True)
def _static_root(settings) -> None:
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # else WhiteNoise warns on every request


@pytest.fixture
def world(db) -> World:
    root = user_create(username="root", password=None, is_superuser=True)
    auditor = user_create(username="auditor", password=None, is_readonly_superuser=True)
    alice = user_create(username="alice", password="correct-horse-battery")
    bob = user_create(username="bob", password="correct-horse-battery")
    acme = organization_create(name="acme", creator=alice)
    developers = team_upsert(organization=acme, name="developers", role="member")
    robot = robot_create(namespace=acme.namespace, shortname="deployer", description="pushes from CI")
    team_member_add(team=developers, robot=robot.robot)
    prototype = prototype_create(organization=acme, role="read", delegate_team=developers)

    repository = RepositoryFactory(namespace=acme.namespace, name="web", description="the web app")
    manifest = ManifestFactory(repository=repository)
    link = ManifestBlobFactory(manifest=manifest)
    placement = BlobPlacementFactory(blob=link.blob)
    tag = TagFactory(repository=repository, name="latest", manifest=manifest)
    label = Label.objects.create(manifest=manifest, uuid=uuid.uuid4(), key="maintainer", value="alice@example.test")
    star = Star.objects.create(user=bob, repository=repository)
    permission = permission_set(repository=repository, role="write", user=bob)
    app_token = app_token_create(user=bob, title="laptop").app_token
    now = timezone.now()
    key = SigningKey.objects.create(
        kid="key-1", private_key_pem=PRIVATE_KEY, public_key_pem="-----BEGIN PUBLIC KEY-----\nPUBLIC\n-----END PUBLIC KEY-----",
        retire_at=now + timedelta(days=1), expires_at=now + timedelta(days=2),
    )
    banner = banner_message_create(content="Maintenance on Sunday", severity=BannerMessage.Severity.WARNING)
    entry = audit_log(
        kind="push_repo", principal=None, repository=repository, request=RequestInfo(ip="192.0.2.7", user_agent="docker/27"),
        metadata={"tag": "latest", "manifest_digest": manifest.digest},
    )
    group = Group.objects.create(name="console operators")
    objects: dict[str, Any] = {
        "auth.group": group,
        "accounts.user": bob, "accounts.namespace": acme.namespace, "accounts.robot": robot.robot, "accounts.apptoken": app_token,
        "accounts.signingkey": key, "accounts.bannermessage": banner, "organizations.organization": acme,
        "organizations.team": developers, "organizations.prototype": prototype, "repositories.repository": repository,
        "repositories.blob": placement.blob, "repositories.manifest": manifest, "repositories.tag": tag, "repositories.label": label,
        "repositories.star": star, "repositories.repositorypermission": permission, "repositories.auditlog": entry,
    }
    objects.update(_notification_rows(repository, acme.namespace, bob))
    objects.update(_worker_rows())
    objects.update(_logs_rows(repository, bob))
    objects.update(_lifecycle_rows(repository, acme.namespace))
    objects.update(_mirror_rows(acme.namespace, robot.robot))
    objects.update(_proxy_rows(alice))
    objects.update(_build_rows(repository, alice))
    objects.update(_security_rows(manifest, link.blob.digest))
    return World(root, auditor, alice, bob, acme, developers, robot.robot, robot.token, app_token, objects)


def _notification_rows(repository: Any, namespace: Any, user: User) -> dict[str, Any]:
    """One row of each notifications model (issue #6): a webhook with a delivery and its attempt."""
    from repositories.models import NamespaceNotification, NotificationDelivery, NotificationDeliveryAttempt, RepositoryNotification, UserNotification

    hook = RepositoryNotification.objects.create(
        repository=repository, event="repo_push", method="webhook", config={"url": "https://hooks.example.test/ci"}, secret="s", title="CI"
    )
    quota = NamespaceNotification.objects.create(namespace=namespace, event="quota_warning", method="email", config={"email": "ops@example.test"})
    delivery = NotificationDelivery.objects.create(repository_notification=hook, event="repo_push", payload={"repository": repository.full_name})
    NotificationDeliveryAttempt.objects.create(delivery=delivery, succeeded=False, http_status=500, error="500 response from the receiver", duration_ms=12)
    NotificationDelivery.objects.create(namespace_notification=quota, event="quota_warning", payload={"namespace": namespace.name}, status="succeeded")
    note = UserNotification.objects.create(kind="repo_push", target_user=user, metadata={"repository": repository.full_name})
    return {
        "repositories.repositorynotification": hook, "repositories.namespacenotification": quota,
        "repositories.notificationdelivery": delivery, "repositories.usernotification": note,
    }


def _lifecycle_rows(repository: Any, namespace: Any) -> dict[str, Any]:
    """One row of each lifecycle and quota model (issue #6)."""
    from repositories.models import AutoPrunePolicy, ImmutabilityPolicy, NamespaceQuota, NamespaceUsage, QuotaLimit, RepositoryUsage

    quota = NamespaceQuota.objects.create(namespace=namespace, limit_bytes=10**9)
    QuotaLimit.objects.create(quota=quota, type="Reject", threshold_percent=90)
    return {
        "repositories.autoprunepolicy": AutoPrunePolicy.objects.create(namespace=namespace, method="number_of_tags", value="10"),
        "repositories.immutabilitypolicy": ImmutabilityPolicy.objects.create(namespace=namespace, repository=repository, tag_pattern="^v"),
        "repositories.namespacequota": quota,
        "repositories.namespaceusage": NamespaceUsage.objects.create(namespace=namespace, size_bytes=1234),
        "repositories.repositoryusage": RepositoryUsage.objects.create(repository=repository, size_bytes=1234),
    }


def _mirror_rows(namespace: Any, robot: Robot) -> dict[str, Any]:
    """A mirrored repository (issue #7) with a failed last sync."""
    from repositories.models import RepositoryMirror
    from repositories.services.mirror import secret_encrypt

    mirrored = RepositoryFactory(namespace=namespace, name="mirrored", state="MIRROR")
    mirror = RepositoryMirror.objects.create(
        repository=mirrored, external_reference="registry.example.test/library/app", username_encrypted=secret_encrypt("puller"),
        password_encrypted=secret_encrypt("s3cret"), tag_patterns=["v1.*"], sync_interval=3600, sync_start_date=timezone.now(),
        robot=robot, status="FAIL", last_error="upstream answered 503",
    )
    from organizations.models import Organization
    from repositories.models import OrganizationMirror, OrganizationMirrorRepository

    org_mirror = OrganizationMirror.objects.create(
        organization=Organization.objects.get(namespace=namespace), external_registry_url="registry.example.test", external_namespace="library",
        username_encrypted=secret_encrypt("puller"), password_encrypted=secret_encrypt("s3cret"), repository_patterns=["app*"],
        tag_patterns=["v1.*"], sync_interval=3600, sync_start_date=timezone.now(), robot=robot, status="FAIL", last_error="library/app: 503",
    )
    OrganizationMirrorRepository.objects.create(org_mirror=org_mirror, upstream_name="library/app", repository=mirrored, status="FAIL")
    return {"repositories.repositorymirror": mirror, "repositories.organizationmirror": org_mirror}


def _proxy_rows(user: User) -> dict[str, Any]:
    """A pull-through cache organization (issue #7) with one cached tag."""
    from repositories.models import ProxyCacheConfig, ProxyCachedTag
    from repositories.services.mirror import secret_encrypt

    hub = organization_create(name="hub", creator=user)
    config = ProxyCacheConfig.objects.create(
        organization=hub, upstream_registry="registry.example.test/library", username_encrypted=secret_encrypt("puller"),
        password_encrypted=secret_encrypt("s3cret"), expiration_s=3600,
    )
    cached = RepositoryFactory(namespace=hub.namespace, name="alpine")
    tag = ProxyCachedTag.objects.create(repository=cached, name="3.20", digest="sha256:" + "c" * 64, checked_at=timezone.now(), pulled_at=timezone.now())
    return {"repositories.proxycacheconfig": config, "repositories.proxycachedtag": tag}


def _build_rows(repository: Any, user: User) -> dict[str, Any]:
    """A custom git trigger and a failed build it started (issue #10)."""
    from repositories.models import BuildTrigger, RepositoryBuild
    from repositories.services.mirror import secret_encrypt

    trigger = BuildTrigger.objects.create(
        repository=repository, git_url="https://git.example.test/web.git", tag_templates=["${branch}"], secret_encrypted=secret_encrypt("s"),
        created_by=user, consecutive_failures=1,
    )
    build = RepositoryBuild.objects.create(
        repository=repository, requested_by=user, requested_by_name=user.username, phase="error", context_kind="git",
        git_url=trigger.git_url, git_ref="main", tags=["main"], trigger=trigger, error="error building at STEP 2/3", finished_at=timezone.now(),
    )
    return {"repositories.buildtrigger": trigger, "repositories.repositorybuild": build}


def _security_rows(manifest: Any, layer_digest: str) -> dict[str, Any]:
    """A scanned manifest with one finding, its layer's index and an imported vulnerability (issue #8)."""
    from repositories.models import AffectedPackage, LayerIndex, ManifestFinding, ManifestScan, Vulnerability, VulnerabilityImport

    now = timezone.now()
    package = {"name": "openssl", "version": "3.0.11-1~deb12u1", "ecosystem": "Debian:12", "source_name": "openssl"}
    layer = LayerIndex.objects.create(digest=layer_digest, indexer_version=1, content={"packages": [package]}, package_count=1, size=1234)
    scan = ManifestScan.objects.create(
        manifest=manifest, status="scanned", distro="Debian:12", packages=[package], package_count=1,
        pushed_at=now, queued_at=now, scanned_at=now, matched_at=now,
    )
    finding = ManifestFinding.objects.create(
        manifest=manifest, vulnerability_id="DSA-5532-1", package=package, package_name="openssl",
        package_version=package["version"], ecosystem="Debian:12", severity="High", severity_index=1,
        summary="openssl security update", fixed_version="3.0.11-1~deb12u2", first_seen=now,
    )
    vulnerability = Vulnerability.objects.create(
        osv_id="DSA-5532-1", aliases=["CVE-2023-5363"], summary="openssl security update", severity="High", modified=now,
    )
    AffectedPackage.objects.create(vulnerability=vulnerability, ecosystem="Debian:12", name="openssl", fixed_version="3.0.11-1~deb12u2")
    run = VulnerabilityImport.objects.create(source="/srv/osv/Debian.zip", started=now, finished=now, status="succeeded", records=1, added=1)
    return {
        "repositories.layerindex": layer, "repositories.manifestscan": scan, "repositories.manifestfinding": finding,
        "repositories.vulnerability": vulnerability, "repositories.vulnerabilityimport": run,
    }


def _worker_rows() -> dict[str, Any]:
    """A garbage-collection run and a background-task record (issue #6)."""
    from repositories.models import GcRun
    from tasks.models import TaskRun

    started = timezone.now() - timedelta(minutes=5)
    run = GcRun.objects.create(
        started=started, finished=started + timedelta(seconds=3), status="succeeded", manifests_examined=12, manifests_deleted=2,
        blobs_examined=40, blobs_deleted=5, bytes_reclaimed=52_428_800, errors=["blob sha256:abc in retired: KeyError('retired')"],
    )
    task = TaskRun.objects.create(
        name="registry.gc.collect", last_started=started, last_finished=started + timedelta(seconds=3), last_status="succeeded",
        last_duration_s=3.2, runs=7, last_result="{'manifests_deleted': 2}",
    )
    return {"repositories.gcrun": run, "tasks.taskrun": task}


def _logs_rows(repository: Any, user: User) -> dict[str, Any]:
    """An audit-log archive, an export and pull statistics (issue #6, logs and statistics)."""
    from repositories.models import AuditLogArchive, LogExport, ManifestPullStatistic, TagPullStatistic

    now = timezone.now()
    archive = AuditLogArchive.objects.create(
        path="logs/archive/2026/01/01/auditlog-000000000001-000000000042-0a1b2c3d.jsonl.gz", location="local", first_id=1, last_id=42,
        start=now - timedelta(days=120), end=now - timedelta(days=119), count=42, size=2048, complete=True,
    )
    export = LogExport.objects.create(
        requested_by=user, requested_by_name=user.username, repository=repository, repository_name=repository.full_name,
        start=now - timedelta(days=7), end=now, state="done", count=3, size=900, location="local", path="logs/exports/x.json",
    )
    tag = TagPullStatistic.objects.create(repository=repository, tag_name="latest", pull_count=7, last_pulled=now)
    manifest = ManifestPullStatistic.objects.create(repository=repository, manifest_digest="sha256:" + "c" * 64, pull_count=9, last_pulled=now)
    return {
        "repositories.auditlogarchive": archive, "repositories.logexport": export,
        "repositories.tagpullstatistic": tag, "repositories.manifestpullstatistic": manifest,
    }


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client(world) -> Client:
    return _client(world.root)


@pytest.fixture
def auditor_client(world) -> Client:
    return _client(world.auditor)


@pytest.fixture
def user_client(world) -> Client:
    return _client(world.bob)
