"""REST API and site hardening, in process: an outsider walking every operation of the OpenAPI
schema never gets a 2xx on another user's private objects (and changes nothing); CSRF is enforced
on session-authenticated unsafe requests; security headers on every kind of response (HSTS only
over TLS, when configured); failed-login throttling on /api/v1/token/; oversized bodies are
refused outside /v2 uploads; and passwords and tokens from failed sign-ins never reach a log."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Robot
from accounts.services import principal_for_user, robot_create, user_create
from organizations.models import Organization, Team
from organizations.services import organization_create, team_member_add, team_upsert
from registry_site.logfilters import redact
from repositories.models import Repository, Tag
from repositories.services.repositories import repository_get_or_create
from tests.storage_ops.helpers import push_image

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ORG, REPO = "privateorg", "privateorg/secret"


@pytest.fixture
def private_world(db):
    """alice's organization ``privateorg`` (a robot ``bot``, a team ``devs``) with a private
    repository holding the image ``v1``; bob is an outsider with a JWT."""
    alice = user_create(username="alice", password=PASSWORD)
    bob = user_create(username="bob", password=PASSWORD)
    organization = organization_create(name=ORG, creator=alice)
    robot_create(namespace=organization.namespace, shortname="bot")
    team = team_upsert(organization=organization, name="devs", role=Team.TeamRole.MEMBER)
    team_member_add(team=team, user=alice)
    repository = repository_get_or_create(name=REPO, creator=principal_for_user(alice, "password"))
    digest, _ = push_image(repository, "v1", layer_sizes=(100,))
    client = APIClient(REMOTE_ADDR="10.9.0.1")
    response = client.post("/api/v1/token/", {"username": "bob", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return {"bob": bob, "client": client, "digest": digest, "repository": repository}


#: Values of every path parameter: alice's private objects, or ids that name nothing of bob's.
def parameter_values(digest: str) -> dict[str, str]:
    unknown = str(uuid.uuid4())
    return {
        "orgname": ORG, "namespace": ORG, "name": ORG, "repository": REPO, "manifestref": digest, "tag": "v1",
        "robot_shortname": "bot", "teamname": "devs", "membername": "alice", "username": "alice",
        "uuid": unknown, "quota_id": "1", "limit_id": "1", "prototypeid": unknown, "labelid": unknown, "trigger_uuid": unknown,
        "build_uuid": unknown, "token_uuid": unknown, "message_uuid": unknown, "export_id": unknown, "file_id": unknown,
        "prefix": "se",
    }


#: The caller's own resources or public profiles, named by a parameter that looks private
#: (as in Quay, anyone may read an organization's or a user's public profile: name and avatar).
NOT_PRIVATE = {
    ("GET", "/api/v1/users/{username}"), ("GET", "/api/v1/organization/{orgname}"), ("DELETE", "/api/v1/user/starred/{repository}"),
}
PRIVATE_PARAMETERS = {"orgname", "namespace", "name", "repository", "username", "membername"}


def operations(schema: dict) -> list[tuple[str, str]]:
    found = []
    for path, item in schema["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method in item:
            if method in ("get", "put", "post", "delete", "patch"):
                key = (method.upper(), path)
                if key in NOT_PRIVATE:
                    continue
                if names & PRIVATE_PARAMETERS or path.startswith("/api/v1/superuser/"):
                    found.append(key)
    return found


def test_an_outsider_gets_no_2xx_on_any_operation_over_private_objects(private_world):
    client = private_world["client"]
    schema = json.loads(Client().get("/api/v1/schema/?format=json").content)
    values = parameter_values(private_world["digest"])
    checked, leaks = 0, []
    # reads first, then writes, deletes last: a write that wrongly succeeded is still seen
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    for method, path in sorted(operations(schema), key=lambda op: (order[op[0]], op[1])):
        url = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)
        response = client.generic(method, url, data=json.dumps({}) if method in ("POST", "PUT", "PATCH") else "", content_type="application/json")
        checked += 1
        assert response.status_code < 500, (method, url, response.content[:300])
        if 200 <= response.status_code < 300:
            leaks.append((method, url, response.status_code, response.content[:200]))
    assert checked > 80
    assert leaks == []
    # and nothing of alice's changed
    repository = Repository.objects.get(full_name=REPO)
    assert repository.visibility == Repository.Visibility.PRIVATE and repository.state == Repository.State.NORMAL
    assert Tag.objects.filter(repository=repository, name="v1", lifetime_end__isnull=True).exists()
    assert Organization.objects.filter(namespace__name=ORG).exists()
    assert Robot.objects.filter(namespace__name=ORG, shortname="bot").exists()


# -- CSRF ------------------------------------------------------------------------------------------
def test_session_authenticated_unsafe_requests_need_the_csrf_token(db):
    user_create(username="carol", password=PASSWORD)
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="carol", password=PASSWORD)

    refused = client.post("/api/v1/user/apptoken", {"title": "cli"}, format="json")
    assert refused.status_code == 403, refused.content
    assert "csrf" in refused.content.decode().lower()

    assert client.get("/api/v1/user/").status_code == 200  # safe methods need no token
    token = client.get("/api/v1/user/apptoken").cookies.get("csrftoken") or client.cookies.get("csrftoken")
    if token is None:  # the cookie is set by the first page that uses it
        Client().get("/ui/")
        client.get("/admin/login/")
        token = client.cookies.get("csrftoken")
    accepted = client.post("/api/v1/user/apptoken", {"title": "cli"}, format="json", HTTP_X_CSRFTOKEN=token.value)
    assert accepted.status_code in (200, 201), accepted.content


def test_bearer_authenticated_requests_need_no_csrf_token(db):
    user_create(username="dora", password=PASSWORD)
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR="10.9.0.2")
    access = client.post("/api/v1/token/", {"username": "dora", "password": PASSWORD}, format="json").json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    assert client.post("/api/v1/user/apptoken", {"title": "cli"}, format="json").status_code in (200, 201)


# -- security headers ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v2/", "/v2/no/such/tags/list", "/v2/_nothing", "/api/v1/user/", "/api/v1/schema/", "/ui/", "/admin/login/", "/no-such-page"])
def test_security_headers_are_on_every_kind_of_response(db, path):
    response = Client().get(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    if response["Content-Type"].startswith("text/html"):
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response  # not configured, and not over TLS


def test_hsts_is_sent_over_tls_when_configured(db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    over_tls = Client().get("/v2/", HTTP_X_FORWARDED_PROTO="https")
    plain = Client().get("/v2/")

    assert over_tls["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in plain


# -- login throttling ------------------------------------------------------------------------------
def test_repeated_failed_api_sign_ins_are_throttled_with_retry_after(db):
    name = "thr" + uuid.uuid4().hex[:8]
    user_create(username=name, password=PASSWORD)
    client = APIClient(REMOTE_ADDR=f"10.8.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}")
    statuses = [client.post("/api/v1/token/", {"username": name, "password": f"wrong-{i}"}, format="json").status_code for i in range(5)]

    blocked = client.post("/api/v1/token/", {"username": name, "password": PASSWORD}, format="json")

    assert statuses == [401] * 5
    assert blocked.status_code == 429, blocked.content
    assert int(blocked["Retry-After"]) >= 1
    assert blocked.json()["error_type"] == "toomanyrequests"


def test_a_successful_api_sign_in_resets_the_user_counter(db):
    name = "rst" + uuid.uuid4().hex[:8]
    user_create(username=name, password=PASSWORD)
    client = APIClient(REMOTE_ADDR="10.7.0.3")
    for i in range(4):
        assert client.post("/api/v1/token/", {"username": name, "password": f"wrong-{i}"}, format="json").status_code == 401
    assert client.post("/api/v1/token/", {"username": name, "password": PASSWORD}, format="json").status_code == 200
    for i in range(4):
        assert client.post("/api/v1/token/", {"username": name, "password": f"again-{i}"}, format="json").status_code == 401


# -- request size limits outside /v2 uploads -------------------------------------------------------
def test_an_oversized_api_body_is_refused_not_a_server_error(db, settings):
    user_create(username="erin", password=PASSWORD)
    client = APIClient(REMOTE_ADDR="10.7.0.4")
    body = json.dumps({"username": "erin", "password": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})

    response = client.post("/api/v1/token/", body, content_type="application/json")

    assert response.status_code in (400, 413), response.content[:300]


# -- secrets never logged --------------------------------------------------------------------------
def test_credentials_of_failed_sign_ins_never_reach_the_logs(db, caplog):
    user_create(username="frank", password=PASSWORD)
    secret = "Sup3r-S3cret-" + uuid.uuid4().hex
    fake_jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmcmFuayJ9." + uuid.uuid4().hex
    import base64

    basic = "Basic " + base64.b64encode(f"frank:{secret}".encode()).decode()
    caplog.set_level(logging.DEBUG)
    api = APIClient(REMOTE_ADDR="10.7.0.5")
    api.post("/api/v1/token/", {"username": "frank", "password": secret}, format="json")
    api.post("/api/v1/token/refresh/", {"refresh": fake_jwt}, format="json")
    web = Client(REMOTE_ADDR="10.7.0.5")
    web.get("/v2/", HTTP_AUTHORIZATION=basic)
    web.get("/v2/auth", {"scope": "repository:frank/x:pull", "service": "testserver"}, HTTP_AUTHORIZATION=basic)
    web.get("/v2/", HTTP_AUTHORIZATION=f"Bearer {fake_jwt}")
    web.post("/ui/signin/", {"username": "frank", "password": secret})

    assert secret not in caplog.text
    assert fake_jwt not in caplog.text
    assert base64.b64encode(f"frank:{secret}".encode()).decode() not in caplog.text


def test_the_log_filter_redacts_credentials_that_would_be_logged():
    line = 'Authorization: Basic Zm9vOmJhcmJhcmJhcg== password=hunter22 {"token": "abc.def.ghi"} eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'

    cleaned = redact(line)

    assert "Zm9vOmJhcmJhcmJhcg" not in cleaned and "hunter22" not in cleaned and "abc.def.ghi" not in cleaned
    assert "eyJzdWIiOiJhbGljZSJ9" not in cleaned
    assert "Basic [redacted]" in cleaned
