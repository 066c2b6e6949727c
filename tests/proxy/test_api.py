"""``/api/v1/organization/<org>/proxycache`` and ``validateproxycache``: organization admins
configure, check and remove a pull-through cache; members, outsiders and anonymous callers may not;
the password is never shown and is stored encrypted."""

from __future__ import annotations

import pytest

from organizations.models import Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.models import ProxyCacheConfig, Repository
from repositories.services.proxy import proxy_credentials
from tests.api.conftest import make_user

pytestmark = [pytest.mark.django_db]

URL = "/api/v1/organization/cache/proxycache"
VALIDATE = "/api/v1/organization/cache/validateproxycache"


@pytest.fixture
def org(alice, bob):
    """``cache``: alice administers it, bob is a plain member."""
    organization = organization_create(name="cache", creator=alice)
    team_member_add(team=team_upsert(organization=organization, name="readers", role=Team.TeamRole.MEMBER, description=""), user=bob)
    return organization


def test_an_admin_configures_reads_and_removes_a_proxy_cache(org, alice, login):
    client = login(alice)

    created = client.post(URL, {"upstream_registry": "127.0.0.1:5999/library", "upstream_registry_username": "me",
                                "upstream_registry_password": "s3cret", "expiration_s": 3600, "insecure": True}, format="json")
    shown = client.get(URL)
    again = client.post(URL, {"upstream_registry": "127.0.0.1:5999/other"}, format="json")
    removed = client.delete(URL)
    after = client.get(URL)

    assert created.status_code == 201, created.content
    assert shown.status_code == 200
    body = shown.json()
    assert body["upstream_registry"] == "127.0.0.1:5999/library" and body["expiration_s"] == 3600 and body["insecure"] is True
    assert body["upstream_registry_username"] == "me" and "s3cret" not in shown.content.decode()
    assert again.status_code == 409
    assert removed.status_code == 204
    assert after.json()["upstream_registry"] is None and not ProxyCacheConfig.objects.exists()


def test_the_upstream_password_is_stored_encrypted(org, alice, login):
    login(alice).post(URL, {"upstream_registry": "127.0.0.1:5999", "upstream_registry_username": "me", "upstream_registry_password": "s3cret"}, format="json")

    config = ProxyCacheConfig.objects.get()

    assert "s3cret" not in config.password_encrypted and "me" not in config.username_encrypted
    assert proxy_credentials(config).password == "s3cret"


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_members_and_outsiders_may_not_touch_the_configuration(org, bob, login, method):
    carol = make_user("carol")  # no member of cache
    for user in (bob, carol):
        response = getattr(login(user), method)(URL, {"upstream_registry": "127.0.0.1:5999"}, format="json")
        assert response.status_code == 403, (user.username, response.content)
    assert not ProxyCacheConfig.objects.exists()


def test_anonymous_callers_are_asked_to_authenticate(org, anonymous):
    assert anonymous.get(URL).status_code == 401
    assert anonymous.post(URL, {"upstream_registry": "127.0.0.1:5999"}, format="json").status_code == 401
    assert anonymous.post(VALIDATE, {"upstream_registry": "127.0.0.1:5999"}, format="json").status_code == 401


def test_a_superuser_may_configure_any_organization(org, root, login):
    assert login(root).post(URL, {"upstream_registry": "127.0.0.1:5999"}, format="json").status_code == 201


def test_an_organization_with_repositories_cannot_become_a_cache(org, alice, login):
    Repository.objects.create(namespace=org.namespace, name="app", full_name="cache/app")

    response = login(alice).post(URL, {"upstream_registry": "127.0.0.1:5999"}, format="json")

    assert response.status_code == 409
    assert "already has repositories" in response.content.decode()


@pytest.mark.parametrize("upstream_registry", ["", "ftp://host", "host/ns:tag", "user@host/ns", "a b"])
def test_a_bad_upstream_is_refused(org, alice, login, upstream_registry):
    response = login(alice).post(URL, {"upstream_registry": upstream_registry}, format="json")

    assert response.status_code == 400, response.content
    assert not ProxyCacheConfig.objects.exists()


def test_the_outbound_policy_refuses_private_upstreams(org, alice, login, settings):
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": []}}

    response = login(alice).post(URL, {"upstream_registry": "10.1.2.3:5000/lib"}, format="json")

    assert response.status_code == 400
    assert not ProxyCacheConfig.objects.exists()


def test_validate_accepts_good_credentials_and_names_the_problem_of_bad_ones(org, alice, bob, login, basic_upstream):
    registry = f"127.0.0.1:{basic_upstream.port}"
    client = login(alice)

    good = client.post(VALIDATE, {"upstream_registry": registry, "upstream_registry_username": "puller",
                                  "upstream_registry_password": "pull-secret", "insecure": True}, format="json")
    bad = client.post(VALIDATE, {"upstream_registry": registry, "upstream_registry_username": "puller",
                                 "upstream_registry_password": "wrong", "insecure": True}, format="json")
    member = login(bob).post(VALIDATE, {"upstream_registry": registry, "insecure": True}, format="json")

    assert good.status_code == 202 and good.json() == {"status": "Valid"}
    assert bad.status_code == 400 and "did not accept" in bad.content.decode()
    assert member.status_code == 403
