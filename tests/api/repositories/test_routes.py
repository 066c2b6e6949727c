"""Repository paths: nested names resolve; sub-resource routes of other modules stay reachable."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve


def test_a_nested_repository_path_resolves_to_the_repository_view():
    match = resolve("/api/v1/repository/acme/team/app")
    assert (match.url_name, match.kwargs) == ("api-repository", {"repository": "acme/team/app"})


def test_permission_routes_take_the_whole_nested_name():
    match = resolve("/api/v1/repository/acme/team/app/permissions/user/acme+bot/transitive")
    assert match.kwargs == {"repository": "acme/team/app", "username": "acme+bot"}


@pytest.mark.parametrize("path", ["acme/app/tag/latest", "acme/app/tag/", "acme/app/logs", "acme/team/app/manifest/sha256:00"])
def test_the_bare_repository_route_leaves_sub_resources_to_their_modules(path):
    try:
        match = resolve(f"/api/v1/repository/{path}")
    except Resolver404:
        return  # that module's route is not there (yet): still not swallowed
    assert match.url_name != "api-repository"
