"""Every web UI page as a superuser, an organization admin, a member, an outsider and an anonymous
visitor: the right content, no 500s, nothing private shown to those who may not read it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from repositories.models import Repository
from repositories.services.tags import tag_delete, tag_set_expiration
from repositories.web.selectors import VULNERABILITY_PLACEHOLDER
from tests.api.tags.helpers import push_image
from tests.factories import RepositoryFactory
from tests.web.world import SIGNATURE_TYPE, World

SECRETS = ("Top secret payroll service", "classified-label", "acme/secret", "alice/tools")


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def all_urls(world: World) -> list[str]:
    web, secret = "/ui/repository/acme/web", "/ui/repository/acme/secret"
    return [
        "/ui/", "/ui/?q=web", "/ui/?namespace=acme", "/ui/?public=1", "/ui/?starred=1", "/ui/?page=99", "/ui/?page=x",
        web, f"{web}?history=2", f"{web}/manifest/{world.image.digest}", f"{web}/manifest/{world.index.digest}",
        f"{web}/manifest/{world.signature.digest}", secret, f"{secret}/manifest/{world.secret_image.digest}",
        "/ui/repository/alice/tools", "/ui/organization/acme", "/ui/user/alice", "/ui/signin", "/ui/settings",
    ]


# --- routing -----------------------------------------------------------------------------------


def test_root_redirects_to_the_ui_and_other_routes_still_answer(world, client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/ui/"
    assert client.get("/v2/").status_code == 401  # the OCI API, not the UI
    assert client.get("/v2/acme/web/tags/list").status_code == 200  # public, anonymous pull
    assert client.get("/api/v1/repository/acme/web").status_code == 200
    assert client.get("/health/instance").status_code == 200
    assert client.get("/admin/").status_code == 302
    assert client.get("/ui/no-such-page").status_code == 404


@pytest.mark.parametrize("who", ["anonymous", "outsider", "dev", "owner", "alice", "root"])
def test_no_page_fails_and_private_data_stays_private(world, signed_in, who):
    user = None if who == "anonymous" else getattr(world, who)
    client = signed_in(user)
    for url in all_urls(world):
        response = client.get(url)
        assert response.status_code in (200, 302, 404), (who, url, response.status_code)
        body = re.sub(r"next=[^\"]*", "", response.content.decode())  # the visitor's own URL, echoed
        assert world.robot_token not in body
        if who in ("anonymous", "outsider"):
            for secret in SECRETS:
                assert secret not in body, (who, url, secret)


# --- explore -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "visible", "hidden"),
    [
        ("anonymous", ["acme/web"], ["acme/secret", "alice/tools"]),
        ("outsider", ["acme/web"], ["acme/secret", "alice/tools"]),
        ("dev", ["acme/web", "acme/secret"], ["alice/tools"]),
        ("alice", ["acme/web", "alice/tools"], ["acme/secret"]),
        ("root", ["acme/web", "acme/secret", "alice/tools"], []),
    ],
)
def test_explore_lists_only_readable_repositories(world, signed_in, who, visible, hidden):
    body = page(signed_in(None if who == "anonymous" else getattr(world, who)), "/ui/")
    for name in visible:
        assert f'href="/ui/repository/{name}"' in body
    for name in hidden:
        assert name not in body


def test_explore_without_anonymous_pull_shows_nothing_to_anonymous(world, client, settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "anonymous_pull": False}
    assert "acme/web" not in page(client, "/ui/")
    page(client, "/ui/repository/acme/web", 404)


def test_explore_filters(world, signed_in):
    root = signed_in(world.root)
    body = page(root, "/ui/?q=payroll")  # description
    assert "acme/secret" in body and "acme/web" not in body
    body = page(root, "/ui/?q=acme/we")  # namespace/name
    assert "acme/web" in body and "acme/secret" not in body
    body = page(root, "/ui/?namespace=alice")
    assert "alice/tools" in body and "acme/" not in body.split("<table", 1)[1]
    assert '<option value="alice">' in body or '<option value="alice" selected>' in body
    body = page(root, "/ui/?public=1")
    assert "acme/web" in body and "acme/secret" not in body and "alice/tools" not in body
    body = page(signed_in(world.alice), "/ui/?starred=1")
    assert "acme/web" in body and "alice/tools" not in body and "starred by you" in body
    # anonymous visitors have no stars: the filter is ignored, not an error
    assert "acme/web" in page(Client(), "/ui/?starred=1")
    assert 'id="starred"' not in page(Client(), "/ui/")


def test_explore_paginates(world, signed_in, django_assert_max_num_queries):
    for n in range(30):
        RepositoryFactory(namespace=world.organization.namespace, name=f"zz{n:02d}", visibility=Repository.Visibility.PUBLIC)
    client = signed_in(world.outsider)
    first = page(client, "/ui/?namespace=acme")
    assert "31 repositories" in first and "Page 1 of 2" in first and 'href="?namespace=acme&amp;page=2"' in first
    second = page(client, "/ui/?namespace=acme&page=2")
    assert "acme/zz29" in second and "acme/web" not in second and "Page 2 of 2" in second
    with django_assert_max_num_queries(12):  # one query for the rows whatever the page size
        client.get("/ui/?namespace=acme")


# --- repository page ---------------------------------------------------------------------------


def test_repository_page_shows_tags_pull_commands_and_history(world, signed_in, settings):
    settings.MOORAGE_SERVER_HOSTNAME = "registry.example.test"
    old = push_image(world.public, "old")
    tag_delete(repository=world.public, name="old")
    expiry = timezone.now() + timedelta(days=3)
    tag_set_expiration(repository=world.public, name="multi", expires_at=expiry)
    body = page(signed_in(world.outsider), "/ui/repository/acme/web")
    assert "The public web frontend" in body
    assert "podman pull registry.example.test/acme/web:latest" in body
    assert "skopeo copy docker://registry.example.test/acme/web:latest oci:web:latest" in body
    tags = body.split('id="tags"', 1)[1].split('id="history"', 1)[0]
    assert ">latest<" in tags and ">multi<" in tags and ">old<" not in tags
    assert expiry.strftime("%Y-%m-%d %H:%M") in tags
    assert f'/ui/repository/acme/web/manifest/{world.image.digest}' in tags
    history = body.split('id="history"', 1)[1]
    assert ">old<" in history and old.digest[:15] in history
    assert 'action="/ui/star/acme/web"' in body  # signed in: may star


def test_pull_host_falls_back_to_the_request_host(world, client, settings):
    settings.MOORAGE_SERVER_HOSTNAME = ""
    body = page(client, "/ui/repository/acme/web", 200)
    assert "podman pull testserver/acme/web:latest" in body
    assert "/ui/star/" not in body  # anonymous: no star form


@pytest.mark.parametrize(("who", "status"), [("anonymous", 404), ("outsider", 404), ("alice", 404), ("dev", 200), ("owner", 200), ("root", 200)])
def test_private_repository_page_is_404_for_outsiders(world, signed_in, who, status):
    client = signed_in(None if who == "anonymous" else getattr(world, who))
    body = page(client, "/ui/repository/acme/secret", status)
    page(client, f"/ui/repository/acme/secret/manifest/{world.secret_image.digest}", status)
    assert ("Top secret payroll service" in body) == (status == 200)


def test_private_and_missing_repositories_get_the_same_404_page(world, signed_in):
    outsider = signed_in(world.outsider)
    private = page(outsider, "/ui/repository/acme/secret", 404)
    missing = page(outsider, "/ui/repository/acme/nothing", 404)
    assert "Not found" in private and "There is no such repository, or you may not see it." in private
    unmask = lambda body: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)  # noqa: E731 - masked per render
    assert unmask(private) == unmask(missing).replace("acme/nothing", "acme/secret")  # nothing tells them apart
    assert "Sign in</a> if it is yours" in page(Client(), "/ui/repository/acme/secret", 404)


def test_unknown_repository_and_manifest_are_404(world, signed_in):
    root = signed_in(world.root)
    page(root, "/ui/repository/acme/nothing", 404)
    page(root, f"/ui/repository/acme/web/manifest/{world.secret_image.digest}", 404)  # exists, but elsewhere
    page(root, "/ui/repository/acme/web/manifest/sha256:" + "0" * 64, 404)


# --- manifest page -----------------------------------------------------------------------------


def test_image_manifest_page(world, client):
    body = page(client, f"/ui/repository/acme/web/manifest/{world.image.digest}")
    assert world.image.digest in body and "Layers" in body
    assert body.count("/bin/sh -c step") == 2  # two layers with their history
    assert "maintainer" in body and "ops@acme.test" in body  # labels from the config
    assert SIGNATURE_TYPE in body and world.signature.digest[:15] in body  # the signature refers to it
    assert VULNERABILITY_PLACEHOLDER in body
    assert f"podman pull testserver/acme/web@{world.image.digest}" in body
    assert f'href="/ui/repository/acme/web/manifest/{world.index.digest}"' in body  # part of the index
    assert ">latest<" in body


def test_index_manifest_page_links_its_platforms(world, client):
    body = page(client, f"/ui/repository/acme/web/manifest/{world.index.digest}")
    assert "Platforms" in body and "linux/amd64" in body and "linux/arm64" in body
    for child in (world.image, world.arm):
        assert f'href="/ui/repository/acme/web/manifest/{child.digest}"' in body
    assert "Layers" not in body


def test_referrer_page_links_back_to_its_subject(world, client):
    body = page(client, f"/ui/repository/acme/web/manifest/{world.signature.digest}")
    assert "Artifact" in body and SIGNATURE_TYPE in body
    assert f'href="/ui/repository/acme/web/manifest/{world.image.digest}"' in body


# --- stars -------------------------------------------------------------------------------------


def _csrf_post(client: Client, page_url: str, action_url: str, data: dict) -> object:
    client.get(page_url)
    return client.post(action_url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def test_star_and_unstar_with_csrf(world, signed_in):
    client = signed_in(world.dev, csrf=True)
    assert client.post("/ui/star/acme/secret", {"action": "star"}).status_code == 403  # no CSRF token
    assert not world.dev.stars.exists()
    response = _csrf_post(client, "/ui/repository/acme/secret", "/ui/star/acme/secret", {"action": "star"})
    assert response.status_code == 302 and response["Location"] == "/ui/repository/acme/secret"
    assert list(world.dev.stars.values_list("repository__full_name", flat=True)) == ["acme/secret"]
    body = page(client, "/ui/repository/acme/secret")
    assert 'value="unstar"' in body and "1 star" in body
    _csrf_post(client, "/ui/repository/acme/secret", "/ui/star/acme/secret", {"action": "unstar"})
    assert not world.dev.stars.exists()


def test_star_needs_a_signed_in_reader(world, signed_in):
    response = Client().post("/ui/star/acme/web", {"action": "star"})
    assert response.status_code == 302 and response["Location"].startswith("/ui/signin?next=")
    outsider = signed_in(world.outsider)
    assert outsider.post("/ui/star/acme/secret", {"action": "star"}).status_code == 404
    assert not world.outsider.stars.exists()
    assert outsider.get("/ui/star/acme/web").status_code == 405


# --- organization page -------------------------------------------------------------------------


def _section(body: str, heading_id: str) -> str:
    return body.split(f'id="{heading_id}"', 1)[1] if f'id="{heading_id}"' in body else ""


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_organization_page_for_outsiders(world, signed_in, who):
    body = page(signed_in(None if who == "anonymous" else world.outsider), "/ui/organization/acme")
    assert 'href="/ui/repository/acme/web"' in body and "acme/secret" not in body
    for private in ('id="teams"', 'id="robots"', 'id="defaults"', 'id="quota"', "registry@acme.test", "acme+deployer"):
        assert private not in body


def test_organization_page_for_a_member(world, signed_in):
    body = page(signed_in(world.dev), "/ui/organization/acme")
    assert 'href="/ui/repository/acme/secret"' in body  # dev reads it
    teams = _section(body, "teams")
    developers = teams.split('id="team-developers"', 1)[1]
    owners = teams.split('id="team-owners"', 1)[1].split('id="team-developers"', 1)[0]
    assert "<li>dev</li>" in developers and "acme+deployer" in developers
    assert "owner</li>" not in owners and "Only the team" in owners  # not a member of owners
    robots = _section(body, "robots")
    assert "docker login --username=&#x27;acme+deployer&#x27; testserver" in robots
    assert 'id="defaults"' not in body and 'id="quota"' not in body and "registry@acme.test" not in body


@pytest.mark.parametrize("who", ["owner", "root"])
def test_organization_page_for_admins(world, signed_in, who):
    body = page(signed_in(getattr(world, who)), "/ui/organization/acme")
    assert "registry@acme.test" in body
    assert "<li>owner</li>" in _section(body, "teams")
    defaults = _section(body, "defaults")
    assert "team developers" in defaults and "Read" in defaults
    quota = _section(body, "quota")
    assert "10.0\xa0MB" in quota and "% used" in quota
    assert world.robot_token not in body


def test_unknown_organization_and_user_namespace_are_404(world, client):
    page(client, "/ui/organization/nope", 404)
    page(client, "/ui/organization/alice", 404)  # a user's namespace, not an organization
    page(client, "/ui/user/nope", 404)
    page(client, "/ui/user/acme", 404)  # an organization, not a user


# --- a user's namespace ------------------------------------------------------------------------


@pytest.fixture
def alice_robot(world):
    from accounts.services import robot_create

    return robot_create(namespace=world.alice.namespace, shortname="builder", description="Alice's CI")


@pytest.mark.parametrize("who", ["anonymous", "outsider", "dev"])
def test_user_page_shows_others_only_the_repositories_they_may_read(world, signed_in, alice_robot, who):
    body = page(signed_in(None if who == "anonymous" else getattr(world, who)), "/ui/user/alice")
    assert "<h1>alice</h1>" in body
    assert "alice/tools" not in body and "No repositories you may read." in body
    for private in ('id="robots"', 'id="quota"', "alice+builder", "Your settings"):
        assert private not in body


def test_user_page_for_its_owner_shows_robots_with_login_and_storage(world, signed_in, alice_robot):
    body = page(signed_in(world.alice), "/ui/user/alice")
    assert 'href="/ui/repository/alice/tools"' in body and "this is you" in body
    robots = _section(body, "robots")
    assert "docker login --username=&#x27;alice+builder&#x27; testserver" in robots
    assert alice_robot.token not in body
    assert "In use" in _section(body, "quota")


def test_user_page_for_a_superuser_shows_everything(world, signed_in, alice_robot):
    body = page(signed_in(world.root), "/ui/user/alice")
    assert 'href="/ui/repository/alice/tools"' in body and "alice+builder" in body and 'id="quota"' in body
    assert "this is you" not in body


def test_personal_repository_breadcrumb_links_the_user_page(world, signed_in):
    body = page(signed_in(world.alice), "/ui/repository/alice/tools")
    assert 'href="/ui/user/alice"' in body


# --- settings and app tokens -------------------------------------------------------------------


def test_settings_needs_sign_in(world, client):
    response = client.get("/ui/settings")
    assert response.status_code == 302 and response["Location"] == "/ui/signin?next=/ui/settings"


def test_app_token_created_shown_once_listed_and_revoked(world, signed_in):
    from accounts.services import credentials_verify

    client = signed_in(world.alice, csrf=True)
    assert client.post("/ui/settings", {"title": "no csrf"}).status_code == 403
    assert not world.alice.app_tokens.exists()
    response = _csrf_post(client, "/ui/settings", "/ui/settings", {"title": "CI laptop", "expires_in_days": "30"})
    assert response.status_code == 302 and response["Location"] == "/ui/settings"
    token = world.alice.app_tokens.get()
    assert token.title == "CI laptop" and token.expires_at is not None
    body = page(client, "/ui/settings")
    secret = body.split('<pre id="new-token"><code>', 1)[1].split("</code>", 1)[0]
    assert "shown only this once" in body and len(secret) > 20
    principal = credentials_verify(username="alice", password=secret)
    assert principal is not None and principal.via == "app_token"
    again = page(client, "/ui/settings")
    assert secret not in again and "shown only this once" not in again and "CI laptop" in again
    # another user cannot revoke it
    bob = signed_in(world.outsider)
    assert bob.post(f"/ui/settings/tokens/{token.uuid}/revoke").status_code == 404
    assert bob.post("/ui/settings/tokens/not-a-uuid/revoke").status_code == 404
    assert world.alice.app_tokens.exists()
    # CSRF on revoke, then revoke
    assert client.post(f"/ui/settings/tokens/{token.uuid}/revoke").status_code == 403
    response = _csrf_post(client, "/ui/settings", f"/ui/settings/tokens/{token.uuid}/revoke", {})
    assert response.status_code == 302
    assert not world.alice.app_tokens.exists()
    assert credentials_verify(username="alice", password=secret) is None
    assert "Revoked the app token" in page(client, "/ui/settings")


def test_app_token_form_errors(world, signed_in):
    client = signed_in(world.alice)
    response = client.post("/ui/settings", {"title": "", "expires_in_days": "7"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not world.alice.app_tokens.exists()


# --- sign in and out ---------------------------------------------------------------------------


def test_sign_in_and_out(world):
    client = Client(enforce_csrf_checks=True)
    body = page(client, "/ui/signin?next=/ui/organization/acme")
    assert '<label for="id_username">' in body and '<label for="id_password">' in body
    token = client.cookies["csrftoken"].value
    wrong = client.post("/ui/signin", {"username": "dev", "password": "nope", "next": "/ui/organization/acme", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.content.decode()
    right = client.post(
        "/ui/signin", {"username": "dev", "password": "correct-horse-battery", "next": "/ui/organization/acme", "csrfmiddlewaretoken": token}
    )
    assert right.status_code == 302 and right["Location"] == "/ui/organization/acme"
    assert "Sign out" in page(client, "/ui/")
    assert client.get("/ui/signout").status_code == 405  # a link cannot sign anyone out
    token = client.cookies["csrftoken"].value
    out = client.post("/ui/signout", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == "/ui/"
    assert client.get("/ui/settings").status_code == 302


def test_sign_in_refuses_offsite_next_and_disabled_users(world):
    client = Client()
    response = client.post("/ui/signin", {"username": "dev", "password": "correct-horse-battery", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/ui/"
    world.outsider.is_active = False
    world.outsider.save(update_fields=["is_active"])
    response = Client().post("/ui/signin", {"username": "outsider", "password": "correct-horse-battery"})
    assert response.status_code == 200


def test_sign_in_is_throttled_after_repeated_failures(world):
    from django.core.cache import cache

    cache.delete("login-fail:user:owner")
    client = Client()
    for _ in range(5):
        client.post("/ui/signin", {"username": "owner", "password": "wrong"})
    response = client.post("/ui/signin", {"username": "owner", "password": "correct-horse-battery"})
    assert response.status_code == 200 and "Too many failed sign-ins" in response.content.decode()
    cache.delete("login-fail:user:owner")
    cache.delete("login-fail:ip:127.0.0.1")


# --- markup ------------------------------------------------------------------------------------


def test_pages_have_landmarks_ordered_headings_and_table_headers(world, signed_in):
    client = signed_in(world.owner)
    for url in all_urls(world):
        response = client.get(url)
        if response.status_code != 200:
            continue
        body = response.content.decode()
        assert '<main id="main"' in body and 'role="banner"' in body and 'role="contentinfo"' in body and '<nav aria-label="Main">' in body
        assert '<html lang="en">' in body
        levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", body)]
        assert levels and levels[0] == 1 and levels.count(1) == 1, url
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), (url, levels)  # never skips a level
        for table in re.findall(r"<table.*?</table>", body, re.S):
            assert '<th scope="col">' in table, url
        for field_id in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', body):
            assert f'for="{field_id}"' in body, (url, field_id)
