"""/api/v1/user/starred."""

from __future__ import annotations

from repositories.models import Repository, Star

URL = "/api/v1/user/starred"


def test_a_user_stars_a_readable_repository(session_client, world):
    response = session_client("rita").post(URL, {"namespace": "acme", "repository": "web"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"namespace": "acme", "repository": "web"}
    assert Star.objects.filter(user=world.users["rita"], repository=world.repos["web"]).exists()


def test_starring_twice_keeps_one_star(session_client, world):
    client = session_client("rita")
    client.post(URL, {"namespace": "acme", "repository": "web"}, format="json")
    assert client.post(URL, {"namespace": "acme", "repository": "web"}, format="json").status_code == 201
    assert Star.objects.filter(user=world.users["rita"]).count() == 1


def test_an_unreadable_repository_cannot_be_starred(session_client, world):
    assert session_client("nora").post(URL, {"namespace": "acme", "repository": "web"}, format="json").status_code == 404


def test_the_starred_list_has_quays_fields(session_client, world):
    Star.objects.create(user=world.users["nora"], repository=world.repos["public"])
    assert session_client("nora").get(URL).json() == {
        "repositories": [{"namespace": "acme", "name": "public-docs", "description": "", "is_public": True}]
    }


def test_the_starred_list_leaves_out_repositories_that_became_unreadable(session_client, world):
    Star.objects.create(user=world.users["nora"], repository=world.repos["public"])
    Repository.objects.filter(pk=world.repos["public"].pk).update(visibility="private")
    assert session_client("nora").get(URL).json()["repositories"] == []


def test_unstarring(jwt_client, world):
    Star.objects.create(user=world.users["rita"], repository=world.repos["web"])
    assert jwt_client("rita").delete(f"{URL}/acme/web").status_code == 204
    assert not Star.objects.exists()


def test_a_star_on_a_repository_that_became_unreadable_can_still_be_removed(session_client, world):
    Star.objects.create(user=world.users["nora"], repository=world.repos["public"])
    Repository.objects.filter(pk=world.repos["public"].pk).update(visibility="private")
    assert session_client("nora").delete(f"{URL}/acme/public-docs").status_code == 204
    assert not Star.objects.exists()


def test_unstarring_an_unreadable_repository_without_a_star_is_not_found(session_client, world):
    assert session_client("nora").delete(f"{URL}/acme/secret").status_code == 404


def test_robots_have_no_stars(robot_client, world):
    assert robot_client.get(URL).status_code == 403


def test_anonymous_callers_have_no_stars(anonymous, world):
    assert anonymous.get(URL).status_code == 401
