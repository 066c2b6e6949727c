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
    return World(root, auditor, alice, bob, acme, developers, robot.robot, robot.token, app_token, objects)


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
