"""Superuser views of the registry: organizations, the deduplicated registry size and the
effective configuration with its secrets masked."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings

from organizations.models import Organization
from organizations.services import organization_create
from repositories.models import AuditLog, Repository
from repositories.services.repositories import repository_get_or_create
from tests.factories import BlobFactory, ManifestBlobFactory, ManifestFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db


# --- organizations ------------------------------------------------------------------------------


def test_list_organizations(login, root, acme, alice):
    organization_create(name="zeta", creator=alice)

    response = login(root).get("/api/v1/superuser/organizations/")

    assert response.status_code == 200
    assert response.json()["organizations"] == [{"name": "acme", "email": "registry@acme.test"}, {"name": "zeta", "email": ""}]


def test_the_organization_list_is_paged(login, root, alice, django_assert_max_num_queries):
    for n in range(105):
        organization_create(name=f"org{n:03d}", creator=alice)
    client = login(root)

    with django_assert_max_num_queries(5):
        first = client.get("/api/v1/superuser/organizations/").json()
    second = client.get("/api/v1/superuser/organizations/", {"next_page": first["next_page"]}).json()

    assert len(first["organizations"]) == 100 and len(second["organizations"]) == 5 and "next_page" not in second


def test_delete_an_empty_organization(login, root, acme):
    response = login(root).delete("/api/v1/superuser/organizations/acme")

    assert response.status_code == 204
    assert not Organization.objects.filter(namespace__name="acme").exists()
    entry = AuditLog.objects.get(kind="org_delete")
    assert (entry.performer_name, entry.metadata["namespace"]) == ("root", "acme")


def test_an_organization_is_deleted_with_its_repositories(login, root, acme_app):
    response = login(root).delete("/api/v1/superuser/organizations/acme")

    assert response.status_code == 204
    assert not Organization.objects.filter(namespace__name="acme").exists()
    assert not Repository.objects.filter(full_name="acme/app").exists()
    assert Repository.all_objects.filter(full_name__startswith="~deleted/", deleted_at__isnull=False).count() == 1
    assert AuditLog.objects.filter(kind="org_delete").exists()


def test_deleting_an_unknown_organization_is_404(login, root, alice):
    assert login(root).delete("/api/v1/superuser/organizations/nosuch").status_code == 404
    assert login(root).delete("/api/v1/superuser/organizations/alice").status_code == 404  # a user, not an organization


def test_organization_admins_cannot_use_the_superuser_delete(login, alice, acme, auditor, bearer):
    assert login(alice).delete("/api/v1/superuser/organizations/acme").status_code == 403
    assert bearer(auditor).delete("/api/v1/superuser/organizations/acme").status_code == 403
    assert login(alice).get("/api/v1/superuser/organizations/").status_code == 403
    assert Organization.objects.filter(namespace__name="acme").exists()


# --- registry size ------------------------------------------------------------------------------


def test_registry_size_counts_a_shared_blob_once(login, root):
    shared = BlobFactory(content=b"x" * 1000)
    own = BlobFactory(content=b"y" * 24)
    first, second = RepositoryFactory(), RepositoryFactory()
    for repository, blobs in ((first, [shared, own]), (second, [shared])):
        manifest = ManifestFactory(repository=repository)
        for blob in blobs:
            ManifestBlobFactory(manifest=manifest, blob=blob)
        TagFactory(repository=repository, manifest=manifest, name="latest")

    response = login(root).get("/api/v1/superuser/registrysize/")

    assert response.status_code == 200
    body = response.json()
    assert body["size_bytes"] == 1024
    assert (body["blob_count"], body["manifest_count"], body["tag_count"], body["repository_count"]) == (2, 2, 2, 2)
    assert body["queued"] is False and body["running"] is False and body["last_ran"]


def test_an_empty_registry_has_size_zero(bearer, auditor):
    assert bearer(auditor).get("/api/v1/superuser/registrysize/").json()["size_bytes"] == 0


def test_registry_size_is_for_superusers(login, alice):
    assert login(alice).get("/api/v1/superuser/registrysize/").status_code == 403


# --- configuration ------------------------------------------------------------------------------


@pytest.fixture
def secret_config(settings):
    config = copy.deepcopy(settings.MOORAGE)
    config["secret_key"] = "s3cr3t-django-key"
    config["database"]["url"] = "postgres://moorage:db-pass@db.internal:5432/moorage?sslpassword=ssl-pass&sslmode=require"
    config["redis"]["url"] = "redis://:redis-pass@cache.internal:6379/0"
    config["broker"]["url"] = "amqp://guest@mq.internal//"
    config["admin"]["password"] = "admin-pass"
    config["storage"]["locations"] = {
        "s3": {"driver": "s3", "options": {"bucket_name": "blobs", "access_key": "AKIAEXAMPLE", "secret_key": "aws-secret", "endpoint_url": "https://s3.internal"}}
    }
    settings.MOORAGE = config
    return config


def test_config_masks_every_secret(login, root, secret_config):
    response = login(root).get("/api/v1/superuser/config")

    assert response.status_code == 200
    text = response.content.decode()
    for secret in ("s3cr3t-django-key", "db-pass", "ssl-pass", "redis-pass", "admin-pass", "AKIAEXAMPLE", "aws-secret"):
        assert secret not in text, secret
    config = response.json()["config"]
    assert config["secret_key"] == "********"
    assert config["database"]["url"] == "postgres://moorage:********@db.internal:5432/moorage?sslpassword=********&sslmode=require"
    assert config["redis"]["url"] == "redis://:********@cache.internal:6379/0"
    assert config["admin"]["password"] == "********"
    assert config["storage"]["locations"]["s3"]["options"]["secret_key"] == "********"


def test_config_keeps_what_is_not_secret(login, root, secret_config):
    config = login(root).get("/api/v1/superuser/config").json()["config"]

    assert config["broker"]["url"] == "amqp://guest@mq.internal//"  # a user name without a password
    assert config["storage"]["locations"]["s3"]["options"]["bucket_name"] == "blobs"
    assert config["storage"]["locations"]["s3"]["options"]["endpoint_url"] == "https://s3.internal"
    assert config["auth"]["token_lifetime_s"] == secret_config["auth"]["token_lifetime_s"]  # a duration, not a token
    assert config["registry"] == secret_config["registry"]
    assert config["admin"]["user"] == secret_config["admin"]["user"]


def test_the_live_configuration_is_served(login, root):
    config = login(root).get("/api/v1/superuser/config").json()["config"]

    assert set(config) == set(settings.MOORAGE)


def test_config_is_for_superusers(login, bearer, alice, auditor):
    assert login(alice).get("/api/v1/superuser/config").status_code == 403
    assert bearer(auditor).get("/api/v1/superuser/config").status_code == 200


def test_an_organization_name_with_a_nul_byte_is_a_bad_request(login, root):
    response = login(root).delete("/api/v1/superuser/organizations/a%00b")
    assert response.status_code == 400
    assert response.json()["error_type"] == "invalid_request"
