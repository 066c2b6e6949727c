"""The content every web UI test (and the screenshot run) looks at, built through the real services:
an organization ``acme`` with teams, robots, a default permission and a quota; a public and a
private repository with images, a multi-platform index, a signature (referrer) and labels; a
personal repository of ``alice``."""

from __future__ import annotations

import json
from dataclasses import dataclass

from accounts.models import User
from accounts.principals import Principal
from accounts.services import principal_for_user, robot_create, user_create
from organizations.models import Organization, Role, Team
from organizations.services import organization_create, prototype_create, team_member_add, team_upsert
from repositories.models import Manifest, Repository
from repositories.services.manifests import manifest_put
from repositories.services.quotas import quota_create
from repositories.services.repositories import permission_set, repository_create, star_add
from tests.api.tags.helpers import push_image, push_index
from tests.factories import descriptor, digest_of
from tests.repositories.helpers import push_blob

PASSWORD = "correct-horse-battery"
SIGNATURE_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"


@dataclass
class World:
    root: User  # superuser
    owner: User  # acme admin (owners team)
    dev: User  # acme member (developers team), read on acme/secret
    outsider: User  # no role in acme
    alice: User  # owns the personal namespace alice
    organization: Organization
    developers: Team
    public: Repository  # acme/web, public
    secret: Repository  # acme/secret, private
    personal: Repository  # alice/tools, private
    image: Manifest  # acme/web:latest (amd64)
    arm: Manifest  # acme/web child (arm64)
    index: Manifest  # acme/web:multi
    signature: Manifest  # a referrer of ``image``
    secret_image: Manifest  # acme/secret:v1
    robot_token: str


def _user(name: str, **flags: bool) -> User:
    return user_create(username=name, password=PASSWORD, email=f"{name}@example.test", **flags)


def push_signature(repository: Repository, subject: Manifest) -> Manifest:
    config, payload = b"{}", json.dumps({"critical": {"image": {"docker-manifest-digest": subject.digest}}}).encode()
    for data in (config, payload):
        push_blob(repository=repository, data=data)
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": SIGNATURE_TYPE,
            "config": descriptor(config, "application/vnd.oci.empty.v1+json"),
            "layers": [descriptor(payload, "application/vnd.dev.cosign.simplesigning.v1+json")],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        }
    ).encode()
    return manifest_put(
        repository=repository, reference=digest_of(raw), raw=raw, content_type="application/vnd.oci.image.manifest.v1+json"
    ).manifest


def build_world() -> World:
    root = _user("root", is_superuser=True)
    owner, dev, outsider, alice = _user("owner"), _user("dev"), _user("outsider"), _user("alice")
    organization = organization_create(name="acme", creator=owner, email="registry@acme.test")
    developers = team_upsert(organization=organization, name="developers", role=Team.TeamRole.MEMBER, description="People who ship")
    team_member_add(team=developers, user=dev)
    deployer = robot_create(namespace=organization.namespace, shortname="deployer", description="CI deploys")
    team_member_add(team=developers, robot=deployer.robot)
    prototype_create(organization=organization, role=Role.READ, delegate_team=developers)
    quota_create(namespace=organization.namespace, limit_bytes=10 * 1024 * 1024)

    creator: Principal = principal_for_user(owner, "session")
    public = repository_create(
        namespace_name="acme", name="web", creator=creator, visibility=Repository.Visibility.PUBLIC, description="The public web frontend"
    )
    secret = repository_create(namespace_name="acme", name="secret", creator=creator, description="Top secret payroll service")
    permission_set(repository=secret, role=Role.READ, user=dev)
    personal = repository_create(
        namespace_name="alice", name="tools", creator=principal_for_user(alice, "session"), description="Alice's private tools"
    )

    image = push_image(public, "latest", labels={"org.opencontainers.image.title": "web frontend", "maintainer": "ops@acme.test"}, layers=2)
    arm = push_image(public, None, layers=1)
    index = push_index(public, "multi", [image, arm])
    signature = push_signature(public, image)
    secret_image = push_image(secret, "v1", labels={"payroll.secret": "classified-label"})
    push_image(personal, "dev")
    star_add(user=alice, repository=public)
    return World(
        root=root, owner=owner, dev=dev, outsider=outsider, alice=alice, organization=organization, developers=developers,
        public=public, secret=secret, personal=personal, image=image, arm=arm, index=index, signature=signature,
        secret_image=secret_image, robot_token=deployer.token,
    )
