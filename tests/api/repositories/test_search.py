"""/api/v1/find/repositories and /api/v1/entities/<prefix>."""

from __future__ import annotations

from accounts.services import user_create
from repositories.models import Star

from .conftest import make_repository

FIND = "/api/v1/find/repositories"


def found(response) -> list[str]:
    return [f"{r['namespace']['name']}/{r['name']}" for r in response.json()["results"]]


def test_search_finds_only_readable_repositories(session_client, world):
    assert found(session_client("nora").get(FIND, {"query": ""})) == ["acme/public-docs"]
    assert found(session_client("olga").get(FIND, {"query": ""})) == ["acme/public-docs", "acme/secret", "acme/web"]


def test_search_results_have_quays_shape(anonymous, world):
    Star.objects.create(user=world.users["nora"], repository=world.repos["public"])
    body = anonymous.get(FIND, {"query": "docs"}).json()
    assert {k: body[k] for k in ("has_additional", "page", "page_size", "start_index")} == {
        "has_additional": False, "page": 1, "page_size": 10, "start_index": 0,
    }
    result = body["results"][0]
    assert {k: result[k] for k in ("kind", "title", "name", "is_public", "href", "stars")} == {
        "kind": "repository", "title": "repo", "name": "public-docs", "is_public": True, "href": "/repository/acme/public-docs", "stars": 1,
    }
    assert result["namespace"]["kind"] == "organization"


def test_search_matches_descriptions_after_names(session_client, world):
    assert found(session_client("olga").get(FIND, {"query": "front"})) == ["acme/web"]


def test_a_namespace_slash_query_narrows_to_the_namespace(session_client, world):
    assert found(session_client("root").get(FIND, {"query": "alice/cli"})) == ["alice/tools/cli"]


def test_search_pages_hold_ten_results(session_client, world):
    for i in range(12):
        make_repository("acme", f"svc{i:02d}")
    client = session_client("olga")
    first, second = client.get(FIND, {"query": "svc"}).json(), client.get(FIND, {"query": "svc", "page": 2}).json()
    assert (len(first["results"]), first["has_additional"]) == (10, True)
    assert (len(second["results"]), second["has_additional"], second["start_index"]) == (2, False, 10)


def test_search_costs_a_bounded_number_of_queries(session_client, world, django_assert_max_num_queries):
    client = session_client("olga")
    with django_assert_max_num_queries(6):
        client.get(FIND, {"query": "e"})


def entities(response) -> list[tuple[str, str]]:
    return [(r["kind"], r["name"]) for r in response.json()["results"]]


def test_entities_find_users_by_prefix(session_client, world):
    user_create(username="olivia", password=None)
    assert entities(session_client("nora").get("/api/v1/entities/ol")) == [("user", "olga"), ("user", "olivia")]


def test_org_members_also_find_the_orgs_robots_and_teams(session_client, world):
    response = session_client("tess").get("/api/v1/entities/de", {"namespace": "acme", "includeTeams": "true"})
    assert entities(response) == [("team", "devs"), ("user", "acme+deployer")]
    robot = response.json()["results"][1]
    assert (robot["is_robot"], robot["is_org_member"]) == (True, True)


def test_outsiders_do_not_see_an_orgs_robots_or_teams(session_client, world):
    assert entities(session_client("nora").get("/api/v1/entities/de", {"namespace": "acme", "includeTeams": "true"})) == []


def test_org_admins_find_the_org_itself(session_client, world):
    assert ("org", "acme") in entities(session_client("olga").get("/api/v1/entities/ac", {"namespace": "acme", "includeOrgs": "true"}))
    assert ("org", "acme") not in entities(session_client("tess").get("/api/v1/entities/ac", {"namespace": "acme", "includeOrgs": "true"}))


def test_user_entities_say_whether_they_belong_to_the_org(session_client, world):
    results = {r["name"]: r for r in session_client("olga").get("/api/v1/entities/t", {"namespace": "acme"}).json()["results"]}
    assert results["tess"]["is_org_member"] is True


def test_anonymous_callers_cannot_enumerate_users(anonymous, world):
    assert anonymous.get("/api/v1/entities/o").status_code == 401
