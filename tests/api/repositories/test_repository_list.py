"""GET /api/v1/repository: filters, readable-only, stars, Quay's next_page tokens."""

from __future__ import annotations

from repositories.models import Star

from .conftest import make_repository

URL = "/api/v1/repository"


def names(response) -> list[str]:
    return [f"{r['namespace']}/{r['name']}" for r in response.json()["repositories"]]


def test_a_namespace_listing_shows_the_repositories_the_caller_holds_a_role_on(session_client, world):
    response = session_client("tess").get(URL, {"namespace": "acme"})
    assert response.status_code == 200
    assert names(response) == ["acme/web"]


def test_public_true_adds_public_repositories(session_client, world):
    response = session_client("tess").get(URL, {"namespace": "acme", "public": "true"})
    assert names(response) == ["acme/public-docs", "acme/web"]


def test_an_org_admin_lists_every_repository_of_the_organization(session_client, world):
    assert names(session_client("olga").get(URL, {"namespace": "acme"})) == ["acme/public-docs", "acme/secret", "acme/web"]


def test_anonymous_callers_list_only_public_repositories(anonymous, world):
    assert names(anonymous.get(URL, {"public": "true"})) == ["acme/public-docs"]


def test_a_robot_lists_what_it_was_granted(robot_client, world):
    assert names(robot_client.get(URL, {"namespace": "acme"})) == ["acme/web"]


def test_a_superuser_lists_everything(session_client, world):
    assert names(session_client("root").get(URL, {"public": "true"})) == ["acme/public-docs", "acme/secret", "acme/web", "alice/tools/cli"]


def test_items_have_quays_fields(session_client, world):
    item = session_client("olga").get(URL, {"namespace": "acme"}).json()["repositories"][-1]
    assert item == {
        "namespace": "acme", "name": "web", "description": "The web front end", "is_public": False, "kind": "image", "state": "NORMAL",
        "is_starred": False,
    }


def test_last_modified_true_adds_unix_timestamps(session_client, world):
    item = session_client("olga").get(URL, {"namespace": "acme", "last_modified": "true"}).json()["repositories"][0]
    assert isinstance(item["last_modified"], int) and item["last_modified"] > 1_600_000_000


def test_starred_lists_only_the_callers_stars_and_marks_them(session_client, world):
    Star.objects.create(user=world.users["tess"], repository=world.repos["web"])
    response = session_client("tess").get(URL, {"starred": "true"})
    assert names(response) == ["acme/web"]
    assert response.json()["repositories"][0]["is_starred"] is True


def test_a_star_on_a_repository_no_longer_readable_is_not_listed(session_client, world):
    Star.objects.create(user=world.users["nora"], repository=world.repos["secret"])
    assert names(session_client("nora").get(URL, {"starred": "true"})) == []


def test_a_listing_without_namespace_starred_or_public_is_refused(session_client, world):
    response = session_client("olga").get(URL)
    assert response.status_code == 400
    assert "namespace, starred or public" in response.json()["error_message"]


def test_pages_follow_next_page_tokens_until_the_last_page(session_client, world, monkeypatch):
    for i in range(5):
        make_repository("acme", f"bulk{i}")
    monkeypatch.setattr("repositories.api.repositories.PAGE_SIZE", 3)
    client = session_client("olga")
    seen, params = [], {"namespace": "acme"}
    for _ in range(5):
        body = client.get(URL, params).json()
        seen += [r["name"] for r in body["repositories"]]
        if "next_page" not in body:
            break
        params = {"namespace": "acme", "next_page": body["next_page"]}
    assert seen == ["bulk0", "bulk1", "bulk2", "bulk3", "bulk4", "public-docs", "secret", "web"]


def test_a_forged_next_page_token_is_a_bad_request(session_client, world):
    response = session_client("olga").get(URL, {"namespace": "acme", "next_page": "eyJhZnRlciI6ImFjbWUvYSJ9:forged"})
    assert response.status_code == 400
    assert response.json()["error_message"] == "invalid next_page token"


def test_a_listing_costs_a_bounded_number_of_queries(session_client, world, django_assert_max_num_queries):
    for i in range(30):
        repository = make_repository("acme", f"many{i}")
        Star.objects.create(user=world.users["olga"], repository=repository)
    client = session_client("olga")
    with django_assert_max_num_queries(8):
        response = client.get(URL, {"namespace": "acme", "public": "true", "last_modified": "true"})
    assert len(response.json()["repositories"]) == 33
