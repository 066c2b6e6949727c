"""factory_boy factories for the accounts and repositories models, plus builders of real
manifest bodies (the bytes a client would push)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, Sequence

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Namespace, User
from repositories.media_types import OCI_INDEX, OCI_MANIFEST
from repositories.models import Blob, BlobPlacement, Manifest, ManifestBlob, Repository, Tag, UploadedBlob

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def descriptor(data: bytes, media_type: str) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}


def image_manifest(*, config: bytes, layers: Sequence[bytes] = (), annotations: dict[str, str] | None = None) -> bytes:
    """The bytes of an OCI image manifest over ``config`` and ``layers``."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config, OCI_CONFIG),
        "layers": [descriptor(layer, OCI_LAYER) for layer in layers],
    }
    if annotations:
        body["annotations"] = annotations
    return json.dumps(body, indent=2).encode()


def index_manifest(*children: bytes) -> bytes:
    """The bytes of an OCI index listing the image manifests ``children`` (linux/amd64, arm64, ...)."""
    architectures = ["amd64", "arm64", "ppc64le", "s390x"]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {**descriptor(child, OCI_MANIFEST), "platform": {"os": "linux", "architecture": architectures[i % 4]}}
                for i, child in enumerate(children)
            ],
        }
    ).encode()


class NamespaceFactory(DjangoModelFactory):
    class Meta:
        model = Namespace
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"org{n}")
    kind = Namespace.Kind.ORGANIZATION


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.django.Password("correct-horse-battery")
    namespace = factory.SubFactory(NamespaceFactory, name=factory.SelfAttribute("..username"), kind=Namespace.Kind.USER)


class SuperuserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class RepositoryFactory(DjangoModelFactory):
    class Meta:
        model = Repository

    namespace = factory.SubFactory(NamespaceFactory)
    name = factory.Sequence(lambda n: f"app{n}")
    full_name = factory.LazyAttribute(lambda repo: f"{repo.namespace.name}/{repo.name}")


class BlobFactory(DjangoModelFactory):
    """A blob row; pass ``content`` to get its real digest and size (no bytes are stored)."""

    class Meta:
        model = Blob
        exclude = ("content",)

    content = factory.Sequence(lambda n: f"blob content {n}".encode())
    digest = factory.LazyAttribute(lambda blob: digest_of(blob.content))
    size = factory.LazyAttribute(lambda blob: len(blob.content))


class BlobPlacementFactory(DjangoModelFactory):
    class Meta:
        model = BlobPlacement

    blob = factory.SubFactory(BlobFactory)
    location = "default"


class UploadedBlobFactory(DjangoModelFactory):
    class Meta:
        model = UploadedBlob

    repository = factory.SubFactory(RepositoryFactory)
    blob = factory.SubFactory(BlobFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


class ManifestFactory(DjangoModelFactory):
    """A manifest row whose content is a real OCI image manifest (its blobs are not linked)."""

    class Meta:
        model = Manifest
        exclude = ("raw",)

    repository = factory.SubFactory(RepositoryFactory)
    raw = factory.Sequence(lambda n: image_manifest(config=f'{{"n": {n}}}'.encode(), layers=[f"layer {n}".encode()]))
    content = factory.SelfAttribute("raw")
    digest = factory.LazyAttribute(lambda manifest: digest_of(manifest.raw))
    size = factory.LazyAttribute(lambda manifest: len(manifest.raw))
    media_type = OCI_MANIFEST
    config_media_type = OCI_CONFIG


class ManifestBlobFactory(DjangoModelFactory):
    class Meta:
        model = ManifestBlob

    manifest = factory.SubFactory(ManifestFactory)
    repository = factory.SelfAttribute("manifest.repository")
    blob = factory.SubFactory(BlobFactory)


class TagFactory(DjangoModelFactory):
    class Meta:
        model = Tag

    repository = factory.SubFactory(RepositoryFactory)
    name = factory.Sequence(lambda n: f"v{n}")
    manifest = factory.SubFactory(ManifestFactory, repository=factory.SelfAttribute("..repository"))
    lifetime_start = factory.LazyFunction(timezone.now)
