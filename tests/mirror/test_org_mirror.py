"""Organization mirroring against a real Distribution (no auth and htpasswd): discovery through
the paginated catalog filtered by namespace and name globs (or a configured list), a local
repository per match driven by a repository mirror, digests equal to upstream, a second sync
without blob downloads, stale repositories deleted or kept, per-repository status, scheduling,
cancel and ``manage.py mirror_sync --organization``."""

from __future__ import annotations

import io
import json
import shutil
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.services import robot_create
from organizations.services import organization_create
from repositories.models import AuditLog, Repository, Tag
from repositories.models.mirror import MirrorStatus, OrganizationMirror, OrganizationMirrorRepository, RepositoryMirror
from repositories.services.mirror import mirrors_queue_due
from repositories.services.mirror_org import (
    OrgMirrorSettings,
    org_mirror_cancel,
    org_mirror_create,
    org_mirror_sync,
    org_mirror_sync_now,
    org_mirror_update,
    org_mirror_verify,
    org_mirrors_queue_due,
)
from tests.factories import RepositoryFactory
from tests.mirror.conftest import Upstream, make_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


@pytest.fixture
def org(db, alice):
    organization = organization_create(name="acme", creator=alice)
    robot_create(namespace=organization.namespace, shortname="mirror")
    return organization


def configure_org(org, registry_url: str, **overrides: Any) -> OrganizationMirror:
    from accounts.models import Robot

    values = {
        "external_registry_url": registry_url, "external_namespace": "lib", "repository_patterns": ["app-*"], "tag_patterns": ["v*"],
        "sync_interval": 3600, "sync_start_date": timezone.now() - timedelta(seconds=1),
        "robot": Robot.objects.get(namespace=org.namespace, shortname="mirror"), **overrides,
    }
    return org_mirror_create(organization=org, values=OrgMirrorSettings(**values))


def live_tags(full_name: str) -> dict[str, str]:
    return dict(Tag.objects.filter(repository__full_name=full_name, lifetime_end__isnull=True, hidden=False).values_list("name", "manifest__digest"))


def seed(upstream: Upstream) -> dict[str, dict[str, str]]:
    """lib/app-one (v1, v2, latest), lib/app-two (v1), lib/other (v1), team/app-three (v1)."""
    one_v1 = upstream.push_image("lib/app-one", "v1", make_image("one-v1"))
    one_v2 = upstream.push_image("lib/app-one", "v2", make_image("one-v2"))
    upstream.push_image("lib/app-one", "latest", one_v2)
    two_v1 = upstream.push_image("lib/app-two", "v1", make_image("two-v1"))
    upstream.push_image("lib/other", "v1", make_image("other"))
    upstream.push_image("team/app-three", "v1", make_image("three"))
    return {"app-one": {"v1": one_v1.digest, "v2": one_v2.digest}, "app-two": {"v1": two_v1.digest}}


def remove_upstream_repository(upstream: Upstream, name: str) -> None:
    """Distribution has no API to delete a repository: remove it from its filesystem storage, so
    the catalog no longer lists it."""
    shutil.rmtree(upstream.root / "data" / "docker" / "registry" / "v2" / "repositories" / name)


def test_an_org_mirror_discovers_only_matching_repositories_and_copies_them_with_upstream_digests(org, upstream):
    expected = seed(upstream)
    org_mirror = configure_org(org, upstream.url)

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "SUCCESS", result.errors
    mirrored = set(Repository.objects.filter(namespace=org.namespace).values_list("name", flat=True))
    assert mirrored == {"app-one", "app-two"}  # not lib/other (no match), not team/app-three (other namespace)
    for name, tags in expected.items():
        assert live_tags(f"acme/{name}") == tags  # "latest" does not match v*
        repository = Repository.objects.get(full_name=f"acme/{name}")
        assert repository.state == Repository.State.MIRROR and repository.visibility == "private"
        assert RepositoryMirror.objects.get(repository=repository).external_reference == f"{upstream.url}/lib/{name}"
    entries = {e.upstream_name: e for e in OrganizationMirrorRepository.objects.all()}
    assert set(entries) == {"lib/app-one", "lib/app-two"}
    assert all(e.status == MirrorStatus.SUCCESS and e.last_sync_at is not None and e.repository is not None for e in entries.values())
    assert (result.counts["repositories_discovered"], result.counts["repositories_created"], result.counts["tags_copied"]) == (2, 2, 3)
    org_mirror.refresh_from_db()
    assert org_mirror.status == MirrorStatus.SUCCESS and org_mirror.next_sync_at > timezone.now()
    # the repository mirror events are reused per repository
    assert AuditLog.objects.filter(kind="repo_mirror_sync_success", repository_name__in=["acme/app-one", "acme/app-two"]).count() == 2


def test_a_second_sync_downloads_no_blob(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url)
    first = org_mirror_sync(org_mirror_id=org_mirror.pk)
    assert first.counts["blobs_copied"] == 9  # 3 images x (config + 2 layers)

    again = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert again.status == "SUCCESS", again.errors
    assert (again.counts["blobs_copied"], again.counts["bytes_copied"], again.counts["tags_copied"], again.counts["tags_unchanged"]) == (0, 0, 0, 3)
    assert again.counts["repositories_created"] == 0
    for mirror in RepositoryMirror.objects.all():
        assert mirror.last_result["upstream_requests"].get("blob_get", 0) == 0
        assert mirror.last_result["upstream_requests"].get("manifest_get", 0) == 0


def test_a_repository_removed_upstream_is_deleted_locally_with_delete_stale_repos(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url, delete_stale_repos=True)
    org_mirror_sync(org_mirror_id=org_mirror.pk)
    remove_upstream_repository(upstream, "lib/app-two")

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert result.counts["repositories_deleted"] == 1
    assert not Repository.objects.filter(full_name="acme/app-two").exists()
    assert Repository.objects.filter(full_name="acme/app-one").exists()
    assert list(OrganizationMirrorRepository.objects.values_list("upstream_name", flat=True)) == ["lib/app-one"]
    assert AuditLog.objects.filter(kind="org_mirror_repo_deleted", namespace_name="acme").exists()


def test_without_delete_stale_repos_a_vanished_repository_is_kept_and_marked(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url)
    org_mirror_sync(org_mirror_id=org_mirror.pk)
    remove_upstream_repository(upstream, "lib/app-two")

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.counts["repositories_gone"] == 1 and result.counts["repositories_deleted"] == 0
    assert Repository.objects.filter(full_name="acme/app-two").exists()
    assert OrganizationMirrorRepository.objects.get(upstream_name="lib/app-two").gone_since is not None
    assert OrganizationMirrorRepository.objects.get(upstream_name="lib/app-one").gone_since is None


def test_a_narrower_pattern_makes_repositories_stale(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url, delete_stale_repos=True)
    org_mirror_sync(org_mirror_id=org_mirror.pk)

    org_mirror_update(org_mirror=org_mirror, values=OrgMirrorSettings(repository_patterns=["app-o*"]))
    org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert set(Repository.objects.filter(namespace=org.namespace).values_list("name", flat=True)) == {"app-one"}


def test_a_configured_list_is_mirrored_instead_of_the_catalog(org, upstream):
    expected = seed(upstream)
    org_mirror = configure_org(org, upstream.url, repositories=["app-two", "other"], tag_patterns=["*"])

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert set(Repository.objects.filter(namespace=org.namespace).values_list("name", flat=True)) == {"app-two", "other"}
    assert live_tags("acme/app-two") == expected["app-two"]


def test_a_listed_repository_missing_upstream_fails_alone(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url, repositories=["app-one", "nope"])

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "FAIL"
    statuses = dict(OrganizationMirrorRepository.objects.values_list("upstream_name", "status"))
    assert statuses == {"lib/app-one": MirrorStatus.SUCCESS, "lib/nope": MirrorStatus.FAIL}
    assert "not found" in OrganizationMirrorRepository.objects.get(upstream_name="lib/nope").last_error
    assert "lib/nope" in OrganizationMirror.objects.get().last_error


def test_an_existing_repository_of_the_same_name_is_not_taken_over(org, upstream):
    seed(upstream)
    own = RepositoryFactory(namespace=org.namespace, name="app-two")
    org_mirror = configure_org(org, upstream.url)

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "FAIL"
    own.refresh_from_db()
    assert own.state == Repository.State.NORMAL and not RepositoryMirror.objects.filter(repository=own).exists()
    entry = OrganizationMirrorRepository.objects.get(upstream_name="lib/app-two")
    assert entry.status == MirrorStatus.FAIL and "already exists" in entry.last_error
    assert OrganizationMirrorRepository.objects.get(upstream_name="lib/app-one").status == MirrorStatus.SUCCESS


def test_public_visibility_and_architecture_and_tag_filters_reach_the_repository_mirrors(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url, visibility="public", architecture_filter=["arm64"], tag_patterns=["v1"])

    org_mirror_sync(org_mirror_id=org_mirror.pk)
    org_mirror_update(org_mirror=org_mirror, values=OrgMirrorSettings(tag_patterns=["v2"], sync_interval=600))

    mirror = RepositoryMirror.objects.get(repository__full_name="acme/app-one")
    assert Repository.objects.get(full_name="acme/app-one").visibility == "public"
    assert (mirror.tag_patterns, mirror.architecture_filter, mirror.sync_interval) == (["v2"], ["arm64"], 600)


def test_htpasswd_credentials_are_used_and_a_wrong_password_fails_clearly(org, basic_upstream):
    expected = seed(basic_upstream)
    org_mirror = configure_org(org, basic_upstream.url, username="puller", password="pull-secret", credentials_given=True)

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert live_tags("acme/app-one") == expected["app-one"]
    assert RepositoryMirror.objects.get(repository__full_name="acme/app-one").password_encrypted == org_mirror.password_encrypted
    again = org_mirror_sync(org_mirror_id=org_mirror.pk)
    assert again.counts["blobs_copied"] == 0

    org_mirror_update(org_mirror=org_mirror, values=OrgMirrorSettings(username="puller", password="wrong", credentials_given=True))
    failed = org_mirror_sync(org_mirror_id=org_mirror.pk)
    assert failed.status == "FAIL"
    assert "refused" in OrganizationMirror.objects.get().last_error
    verdict = org_mirror_verify(org_mirror=OrganizationMirror.objects.get())
    assert not verdict.success and "authentication failed" in verdict.message


def test_verify_reports_success_with_the_matching_repositories(org, basic_upstream):
    seed(basic_upstream)
    org_mirror = configure_org(org, basic_upstream.url, username="puller", password="pull-secret", credentials_given=True)

    verdict = org_mirror_verify(org_mirror=org_mirror)

    assert verdict.success, verdict.message
    assert verdict.repositories == ("lib/app-one", "lib/app-two")
    anonymous = org_mirror_verify(org_mirror=org_mirror, values=OrgMirrorSettings(username=None, credentials_given=True))
    assert not anonymous.success and "needs credentials" in anonymous.message


def test_verify_reports_an_unreachable_upstream(org, upstream):
    org_mirror = configure_org(org, upstream.url)
    upstream.stop()

    verdict = org_mirror_verify(org_mirror=org_mirror)

    assert not verdict.success and "cannot reach" in verdict.message


def test_the_scheduler_queues_the_org_mirror_and_leaves_its_repository_mirrors_to_it(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url)
    org_mirror_sync(org_mirror_id=org_mirror.pk)
    later = timezone.now() + timedelta(hours=2)

    assert org_mirrors_queue_due(now=later) == [org_mirror.pk]
    assert org_mirrors_queue_due(now=later) == []  # queued once
    assert mirrors_queue_due(now=later) == []  # the organization's sync drives its repositories

    from tasks.mirror import sync_organization

    assert sync_organization(org_mirror.pk) == "SUCCESS"
    assert sync_organization(org_mirror.pk) is None  # not queued again: skipped quietly


def test_sync_now_then_cancel_withdraws_the_request(org, upstream):
    org_mirror = configure_org(org, upstream.url, sync_start_date=timezone.now() + timedelta(days=1))
    with pytest.raises(Exception, match="no sync"):
        org_mirror_cancel(org_mirror=org_mirror)

    org_mirror_sync_now(org_mirror=org_mirror)
    assert OrganizationMirror.objects.get().status == MirrorStatus.SYNC_NOW
    assert org_mirrors_queue_due() == [org_mirror.pk]
    org_mirror_cancel(org_mirror=OrganizationMirror.objects.get())

    assert OrganizationMirror.objects.get().status == MirrorStatus.CANCEL
    assert org_mirror_sync(org_mirror_id=org_mirror.pk, scheduled=True) is None


def test_a_running_sync_cannot_start_twice(org, upstream):
    org_mirror = configure_org(org, upstream.url)
    OrganizationMirror.objects.filter(pk=org_mirror.pk).update(status=MirrorStatus.SYNCING, sync_token="x", sync_expires_at=timezone.now() + timedelta(minutes=5))

    with pytest.raises(Exception, match="already running"):
        org_mirror_sync(org_mirror_id=org_mirror.pk)


def run_command(*args: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("mirror_sync", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return out.getvalue(), err.getvalue(), code


def test_the_command_syncs_an_organization_with_progress_and_json(org, upstream):
    seed(upstream)
    configure_org(org, upstream.url)

    out, err, code = run_command("--organization", "acme")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"syncing organization acme from {upstream.url}/lib"
    assert "2 repository(ies) to mirror" in lines
    assert "[1/2] lib/app-one" in lines and "  created acme/app-one (private)" in lines
    assert any(line.startswith("    ") and "v1: copied" in line for line in lines)
    assert any(line.startswith("SUCCESS: 2 repository(ies) discovered, 2 created, 2 synced, 0 failed") for line in lines)

    data = json.loads(run_command("--organization", "acme", "--json")[0])
    assert (data["status"], data["counts"]["blobs_copied"], data["repositories"]) == ("SUCCESS", 0, {"acme/app-one": "SUCCESS", "acme/app-two": "SUCCESS"})


def test_the_command_exits_1_when_the_upstream_is_down(org, upstream):
    configure_org(org, upstream.url)
    upstream.stop()

    out, err, code = run_command("--organization", "acme")

    assert code == 1
    assert "error: " in err and "unreachable" in err


def test_the_dry_run_lists_what_would_change_and_changes_nothing(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url, delete_stale_repos=True)
    org_mirror_sync(org_mirror_id=org_mirror.pk)
    remove_upstream_repository(upstream, "lib/app-two")
    upstream.push_image("lib/app-new", "v1", make_image("new"))

    out, err, code = run_command("--organization", "acme", "--dry-run")

    assert code == 0, err
    assert "  create acme/app-new" in out and "  delete lib/app-two" in out and "nothing was changed" in out
    assert Repository.objects.filter(full_name="acme/app-two").exists() and not Repository.objects.filter(full_name="acme/app-new").exists()


@pytest.mark.e2e
def test_images_seeded_with_skopeo_are_mirrored_with_the_digests_skopeo_sees_upstream(org, upstream, tmp_path):
    import hashlib
    import subprocess

    if shutil.which("skopeo") is None or shutil.which("umoci") is None:
        pytest.skip("skopeo/umoci not installed (.ci/run installs them)")

    def run(*args: str) -> bytes:
        return subprocess.run(list(args), capture_output=True, check=True, timeout=120, cwd=tmp_path).stdout

    run("umoci", "init", "--layout", "oci-img")
    run("umoci", "new", "--image", "oci-img:v1")
    run("umoci", "unpack", "--rootless", "--image", "oci-img:v1", "bundle")
    (tmp_path / "bundle" / "rootfs" / "hello.txt").write_text("mirrored by an organization\n")
    run("umoci", "repack", "--image", "oci-img:v1", "bundle")
    for name in ("app-one", "app-two", "other"):
        run("skopeo", "copy", "--dest-tls-verify=false", "oci:oci-img:v1", f"docker://127.0.0.1:{upstream.port}/lib/{name}:v1")
    org_mirror = configure_org(org, upstream.url)

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert set(Repository.objects.filter(namespace=org.namespace).values_list("name", flat=True)) == {"app-one", "app-two"}
    for name in ("app-one", "app-two"):
        raw = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://127.0.0.1:{upstream.port}/lib/{name}:v1")
        assert live_tags(f"acme/{name}") == {"v1": "sha256:" + hashlib.sha256(raw).hexdigest()}
    assert org_mirror_sync(org_mirror_id=org_mirror.pk).counts["blobs_copied"] == 0


def test_a_failed_discovery_deletes_nothing_even_with_delete_stale_repos(org, upstream):
    seed(upstream)
    org_mirror = configure_org(org, upstream.url, delete_stale_repos=True)
    org_mirror_sync(org_mirror_id=org_mirror.pk)
    upstream.stop()

    result = org_mirror_sync(org_mirror_id=org_mirror.pk)

    assert result.status == "FAIL" and "unreachable" in result.errors[-1]
    assert set(Repository.objects.filter(namespace=org.namespace).values_list("name", flat=True)) == {"app-one", "app-two"}
    assert OrganizationMirrorRepository.objects.count() == 2
    assert OrganizationMirror.objects.get().status == MirrorStatus.FAIL
