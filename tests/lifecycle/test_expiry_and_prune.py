"""Tag expiry (``registry.tags.expire``) and auto-prune (``registry.tags.autoprune`` and
``manage.py autoprune``): lifetimes end (restorable from the time machine), immutable tags stay."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from repositories.models import AuditLog, Tag
from repositories.services.lifecycle import autoprune_policy_create, autoprune_run
from repositories.services.tags import tag_restore, tag_set_immutable
from tasks.lifecycle import autoprune, expire_tags
from tests.lifecycle.conftest import push

pytestmark = pytest.mark.django_db


def live_names(repository) -> set[str]:
    return set(Tag.objects.filter(repository=repository, lifetime_end__isnull=True).values_list("name", flat=True))


def age(tag: Tag, days: int) -> None:
    Tag.objects.filter(pk=tag.pk).update(lifetime_start=timezone.now() - timedelta(days=days))


# -- expiry ----------------------------------------------------------------------------------------
def test_the_expiry_task_ends_expired_tags_at_their_expiry_time(app):
    tag = push(app, "old")
    age(tag, 1)
    keep = push(app, "fresh")
    expired_at = timezone.now() - timedelta(minutes=5)
    Tag.objects.filter(pk=tag.pk).update(expires_at=expired_at)
    Tag.objects.filter(pk=keep.pk).update(expires_at=timezone.now() + timedelta(days=1))

    assert expire_tags() == 1

    tag.refresh_from_db()
    assert tag.lifetime_end == expired_at  # the time-machine window starts at the expiry
    assert live_names(app) == {"fresh"}
    assert expire_tags() == 0  # idempotent


def test_an_expiry_before_the_lifetime_started_ends_it_where_it_started(app):
    tag = push(app, "skewed")
    Tag.objects.filter(pk=tag.pk).update(expires_at=tag.lifetime_start - timedelta(hours=1))
    assert expire_tags() == 1
    tag.refresh_from_db()
    assert tag.lifetime_end == tag.lifetime_start


def test_an_expired_tag_can_be_restored_from_the_time_machine(app):
    tag = push(app, "old")
    Tag.objects.filter(pk=tag.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_tags()

    restored = tag_restore(repository=app, name="old", manifest_digest=tag.manifest.digest)

    assert restored.lifetime_end is None and restored.reversion


def test_immutable_tags_never_expire(app):
    tag = push(app, "pinned")
    Tag.objects.filter(pk=tag.pk).update(immutable=True, expires_at=timezone.now() - timedelta(days=1))
    assert expire_tags() == 0
    assert live_names(app) == {"pinned"}


# -- auto-prune by count and by age -----------------------------------------------------------------
def test_number_of_tags_keeps_the_newest_n(app, acme):
    for day, name in enumerate(["a", "b", "c", "d"]):
        age(push(app, name), 10 - day)  # a is the oldest, d the newest
    autoprune_policy_create(namespace=acme.namespace, method="number_of_tags", value=2)

    result = autoprune()

    assert result["pruned"] == 2
    assert live_names(app) == {"c", "d"}
    log = AuditLog.objects.filter(kind="autoprune_tag_delete").order_by("id")
    assert {entry.metadata["tag"] for entry in log} == {"a", "b"}


def test_creation_date_prunes_tags_older_than_the_age(app, acme):
    age(push(app, "ancient"), 30)
    age(push(app, "recent"), 2)
    autoprune_policy_create(namespace=acme.namespace, repository=app, method="creation_date", value="1w")

    autoprune_run()

    assert live_names(app) == {"recent"}
    ancient = Tag.objects.get(repository=app, name="ancient")
    assert ancient.lifetime_end is not None  # ended, still in the time machine


def test_a_matching_pattern_limits_pruning_to_matching_tags(app, acme):
    for day, name in enumerate(["pr-1", "pr-2", "pr-3", "v1.0"]):
        age(push(app, name), 10 - day)
    autoprune_policy_create(namespace=acme.namespace, method="number_of_tags", value=1, tag_pattern="^pr-", tag_pattern_matches=True)

    autoprune_run()

    assert live_names(app) == {"pr-3", "v1.0"}


def test_a_not_matching_pattern_prunes_everything_else(app, acme):
    age(push(app, "v1.0"), 40)
    age(push(app, "nightly"), 40)
    autoprune_policy_create(namespace=acme.namespace, method="creation_date", value="30d", tag_pattern="^v[0-9]", tag_pattern_matches=False)

    autoprune_run()

    assert live_names(app) == {"v1.0"}


def test_immutable_tags_are_never_pruned(app, acme):
    for day, name in enumerate(["keep-me", "b", "c"]):
        age(push(app, name), 10 - day)
    tag_set_immutable(repository=app, name="keep-me", immutable=True)
    autoprune_policy_create(namespace=acme.namespace, method="number_of_tags", value=1)

    autoprune_run()

    assert live_names(app) == {"keep-me", "c"}


def test_policies_of_another_namespace_do_not_apply(app, alice):
    from repositories.services.repositories import repository_get_or_create

    other = repository_get_or_create(name=f"{alice.username}/tools")
    push(app, "a")
    push(app, "b")
    push(other, "x")
    push(other, "y")
    autoprune_policy_create(namespace=other.namespace, method="number_of_tags", value=1)

    autoprune_run(namespace_id=other.namespace_id)

    assert live_names(app) == {"a", "b"}
    assert len(live_names(other)) == 1


def test_a_dry_run_changes_nothing_and_reports_what_would_go(app, acme):
    age(push(app, "old"), 20)
    push(app, "new")
    autoprune_policy_create(namespace=acme.namespace, method="number_of_tags", value=1)

    report = autoprune_run(dry_run=True)

    assert [entry["tag"] for entry in report.pruned] == ["old"]
    assert live_names(app) == {"old", "new"}


def test_the_command_prunes_one_repository_with_progress_and_json(app, acme):
    age(push(app, "old"), 20)
    push(app, "new")
    autoprune_policy_create(namespace=acme.namespace, method="number_of_tags", value=1)
    out, err = StringIO(), StringIO()

    call_command("autoprune", "--repository", "acme/app", "--dry-run", "--json", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["pruned"][0]["tag"] == "old"
    assert "would prune acme/app:old" in err.getvalue()
    assert live_names(app) == {"old", "new"}

    out = StringIO()
    call_command("autoprune", "--namespace", "acme", stdout=out, stderr=StringIO())
    assert "pruned 1 tag(s)" in out.getvalue()
    assert live_names(app) == {"new"}


@pytest.mark.parametrize(
    ("method", "value", "pattern"),
    [("number_of_tags", 0, None), ("number_of_tags", "two", None), ("creation_date", "2 weeks", None), ("size", 1, None), ("number_of_tags", 3, "([")],
)
def test_invalid_policies_are_refused(acme, method, value, pattern):
    from common.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError):
        autoprune_policy_create(namespace=acme.namespace, method=method, value=value, tag_pattern=pattern)
