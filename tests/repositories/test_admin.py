"""The admin console for accounts and repositories, loaded by a superuser with some data present."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Namespace, User
from repositories.models import Blob, Manifest, Repository, Tag
from tests.factories import (
    BlobPlacementFactory,
    ManifestBlobFactory,
    ManifestFactory,
    RepositoryFactory,
    SuperuserFactory,
    TagFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REGISTERED = {
    "accounts.user": User,
    "accounts.namespace": Namespace,
    "repositories.repository": Repository,
    "repositories.blob": Blob,
    "repositories.manifest": Manifest,
    "repositories.tag": Tag,
}
#: one more row of each model, with the relations its changelist shows
MORE_ROWS = {
    "accounts.user": lambda: UserFactory(),
    "accounts.namespace": lambda: RepositoryFactory().namespace,
    "repositories.repository": lambda: TagFactory().repository,
    "repositories.blob": lambda: BlobPlacementFactory().blob,
    "repositories.manifest": lambda: ManifestFactory(),
    "repositories.tag": lambda: TagFactory(),
}
READ_ONLY = ["repositories.blob", "repositories.manifest", "repositories.tag"]


@pytest.fixture
def content():
    """A repository with a live tag, an ended tag, a deleted manifest and a placed blob."""
    repository = RepositoryFactory(namespace__name="acme", name="web", description="the web app")
    manifest = ManifestFactory(repository=repository)
    link = ManifestBlobFactory(manifest=manifest)
    BlobPlacementFactory(blob=link.blob)
    TagFactory(repository=repository, name="live-tag", manifest=manifest)
    TagFactory(repository=repository, name="ended-tag", manifest=manifest, lifetime_end=timezone.now())
    ManifestFactory(repository=repository, deleted_at=timezone.now() - timedelta(hours=1))
    return repository


@pytest.fixture
def console(client, content):
    client.force_login(SuperuserFactory(username="root"))
    return client


def url(label: str, view: str, *args: object) -> str:
    app, model = label.split(".")
    return reverse(f"admin:{app}_{model}_{view}", args=args)


def test_the_models_tested_here_are_registered():
    # tests/admin loads every registered model (identity models included) for every kind of user.
    registered = {m._meta.label_lower for m in admin.site._registry}

    assert set(REGISTERED) <= registered


@pytest.mark.parametrize("label", sorted(REGISTERED))
def test_the_changelist_of_each_model_loads(console, label):
    response = console.get(url(label, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("label", sorted(REGISTERED))
def test_the_change_page_of_each_model_loads(console, label):
    obj = REGISTERED[label]._default_manager.order_by("pk").first()

    response = console.get(url(label, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("label", sorted(REGISTERED))
def test_the_changelist_of_each_model_makes_no_query_per_row(console, label):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert console.get(url(label, "changelist")).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(10):
        MORE_ROWS[label]()

    assert queries() == few


@pytest.mark.parametrize(
    ("label", "query", "expected"),
    [
        ("repositories.repository", {"q": "web app"}, 1),
        ("repositories.repository", {"visibility__exact": "public"}, 0),
        ("repositories.manifest", {"deleted": "yes"}, 1),
        ("repositories.tag", {"lifetime": "ended"}, 1),
        ("repositories.tag", {"q": "live-tag"}, 1),
        ("accounts.namespace", {"kind__exact": "user"}, 1),
    ],
)
def test_changelist_search_and_filters_narrow_the_rows(console, label, query, expected):
    response = console.get(url(label, "changelist"), query)

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


def test_the_repository_changelist_counts_live_tags_only(console, content):
    response = console.get(url("repositories.repository", "changelist"))

    assert [r.tag_count for r in response.context["cl"].result_list] == [1]


def test_the_repository_page_lists_its_live_tags_but_not_ended_ones(console, content):
    response = console.get(url("repositories.repository", "change", content.pk))

    assert b"live-tag" in response.content
    assert b"ended-tag" not in response.content


def test_the_manifest_page_shows_the_manifest_json_pretty_printed(console, content):
    manifest = Manifest.objects.filter(deleted_at__isnull=True).get()

    response = console.get(url("repositories.manifest", "change", manifest.pk))

    assert b"<pre" in response.content
    assert b"\n  &quot;schemaVersion&quot;: 2," in response.content


def test_the_manifest_page_links_the_blobs_it_references(console, content):
    manifest = Manifest.objects.filter(deleted_at__isnull=True).get()
    blob = Blob.objects.get()

    response = console.get(url("repositories.manifest", "change", manifest.pk))

    assert f'<a href="{url("repositories.blob", "change", blob.pk)}">{blob.digest}</a>'.encode() in response.content


@pytest.mark.parametrize("label", READ_ONLY)
def test_content_rows_cannot_be_added_changed_or_deleted(console, label):
    obj = REGISTERED[label]._default_manager.order_by("pk").first()
    before = REGISTERED[label]._default_manager.count()

    assert console.get(url(label, "add")).status_code == 403
    assert console.post(url(label, "change", obj.pk), {}).status_code == 403
    assert console.post(url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert REGISTERED[label]._default_manager.count() == before


def test_changing_a_repository_visibility_in_the_admin_saves_it(console, content):
    page = console.get(url("repositories.repository", "change", content.pk))
    data = {"visibility": "public", "state": content.state, "_save": "Save"}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            data.update({field.html_name: field.value() for field in form.hidden_fields()})

    response = console.post(url("repositories.repository", "change", content.pk), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    content.refresh_from_db()
    assert content.visibility == "public"
    assert list(Tag.objects.filter(name="live-tag").values_list("lifetime_end", flat=True)) == [None]


def test_adding_a_user_in_the_admin_creates_their_namespace(console):
    response = console.post(
        url("accounts.user", "add"),
        {"username": "alice", "email": "alice@example.test", "usable_password": "true", "password1": "s3cret-pass-word", "password2": "s3cret-pass-word"},
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    alice = User.objects.get(username="alice")
    assert (alice.namespace.name, alice.namespace.kind) == ("alice", Namespace.Kind.USER)
    assert alice.check_password("s3cret-pass-word")


def test_adding_a_user_whose_name_is_taken_by_an_organization_is_refused(console, content):
    response = console.post(
        url("accounts.user", "add"),
        {"username": "acme", "usable_password": "true", "password1": "s3cret-pass-word", "password2": "s3cret-pass-word"},
    )

    assert response.status_code == 200
    assert "username" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="acme").exists()
