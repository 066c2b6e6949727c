"""Routes no app answers: the web UI's 404 page, JSON on /api, OCI JSON on /v2, a plain 500 page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from registry_site.urls import urlpatterns as site_urlpatterns


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


@pytest.mark.django_db
def test_an_unknown_page_gets_the_ui_404_with_navigation(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>Not found</h1>" in body and "There is no such page" in body
    assert 'href="/ui/"' in body  # the UI's navigation


@pytest.mark.django_db
def test_an_unknown_api_path_answers_in_the_api_error_shape(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error_type"] == "not_found" and "/api/v1/no-such-endpoint" in response.json()["detail"]


@pytest.mark.django_db
def test_v2_keeps_its_oci_error_json(client):
    response = client.get("/v2/no/such/route/at/all")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] in ("NOT_FOUND", "NAME_UNKNOWN", "UNAUTHORIZED")


def _boom(request):
    raise RuntimeError("secret internals: token=abc123")


urlpatterns = [path("boom", _boom), path("api/v1/boom", _boom), *site_urlpatterns]
handler404 = "registry_site.errors.page_not_found"
handler500 = "registry_site.errors.server_error"


@pytest.mark.django_db
@pytest.mark.urls("tests.registry_site.test_error_pages")
def test_a_crash_shows_a_plain_500_page_without_internals():
    client = Client(raise_request_exception=False)
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on the server" in body
    assert "secret internals" not in body and "Traceback" not in body


@pytest.mark.django_db
@pytest.mark.urls("tests.registry_site.test_error_pages")
def test_a_crash_under_api_answers_json_without_internals():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json()["error_type"] == "server_error"
    assert "secret internals" not in response.content.decode()
