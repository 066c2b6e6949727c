"""Audit log endpoints: repository, organization, user and registry-wide logs and their per-day
counts, in Quay's shape, with Quay's filters and next_page tokens, and who may read which."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from accounts.principals import Principal
from repositories.services.repositories import permission_set, repository_get_or_create
from tests.api.admin.conftest import as_principal, log_entry, make_user

pytestmark = pytest.mark.django_db
UTC = dt_timezone.utc


def kinds(response) -> list[str]:
    return [entry["kind"] for entry in response.json()["logs"]]


def test_repository_logs_have_quays_shape(login, alice, acme_app):
    log_entry("push_repo", by=as_principal(alice), repository=acme_app, metadata={"tag": "v1"}, at=datetime(2026, 8, 3, 10, 30, tzinfo=UTC))

    response = login(alice).get("/api/v1/repository/acme/app/logs", {"starttime": "08/01/2026", "endtime": "08/05/2026"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["start_time"] == "Sat, 01 Aug 2026 00:00:00 -0000"
    assert body["end_time"] == "Thu, 06 Aug 2026 00:00:00 -0000"  # the end day is included, as in Quay
    assert "next_page" not in body
    assert body["logs"] == [
        {
            "kind": "push_repo",
            "metadata": {"tag": "v1", "namespace": "acme", "repo": "app"},
            "ip": "192.0.2.7",
            "datetime": "Mon, 03 Aug 2026 10:30:00 -0000",
            "performer": {"kind": "user", "name": "alice", "is_robot": False},
            "namespace": {"kind": "org", "name": "acme"},
        }
    ]


def test_repository_logs_show_only_that_repository(login, alice, acme_app):
    other = repository_get_or_create(name="acme/other")
    log_entry("push_repo", by=as_principal(alice), repository=acme_app)
    log_entry("delete_tag", by=as_principal(alice), repository=other)

    assert kinds(login(alice).get("/api/v1/repository/acme/app/logs")) == ["push_repo"]


def test_nested_repository_names_reach_their_logs(login, alice, acme):
    nested = repository_get_or_create(name="acme/team/tools/app")
    log_entry("push_repo", by=as_principal(alice), repository=nested)

    response = login(alice).get("/api/v1/repository/acme/team/tools/app/logs")

    assert response.status_code == 200, response.content
    assert response.json()["logs"][0]["metadata"]["repo"] == "team/tools/app"


def test_the_default_window_is_the_last_week(login, alice, acme_app):
    log_entry("push_repo", by=as_principal(alice), repository=acme_app, at=timezone.now() - timedelta(days=6))
    log_entry("pull_repo", by=as_principal(alice), repository=acme_app, at=timezone.now() - timedelta(days=8))

    assert kinds(login(alice).get("/api/v1/repository/acme/app/logs")) == ["push_repo"]


@pytest.mark.parametrize(
    ("starttime", "endtime", "expected"),
    [
        ("08/02/2026", "08/02/2026", ["b"]),  # Quay's format: one whole day
        ("2026-08-02", "2026-08-03", ["c", "b"]),  # ISO dates: the end day included
        ("2026-08-02T12:00:00Z", "2026-08-03T12:00:00+00:00", ["b"]),  # ISO date-times: exact
        ("2026-08-01T00:00:00", "2026-08-03T00:00:00", ["b", "a"]),  # naive date-times are UTC
    ],
)
def test_starttime_and_endtime_select_the_window(login, alice, acme_app, starttime, endtime, expected):
    for kind, moment in (("a", datetime(2026, 8, 1, 9, tzinfo=UTC)), ("b", datetime(2026, 8, 2, 18, tzinfo=UTC)), ("c", datetime(2026, 8, 3, 15, tzinfo=UTC))):
        log_entry(kind, by=as_principal(alice), repository=acme_app, at=moment)

    response = login(alice).get("/api/v1/repository/acme/app/logs", {"starttime": starttime, "endtime": endtime})

    assert response.status_code == 200, response.content
    assert kinds(response) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"starttime": "13/45/2026"}, "starttime must be a date"),
        ({"endtime": "yesterday"}, "endtime must be a date"),
        ({"starttime": "08/05/2026", "endtime": "08/01/2026"}, "endtime is before starttime"),
        ({"endtime": "12/31/9999"}, "date out of range"),
        ({"next_page": "not-a-token"}, "next_page is not a page token"),
    ],
)
def test_bad_filters_are_a_clear_400(login, alice, acme_app, params, message):
    response = login(alice).get("/api/v1/repository/acme/app/logs", params)

    assert response.status_code == 400
    assert response.json()["error_type"] == "invalid_request"
    assert message in response.json()["error_message"]


def test_performer_filters_by_user_or_robot(login, alice, bob, acme_app, acme_robot):
    log_entry("push_repo", by=as_principal(alice), repository=acme_app)
    log_entry("pull_repo", by=as_principal(bob), repository=acme_app)
    robot = Principal(kind="robot", id=acme_robot.robot.pk, name="acme+deployer")
    log_entry("push_repo", by=robot, repository=acme_app)
    client = login(alice)

    robot_page = client.get("/api/v1/repository/acme/app/logs", {"performer": "acme+deployer"}).json()["logs"]
    bob_page = client.get("/api/v1/repository/acme/app/logs", {"performer": "bob"}).json()["logs"]

    assert [(e["kind"], e["performer"]) for e in robot_page] == [("push_repo", {"kind": "user", "name": "acme+deployer", "is_robot": True})]
    assert [e["kind"] for e in bob_page] == ["pull_repo"]


def test_anonymous_entries_have_no_performer(login, alice, acme_app):
    log_entry("pull_repo", by=None, repository=acme_app)

    (entry,) = login(alice).get("/api/v1/repository/acme/app/logs").json()["logs"]

    assert "performer" not in entry


def test_next_page_walks_every_entry_once_newest_first(login, alice, acme_app, django_assert_max_num_queries):
    moment = timezone.now() - timedelta(hours=1)
    # 45 entries, several sharing one timestamp: the keyset must break ties by id
    for n in range(45):
        log_entry(f"k{n:02d}", by=as_principal(alice), repository=acme_app, at=moment + timedelta(seconds=n // 3))
    client = login(alice)
    seen, pages, params = [], 0, {}
    while True:
        with django_assert_max_num_queries(8):
            body = client.get("/api/v1/repository/acme/app/logs", params).json()
        pages += 1
        seen += [entry["kind"] for entry in body["logs"]]
        if "next_page" not in body:
            break
        params = {"next_page": body["next_page"]}

    assert pages == 3
    assert len(seen) == 45 and len(set(seen)) == 45
    expected_order = sorted(seen, key=lambda kind: (int(kind[1:]) // 3, int(kind[1:])), reverse=True)
    assert seen == expected_order


def test_a_tampered_page_token_is_refused(login, alice, acme_app):
    for n in range(25):
        log_entry(f"k{n}", by=as_principal(alice), repository=acme_app)
    client = login(alice)
    token = client.get("/api/v1/repository/acme/app/logs").json()["next_page"]

    response = client.get("/api/v1/repository/acme/app/logs", {"next_page": token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")})

    assert response.status_code == 400


def test_aggregatelogs_count_per_day_and_kind(login, alice, acme_app):
    for moment, kind in [
        (datetime(2026, 8, 1, 1, tzinfo=UTC), "push_repo"),
        (datetime(2026, 8, 1, 23, tzinfo=UTC), "push_repo"),
        (datetime(2026, 8, 1, 12, tzinfo=UTC), "pull_repo"),
        (datetime(2026, 8, 3, 12, tzinfo=UTC), "push_repo"),
        (datetime(2026, 8, 9, 12, tzinfo=UTC), "push_repo"),  # outside the window
    ]:
        log_entry(kind, by=as_principal(alice), repository=acme_app, at=moment)

    response = login(alice).get("/api/v1/repository/acme/app/aggregatelogs", {"starttime": "08/01/2026", "endtime": "08/07/2026"})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "aggregated": [
            {"kind": "pull_repo", "count": 1, "datetime": "Sat, 01 Aug 2026 00:00:00 -0000"},
            {"kind": "push_repo", "count": 2, "datetime": "Sat, 01 Aug 2026 00:00:00 -0000"},
            {"kind": "push_repo", "count": 1, "datetime": "Mon, 03 Aug 2026 00:00:00 -0000"},
        ]
    }


# --- who may read repository logs ------------------------------------------------------------


def test_a_member_without_admin_cannot_read_repository_logs(login, bob, acme_app):
    permission_set(repository=acme_app, user=bob, role="write")

    response = login(bob).get("/api/v1/repository/acme/app/logs")

    assert response.status_code == 403


def test_a_stranger_gets_404_for_a_private_repository(login, acme_app):
    response = login(make_user("mallory")).get("/api/v1/repository/acme/app/aggregatelogs")

    assert response.status_code == 404


def test_anonymous_callers_must_sign_in(anonymous, acme_app):
    assert anonymous.get("/api/v1/repository/acme/app/logs").status_code == 401


def test_superusers_and_readonly_superusers_read_repository_logs(bearer, root, auditor, acme_app):
    log_entry("push_repo", repository=acme_app)

    assert kinds(bearer(root).get("/api/v1/repository/acme/app/logs")) == ["push_repo"]
    assert kinds(bearer(auditor).get("/api/v1/repository/acme/app/logs")) == ["push_repo"]


def test_a_token_without_repo_admin_scope_cannot_read_logs(bearer, alice, acme_app):
    assert bearer(alice, "repo:read").get("/api/v1/repository/acme/app/logs").status_code == 403
    assert bearer(alice, "repo:admin").get("/api/v1/repository/acme/app/logs").status_code == 200


def test_logs_of_a_read_only_repository_stay_readable(login, alice, acme_app):
    acme_app.state = acme_app.State.READ_ONLY
    acme_app.save(update_fields=["state"])

    assert login(alice).get("/api/v1/repository/acme/app/logs").status_code == 200


# --- organization logs --------------------------------------------------------------------------


def test_organization_logs_show_the_organization_only(bearer, alice, acme, acme_app):
    log_entry("create_team", by=as_principal(alice), namespace="acme", metadata={"team": "devs"})
    log_entry("push_repo", by=as_principal(alice), repository=acme_app)
    log_entry("push_repo", by=as_principal(alice), namespace="alice")

    response = bearer(alice, "org:admin").get("/api/v1/organization/acme/logs")

    assert response.status_code == 200, response.content
    assert sorted(kinds(response)) == ["create_team", "push_repo"]
    assert {entry["namespace"]["name"] for entry in response.json()["logs"]} == {"acme"}


def test_organization_aggregatelogs(login, alice, acme):
    log_entry("create_team", by=as_principal(alice), namespace="acme")
    log_entry("create_team", by=as_principal(alice), namespace="acme")

    (row,) = login(alice).get("/api/v1/organization/acme/aggregatelogs").json()["aggregated"]

    assert (row["kind"], row["count"]) == ("create_team", 2)


def test_organization_members_who_are_not_admins_are_refused(login, bob, acme):
    assert login(bob).get("/api/v1/organization/acme/logs").status_code == 403
    assert login(bob).get("/api/v1/organization/acme/aggregatelogs").status_code == 403


def test_an_unknown_organization_is_403_for_users_and_404_for_superusers(login, bob, root):
    assert login(bob).get("/api/v1/organization/nosuch/logs").status_code == 403
    assert login(root).get("/api/v1/organization/nosuch/logs").status_code == 404


def test_a_token_without_org_admin_scope_cannot_read_organization_logs(bearer, alice, acme):
    assert bearer(alice, "repo:admin").get("/api/v1/organization/acme/logs").status_code == 403


def test_a_robot_is_not_an_organization_admin(robot_client, acme_robot):
    assert robot_client(acme_robot).get("/api/v1/organization/acme/logs").status_code == 403


# --- user logs ----------------------------------------------------------------------------------


def test_user_logs_show_the_own_namespace_and_own_logins(login, alice, bob, acme_app):
    log_entry("push_repo", by=as_principal(alice), namespace="alice")
    log_entry("login_success", by=as_principal(alice), metadata={"via": "password"})
    log_entry("login_success", by=as_principal(bob), metadata={"via": "password"})
    log_entry("push_repo", by=as_principal(alice), repository=acme_app)  # the organization's, not alice's

    response = login(alice).get("/api/v1/user/logs")

    assert response.status_code == 200, response.content
    assert sorted(kinds(response)) == ["login_success", "push_repo"]
    assert all(entry["performer"]["name"] == "alice" for entry in response.json()["logs"])


def test_user_aggregatelogs(bearer, alice):
    log_entry("login_success", by=as_principal(alice))

    assert bearer(alice).get("/api/v1/user/aggregatelogs").json()["aggregated"][0]["kind"] == "login_success"


def test_robots_have_no_user_logs(robot_client, acme_robot):
    assert robot_client(acme_robot).get("/api/v1/user/logs").status_code == 403


# --- registry-wide logs -------------------------------------------------------------------------


def test_superuser_logs_show_everything(login, root, alice, acme_app):
    log_entry("push_repo", by=as_principal(alice), repository=acme_app)
    log_entry("login_failure", metadata={"username": "ghost"})

    response = login(root).get("/api/v1/superuser/logs")

    assert response.status_code == 200
    assert sorted(kinds(response)) == ["login_failure", "push_repo"]


def test_readonly_superusers_read_superuser_logs_and_counts(bearer, auditor):
    log_entry("login_failure")

    assert bearer(auditor).get("/api/v1/superuser/logs").status_code == 200
    assert bearer(auditor).get("/api/v1/superuser/aggregatelogs").json()["aggregated"][0]["count"] == 1


@pytest.mark.parametrize("path", ["/api/v1/superuser/logs", "/api/v1/superuser/aggregatelogs"])
def test_superuser_logs_refuse_others(login, bearer, alice, root, path):
    assert login(alice).get(path).status_code == 403
    assert bearer(root, "repo:admin org:admin").get(path).status_code == 403  # a token without super:user


def test_listing_logs_costs_a_bounded_number_of_queries(login, root, alice, acme, django_assert_max_num_queries):
    for n in range(20):
        repository = repository_get_or_create(name=f"acme/app{n}")
        log_entry("push_repo", by=as_principal(alice), repository=repository)
        log_entry("push_repo", by=as_principal(alice), namespace="alice")
    client = login(root)

    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/superuser/logs")

    assert len(response.json()["logs"]) == 20


def test_names_and_filters_with_nul_bytes_are_refused_cleanly(login, root, alice, acme_app):
    # a NUL anywhere in an /api path or query is a 400 before any view runs (no database error)
    assert login(root).get("/api/v1/organization/a%00b/logs").status_code == 400
    assert login(alice).get("/api/v1/organization/a%00b/aggregatelogs").status_code == 400
    assert login(alice).get("/api/v1/repository/acme/app/logs", {"performer": "a\x00b"}).status_code == 400
