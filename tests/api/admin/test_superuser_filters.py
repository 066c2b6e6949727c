"""Superuser listings filter with django-filter FilterSets on top of Quay's parameters."""

import pytest

pytestmark = pytest.mark.django_db


def names(response, key: str, field: str) -> list[str]:
    assert response.status_code == 200, response.content
    return [row[field] for row in response.json()[key]]


def test_users_filter_by_part_of_the_name_or_email(login, root, alice, bob):
    client = login(root)
    assert names(client.get("/api/v1/superuser/users/", {"query": "ali"}), "users", "username") == ["alice"]


def test_users_filter_by_superuser_flag(login, root, alice, bob):
    client = login(root)
    assert names(client.get("/api/v1/superuser/users/", {"superuser": "true"}), "users", "username") == ["root"]
    assert "root" not in names(client.get("/api/v1/superuser/users/", {"superuser": "false"}), "users", "username")


def test_users_filter_by_read_only_superuser_flag(login, root, auditor, alice):
    client = login(root)
    assert names(client.get("/api/v1/superuser/users/", {"readonly_superuser": "true"}), "users", "username") == [auditor.username]


def test_an_invalid_filter_value_is_a_bad_request_with_field_errors(login, root):
    response = login(root).get("/api/v1/superuser/users/", {"query": "x" * 300})
    assert response.status_code == 400
    assert "query" in response.json()["errors"]


def test_organizations_filter_by_part_of_the_name(login, root, acme):
    client = login(root)
    assert names(client.get("/api/v1/superuser/organizations/", {"query": "acm"}), "organizations", "name") == ["acme"]
    assert names(client.get("/api/v1/superuser/organizations/", {"query": "zzz"}), "organizations", "name") == []
