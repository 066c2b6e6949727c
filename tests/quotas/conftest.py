"""Fixtures of the quota suite: the organization ``acme`` (owner alice, member bob), a superuser,
registry events captured as they are sent, and an open /v2 registry for the Django test client."""

from __future__ import annotations

import pytest

from organizations.models import Organization, Team
from organizations.services import organization_create, team_member_add, team_upsert
from repositories.signals import registry_event
from tests.api.conftest import alice, auditor, bob, login, make_user, root  # noqa: F401 - shared fixtures


@pytest.fixture
def acme(alice) -> Organization:  # noqa: F811
    org = organization_create(name="acme", creator=alice, email="registry@acme.test")
    return org


@pytest.fixture
def acme_member(acme, bob):  # noqa: F811
    team = team_upsert(organization=acme, name="devs", role=Team.TeamRole.MEMBER, description="developers")
    team_member_add(team=team, user=bob)
    return bob


@pytest.fixture
def events():
    """Registry events sent (after commit) during the test, as (event, namespace_id, payload)."""
    seen: list[tuple[str, int, dict]] = []

    def receive(sender, event, namespace_id, repository_id, payload, **kwargs):  # noqa: ANN001, ANN003
        seen.append((event, namespace_id, payload))

    registry_event.connect(receive, weak=False)
    yield seen
    registry_event.disconnect(receive)


@pytest.fixture
def open_registry(settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": True}
