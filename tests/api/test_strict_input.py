"""The REST API refuses input of the wrong JSON type with a 400 naming the field, instead of coercing
it (``0`` read as false, ``0`` as the string "0", ``?public=1`` as true, an empty form field as "not
given"). Schemathesis' negative_data_rejection check covers every operation; these pin a few cases
in process."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError

from accounts.models import AppToken
from common import serializers
from repositories.models import AutoPrunePolicy, Repository

pytestmark = pytest.mark.django_db


def field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


def test_zero_for_a_boolean_is_refused_and_nothing_is_created(alice, bearer):
    client = bearer(alice)

    response = client.post("/api/v1/user/autoprunepolicy/", {"method": "number_of_tags", "value": 10, "tagPatternMatches": 0}, format="json")

    assert "tagPatternMatches" in field_errors(response)
    assert not AutoPrunePolicy.objects.exists()


def test_a_real_boolean_is_accepted(alice, bearer):
    client = bearer(alice)

    response = client.post("/api/v1/user/autoprunepolicy/", {"method": "number_of_tags", "value": 10, "tagPatternMatches": False}, format="json")

    assert response.status_code == 201, response.content
    assert AutoPrunePolicy.objects.get().tag_pattern_matches is False


def test_a_number_for_a_string_is_refused(alice, bearer):
    response = bearer(alice).post("/api/v1/repository", {"namespace": "alice", "repository": 0, "visibility": "private"}, format="json")

    assert "repository" in field_errors(response)
    assert not Repository.objects.exists()


def test_an_empty_date_is_refused(alice, bearer):
    response = bearer(alice).post("/api/v1/user/apptoken", {"title": "ci", "expiration": ""}, format="json")

    assert "expiration" in field_errors(response)
    assert not AppToken.objects.exists()


def test_form_data_is_unsupported_so_an_empty_email_cannot_mean_not_given(alice, bearer):
    response = bearer(alice).put("/api/v1/user/", "email=&password=", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415, response.content
    alice.refresh_from_db()
    assert alice.email == "alice@example.test"


@pytest.mark.parametrize("value", ["1", "yes", "", "ture"])
def test_a_boolean_query_parameter_must_be_true_or_false(alice, bearer, value):
    response = bearer(alice).get("/api/v1/repository", {"namespace": "alice", "public": value})

    assert "public" in field_errors(response)


@pytest.mark.parametrize("value", ["true", "false", "True"])
def test_true_and_false_are_accepted_in_any_case(alice, bearer, value):
    response = bearer(alice).get("/api/v1/repository", {"namespace": "alice", "public": value})

    assert response.status_code == 200, response.content


def test_an_ignored_compatibility_parameter_is_still_type_checked(alice, bearer):
    response = bearer(alice).get("/api/v1/repository?namespace=alice&popularity=33631")

    assert "popularity" in field_errors(response)


def test_a_repeated_boolean_parameter_is_refused(root, bearer):
    response = bearer(root).get("/api/v1/superuser/users/?superuser=true&superuser=false")

    assert "superuser" in field_errors(response)


def test_a_filter_reads_only_true_or_false(root, bearer):
    client = bearer(root)

    assert "superuser" in field_errors(client.get("/api/v1/superuser/users/?superuser=0"))
    response = client.get("/api/v1/superuser/users/?superuser=true")
    assert response.status_code == 200, response.content
    assert [user["username"] for user in response.json()["users"]] == ["root"]


def test_a_query_serializer_refuses_an_empty_boolean_and_a_non_integer(root, bearer):
    client = bearer(root)

    assert "disabled" in field_errors(client.get("/api/v1/superuser/users/?disabled="))
    assert client.get("/api/v1/superuser/users/?disabled=false").status_code == 200


def test_the_browsable_api_still_renders(alice, login):
    response = login(alice).get("/api/v1/user/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"alice" in response.content
    # the raw data form, which posts JSON, is how the browsable API sends a request body now
    assert b'name="_content"' in response.content
    assert b"application/json" in response.content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (serializers.BooleanField(), 0),
        (serializers.BooleanField(), "true"),
        (serializers.CharField(), 0),
        (serializers.EmailField(), 5),
        (serializers.IntegerField(), "5"),
        (serializers.IntegerField(), True),
        (serializers.IntegerField(), 5.5),
        (serializers.FloatField(), "1.5"),
        (serializers.UUIDField(), 1),
        (serializers.ChoiceField(choices=["1", "2"]), 1),
        (serializers.ChoiceField(choices=[1, 2]), "1"),
        (serializers.ChoiceField(choices=["True"]), True),
    ],
)
def test_strict_fields_refuse_other_json_types(field, value):
    with pytest.raises(ValidationError):
        field.run_validation(value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (serializers.BooleanField(), False),
        (serializers.CharField(), "0"),
        (serializers.IntegerField(), 5),
        (serializers.FloatField(), 5),
        (serializers.ChoiceField(choices=[1, 2]), 2),
    ],
)
def test_strict_fields_accept_their_own_type(field, value):
    assert field.run_validation(value) == value
