"""Migrations from the previous release's schema, with data in it.

A fresh database is migrated to the schema of the last release (commit 101e9f0: repositories
at 0011_console), filled through the historical models of that state (users, an organization
with a team, a public repository, blobs on storage, an image, a Docker image and an index over
both, tags), migrated forward to the latest migrations, and then a live server on it serves
everything to skopeo byte for byte and ``manage.py fsck`` is clean.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests

from storagebackends.paths import blob_path
from tests.e2e.helpers import ContainerTool, build_image, containers_config, layout_image, requires, sha256_digest
from tests.faults.checks import assert_fsck_clean
from tests.live import LiveRegistry

pytestmark = [pytest.mark.live, pytest.mark.e2e]

#: The migration state of the previous release (commit 101e9f0), app by app.
RELEASE = (
    ("accounts", "0004_robot_unstructured_metadata"),
    ("organizations", "0001_initial"),
    ("repositories", "0011_console"),
    ("tasks", "0001_initial"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("admin", "0003_logentry_add_action_flag_choices"),
    ("sessions", "0001_initial"),
)

SEED = r"""
import base64, json
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

executor = MigrationExecutor(connection)
applied = list(executor.loader.applied_migrations)
assert ("repositories", "0012_proxy_cache") not in applied, "not at the release state"
apps = executor.loader.project_state(applied).apps  # the models as they were at the release
M = lambda label: apps.get_model(*label.split("."))
data = json.loads(open(%(data)r).read())

alice_ns = M("accounts.Namespace").objects.create(name="alice", kind="user")
alice = M("accounts.User").objects.create(username="alice", email="alice@example.com", namespace=alice_ns, password=make_password("alice-password-1"))
acme_ns = M("accounts.Namespace").objects.create(name="acme", kind="organization")
acme = M("organizations.Organization").objects.create(namespace=acme_ns, email="ops@example.com")
owners = M("organizations.Team").objects.create(organization=acme, name="owners", role="admin")
M("organizations.TeamMember").objects.create(team=owners, user=alice)
repository = M("repositories.Repository").objects.create(namespace=acme_ns, name="app", full_name="acme/app", visibility="public")

blobs = {}
for digest, size in data["blobs"].items():
    blob = M("repositories.Blob").objects.create(digest=digest, size=size)
    M("repositories.BlobPlacement").objects.create(blob=blob, location="default")
    blobs[digest] = blob
manifests = {}
now = timezone.now()
for entry in data["manifests"]:
    raw = base64.b64decode(entry["raw"])
    manifest = M("repositories.Manifest").objects.create(
        repository=repository, digest=entry["digest"], media_type=entry["media_type"], content=raw, size=len(raw),
        config_media_type=entry.get("config_media_type", ""),
    )
    manifests[entry["digest"]] = manifest
    for digest in entry.get("blobs", []):
        M("repositories.ManifestBlob").objects.create(repository=repository, manifest=manifest, blob=blobs[digest])
    for child in entry.get("children", []):
        M("repositories.ManifestChild").objects.create(repository=repository, manifest=manifest, child=manifests[child])
    for tag in entry.get("tags", []):
        M("repositories.Tag").objects.create(repository=repository, name=tag, manifest=manifest, lifetime_start=now)
print("SEEDED", M("repositories.Tag").objects.count(), M("repositories.Manifest").objects.count(), M("repositories.Blob").objects.count())
"""


@pytest.fixture
def release_registry():
    registry = LiveRegistry.create(migrate=False)
    yield registry
    registry.destroy()


def _images() -> tuple[list[dict], dict[str, bytes]]:
    """Manifests (in push order: children before their index) and blobs to seed."""
    amd64 = build_image({"hello.txt": b"hello from the previous release\n"}, architecture="amd64")
    arm64 = build_image({"hello.txt": b"hello from arm64\n"}, architecture="arm64", docker=True)
    blobs = {sha256_digest(data): data for image in (amd64, arm64) for data in (image.config, image.layer)}
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": image.media_type, "digest": image.digest, "size": len(image.manifest), "platform": {"architecture": image.architecture, "os": "linux"}}
            for image in (amd64, arm64)
        ],
    }, separators=(",", ":")).encode()  # fmt: skip
    manifests = [
        {
            "digest": image.digest, "media_type": image.media_type, "raw": base64.b64encode(image.manifest).decode(),
            "config_media_type": json.loads(image.manifest)["config"]["mediaType"], "tags": tags,
            "blobs": [sha256_digest(image.config), sha256_digest(image.layer)],
        }
        for image, tags in ((amd64, ["v1", "latest"]), (arm64, ["arm"]))
    ]  # fmt: skip
    manifests.append({"digest": sha256_digest(index), "media_type": "application/vnd.oci.image.index.v1+json",
                      "raw": base64.b64encode(index).decode(), "children": [amd64.digest, arm64.digest], "tags": ["multi"]})
    return manifests, blobs


@requires("skopeo")
@pytest.mark.timeout(900)
def test_data_of_the_previous_release_still_pulls_after_migrating_forward(release_registry, tmp_path):
    registry = release_registry
    # One process for every target (each ``manage.py migrate`` would load Django and the graph again).
    steps = "; ".join(f"call_command('migrate', {app!r}, {migration!r}, interactive=False, verbosity=0)" for app, migration in RELEASE)
    registry.manage("shell", "-c", f"from django.core.management import call_command; {steps}")
    manifests, blobs = _images()
    for digest, data in blobs.items():
        target = registry.data_dir / "blobs" / blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"manifests": manifests, "blobs": {d: len(b) for d, b in blobs.items()}}))
    seeded = registry.manage("shell", "-c", SEED % {"data": str(seed_file)})
    assert "SEEDED 4 3 4" in seeded.stdout, seeded.stdout + seeded.stderr

    forward = registry.manage("migrate", "--noinput")
    assert "Applying repositories.0012" in forward.stdout, forward.stdout
    assert registry.manage("migrate", "--check", check=False).returncode == 0
    registry.start(workers=1, threads=8)

    skopeo = ContainerTool(["skopeo"], containers_config(tmp_path / "containers", registry.host))
    for tag, expected in (("v1", manifests[0]), ("arm", manifests[1])):
        pulled = tmp_path / f"pulled-{tag}"
        skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{registry.host}/acme/app:{tag}", f"oci:{pulled}:{tag}")
        image = layout_image(pulled, tag)
        body = json.loads(base64.b64decode(expected["raw"]))
        assert [layer["digest"] for layer in body["layers"]] == image.layer_digests
    everything = tmp_path / "pulled-multi"
    skopeo("copy", "--all", "--quiet", "--src-tls-verify=false", "--preserve-digests",
           f"docker://{registry.host}/acme/app:multi", f"oci:{everything}:multi")  # fmt: skip
    assert layout_image(everything, "multi").digest == manifests[2]["digest"]
    # The release's users may still log in.
    token = requests.get(f"{registry.url}/v2/auth", params={"scope": "repository:acme/app:pull", "service": registry.host},
                         auth=("alice", "alice-password-1"), timeout=30)
    assert token.status_code == 200, token.text
    assert_fsck_clean(registry)
