"""The repository page with many tags: a count and links instead of an unbounded inline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from repositories.models import Tag
from tests.admin.conftest import url
from tests.factories import ManifestFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy(world):
    """acme/web with 60 live tags (v0 oldest ... v59 newest), 5 ended and 1 hidden, and a neighbour."""
    repository = world.objects["repositories.repository"]
    manifest = ManifestFactory(repository=repository)
    start = timezone.now() - timedelta(days=1)
    Tag.objects.bulk_create(
        [Tag(repository=repository, name=f"v{i}", manifest=manifest, lifetime_start=start + timedelta(minutes=i)) for i in range(59)]
        + [Tag(repository=repository, name=f"old{i}", manifest=manifest, lifetime_start=start, lifetime_end=start) for i in range(5)]
        + [Tag(repository=repository, name="secret", manifest=manifest, lifetime_start=timezone.now(), hidden=True)]
    )
    TagFactory(repository=RepositoryFactory(namespace=world.acme.namespace, name="api"), name="v1")
    return repository  # 59 + "latest" from the world = 60 live tags


def test_the_repository_page_has_no_tag_inline(superuser_client, busy):
    response = superuser_client.get(url("repositories.repository", "change", busy.pk))

    assert response.context["inline_admin_formsets"] == []


def test_the_repository_page_shows_the_live_tag_count_and_links(superuser_client, busy):
    response = superuser_client.get(url("repositories.repository", "change", busy.pk))

    live = f"/admin/repositories/tag/?repository={busy.pk}&amp;lifetime=live"
    every = f"/admin/repositories/tag/?repository={busy.pk}&quot;"
    assert f'<a href="{live}">60 live tags</a>'.encode() in response.content
    assert f'<a href="/admin/repositories/tag/?repository={busy.pk}">every tag and its history</a>'.encode() in response.content
    assert every.encode() not in response.content


def test_the_repository_page_lists_only_the_twenty_newest_live_tags(superuser_client, busy):
    response = superuser_client.get(url("repositories.repository", "change", busy.pk))

    names = Tag.objects.filter(repository=busy).values_list("name", flat=True)
    listed = [name for name in names if f">{name}</a>".encode() in response.content]
    assert sorted(listed) == sorted(["latest"] + [f"v{i}" for i in range(40, 59)])


def test_the_repository_page_costs_the_same_queries_with_many_tags(superuser_client, world, django_assert_max_num_queries):
    repository = world.objects["repositories.repository"]
    with django_assert_max_num_queries(12):
        superuser_client.get(url("repositories.repository", "change", repository.pk))
    manifest = ManifestFactory(repository=repository)
    now = timezone.now()
    Tag.objects.bulk_create([Tag(repository=repository, name=f"t{i}", manifest=manifest, lifetime_start=now) for i in range(2000)])

    with django_assert_max_num_queries(12):
        response = superuser_client.get(url("repositories.repository", "change", repository.pk))

    assert b"2001 live tags" in response.content


@pytest.mark.parametrize(("query", "expected"), [({}, 66), ({"lifetime": "live"}, 60), ({"lifetime": "ended"}, 5)])
def test_the_tag_list_filtered_by_repository_shows_only_its_tags(superuser_client, busy, query, expected):
    response = superuser_client.get(url("repositories.tag", "changelist"), {"repository": busy.pk, **query})

    assert response.status_code == 200
    rows = Tag.objects.filter(pk__in=[t.pk for t in response.context["cl"].result_list])
    assert set(rows.values_list("repository__full_name", flat=True)) == {"acme/web"}
    assert response.context["cl"].queryset.count() == expected


def test_the_tag_list_shows_the_chosen_repository_in_its_filter(superuser_client, busy):
    response = superuser_client.get(url("repositories.tag", "changelist"), {"repository": busy.pk})

    [repository_filter] = [f for f in response.context["cl"].filter_specs if getattr(f, "parameter_name", "") == "repository"]
    assert [c["display"] for c in repository_filter.choices(response.context["cl"]) if c["selected"]] == ["acme/web"]


def test_the_tag_list_refuses_a_repository_that_is_not_an_id(superuser_client, busy):
    response = superuser_client.get(url("repositories.tag", "changelist"), {"repository": "web"})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
