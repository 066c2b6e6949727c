"""``readable_repositories``: the catalog each caller sees, and its agreement with ``is_allowed``."""

from __future__ import annotations

import pytest

from organizations.models import Role
from organizations.services import team_member_add
from repositories.access import Action, is_allowed, readable_repositories
from repositories.models import Repository
from repositories.selectors import catalog_page
from repositories.services.repositories import permission_set
from tests.identity.world import World

pytestmark = pytest.mark.django_db

PUBLIC = {
    "acme/public-normal", "acme/public-read-only", "acme/public-mirror",
    "olivia/public-normal", "olivia/public-read-only", "olivia/public-mirror",
}
ACME_PRIVATE = {"acme/private-normal", "acme/private-read-only", "acme/private-mirror"}
OLIVIA_PRIVATE = {"olivia/private-normal", "olivia/private-read-only", "olivia/private-mirror"}
EVERYTHING = PUBLIC | ACME_PRIVATE | OLIVIA_PRIVATE

CATALOG_TABLE = [
    # actor, registry switches, what the catalog lists
    ("anonymous", {}, PUBLIC),
    ("anonymous", {"anonymous_pull": False}, set()),
    ("anonymous", {"open": True}, EVERYTHING),
    ("stranger", {}, PUBLIC),
    ("stranger", {"anonymous_pull": False}, PUBLIC),
    ("creator", {}, PUBLIC),
    ("member", {}, PUBLIC),
    ("reader", {}, PUBLIC | ACME_PRIVATE),
    ("teamwriter", {}, PUBLIC | ACME_PRIVATE),
    ("orgadmin", {}, PUBLIC | ACME_PRIVATE),
    ("olivia", {}, PUBLIC | OLIVIA_PRIVATE),
    ("acme+deployer", {}, PUBLIC | ACME_PRIVATE),
    ("acme+builder", {}, PUBLIC | ACME_PRIVATE),
    ("acme+maker", {}, PUBLIC),
    ("root", {}, EVERYTHING),
    ("auditor", {}, EVERYTHING),
]


def listed(principal) -> set[str]:
    page = catalog_page(n=1000, last=None, repository_filter=readable_repositories(principal))
    return set(page.items)


@pytest.mark.parametrize(
    ("actor", "switches", "expected"),
    [pytest.param(actor, switches, expected, id=f"{actor}-{'-'.join(f'{k}={v}' for k, v in switches.items()) or 'default'}") for actor, switches, expected in CATALOG_TABLE],
)
def test_the_catalog_lists_what_the_caller_may_read(world: World, registry_switches, actor: str, switches: dict, expected: set[str]):
    registry_switches(**switches)

    assert listed(world.principals[actor]) == expected


@pytest.mark.parametrize("actor", ["anonymous", "stranger", "reader", "writer", "repoadmin", "teamwriter", "orgadmin", "creator", "member", "olivia", "acme+deployer", "acme+builder", "acme+maker", "root", "auditor"])
def test_a_repository_is_listed_exactly_when_the_caller_may_pull_it(world: World, registry_switches, actor: str):
    principal = world.principals[actor]

    pullable = {repository.full_name for repository in Repository.objects.all() if is_allowed(principal, Action.PULL, repository)}

    assert listed(principal) == pullable


def test_a_repository_reachable_several_ways_is_listed_once(world: World, registry_switches):
    # reader already has a direct grant; now also through two teams
    for team in ("devs", "lurkers"):
        team_member_add(team=world.teams[team], user=world.users["reader"])
        permission_set(repository=world.repository("acme/private-normal"), role=Role.READ, team=world.teams[team])

    page = catalog_page(n=1000, last=None, repository_filter=readable_repositories(world.principals["reader"]))

    assert page.items.count("acme/private-normal") == 1
    assert len(page.items) == len(PUBLIC | ACME_PRIVATE)
