"""``/api/v1/users/<username>``: public information about a user."""

from __future__ import annotations


def test_anyone_sees_a_users_public_information(anonymous, alice):
    response = anonymous.get("/api/v1/users/alice")
    assert response.status_code == 200
    assert response.json() == {"anonymous": False, "username": "alice"}


def test_another_user_does_not_see_the_email(as_carol, alice):
    assert "email" not in as_carol.get("/api/v1/users/alice").json()


def test_a_user_asking_about_themselves_sees_their_details(as_carol):
    assert as_carol.get("/api/v1/users/carol").json() == {
        "anonymous": False, "username": "carol", "is_me": True, "email": "carol@example.test", "verified": True, "tag_expiration_s": 14 * 24 * 3600,
    }


def test_an_unknown_user_is_not_found(anonymous, db):
    assert anonymous.get("/api/v1/users/ghost").status_code == 404


def test_an_organization_is_not_a_user(anonymous, acme):
    assert anonymous.get("/api/v1/users/acme").status_code == 404


def test_a_robot_is_not_a_user(anonymous, acme_robot):
    assert anonymous.get("/api/v1/users/acme+deployer").status_code == 404
