"""The authorization table: actor kind x visibility x repository state x action -> allowed.

Every expectation below is written out by hand, one line per (actor, visibility, state) with one
column per action, so a change in ``repositories/access.py`` shows up as a named failing case.
The actors are described in tests/identity/world.py. olivia is checked on her own repositories
(``olivia/...``), everybody else on the organization's (``acme/...``).

Bearer actors carry a verified token: "bearer+grant" holds exactly the action asked for on the
repository (the subject is a stranger with no role), "bearer-grant" holds every other action
on it (the subject is a superuser): the token decides, not the database.
"""

from __future__ import annotations

import pytest

from repositories.access import Action, is_allowed
from tests.identity.world import World, bearer, repository_name

pytestmark = pytest.mark.django_db

ACCESS_TABLE = """
actor            visibility  state       pull  push  delete  *
anonymous        public      NORMAL      yes   no    no      no
anonymous        public      READ_ONLY   yes   no    no      no
anonymous        public      MIRROR      yes   no    no      no
anonymous        private     NORMAL      no    no    no      no
anonymous        private     READ_ONLY   no    no    no      no
anonymous        private     MIRROR      no    no    no      no
stranger         public      NORMAL      yes   no    no      no
stranger         public      READ_ONLY   yes   no    no      no
stranger         public      MIRROR      yes   no    no      no
stranger         private     NORMAL      no    no    no      no
stranger         private     READ_ONLY   no    no    no      no
stranger         private     MIRROR      no    no    no      no
reader           public      NORMAL      yes   no    no      no
reader           public      READ_ONLY   yes   no    no      no
reader           public      MIRROR      yes   no    no      no
reader           private     NORMAL      yes   no    no      no
reader           private     READ_ONLY   yes   no    no      no
reader           private     MIRROR      yes   no    no      no
writer           public      NORMAL      yes   yes   yes     no
writer           public      READ_ONLY   yes   no    no      no
writer           public      MIRROR      yes   no    no      no
writer           private     NORMAL      yes   yes   yes     no
writer           private     READ_ONLY   yes   no    no      no
writer           private     MIRROR      yes   no    no      no
repoadmin        public      NORMAL      yes   yes   yes     yes
repoadmin        public      READ_ONLY   yes   no    no      no
repoadmin        public      MIRROR      yes   no    no      no
repoadmin        private     NORMAL      yes   yes   yes     yes
repoadmin        private     READ_ONLY   yes   no    no      no
repoadmin        private     MIRROR      yes   no    no      no
teamwriter       public      NORMAL      yes   yes   yes     no
teamwriter       public      READ_ONLY   yes   no    no      no
teamwriter       public      MIRROR      yes   no    no      no
teamwriter       private     NORMAL      yes   yes   yes     no
teamwriter       private     READ_ONLY   yes   no    no      no
teamwriter       private     MIRROR      yes   no    no      no
olivia           public      NORMAL      yes   yes   yes     yes
olivia           public      READ_ONLY   yes   no    no      no
olivia           public      MIRROR      yes   no    no      no
olivia           private     NORMAL      yes   yes   yes     yes
olivia           private     READ_ONLY   yes   no    no      no
olivia           private     MIRROR      yes   no    no      no
orgadmin         public      NORMAL      yes   yes   yes     yes
orgadmin         public      READ_ONLY   yes   no    no      no
orgadmin         public      MIRROR      yes   no    no      no
orgadmin         private     NORMAL      yes   yes   yes     yes
orgadmin         private     READ_ONLY   yes   no    no      no
orgadmin         private     MIRROR      yes   no    no      no
creator          public      NORMAL      yes   no    no      no
creator          public      READ_ONLY   yes   no    no      no
creator          public      MIRROR      yes   no    no      no
creator          private     NORMAL      no    no    no      no
creator          private     READ_ONLY   no    no    no      no
creator          private     MIRROR      no    no    no      no
member           public      NORMAL      yes   no    no      no
member           private     NORMAL      no    no    no      no
acme+deployer    public      NORMAL      yes   yes   yes     no
acme+deployer    public      READ_ONLY   yes   no    no      no
acme+deployer    public      MIRROR      yes   no    no      no
acme+deployer    private     NORMAL      yes   yes   yes     no
acme+deployer    private     READ_ONLY   yes   no    no      no
acme+deployer    private     MIRROR      yes   no    no      no
acme+builder     public      NORMAL      yes   no    no      no
acme+builder     public      READ_ONLY   yes   no    no      no
acme+builder     public      MIRROR      yes   no    no      no
acme+builder     private     NORMAL      yes   no    no      no
acme+builder     private     READ_ONLY   yes   no    no      no
acme+builder     private     MIRROR      yes   no    no      no
acme+maker       private     NORMAL      no    no    no      no
root             public      NORMAL      yes   yes   yes     yes
root             public      READ_ONLY   yes   no    no      no
root             public      MIRROR      yes   no    no      no
root             private     NORMAL      yes   yes   yes     yes
root             private     READ_ONLY   yes   no    no      no
root             private     MIRROR      yes   no    no      no
auditor          public      NORMAL      yes   no    no      no
auditor          public      READ_ONLY   yes   no    no      no
auditor          public      MIRROR      yes   no    no      no
auditor          private     NORMAL      yes   no    no      no
auditor          private     READ_ONLY   yes   no    no      no
auditor          private     MIRROR      yes   no    no      no
bearer+grant     public      NORMAL      yes   yes   yes     yes
bearer+grant     public      READ_ONLY   yes   no    no      no
bearer+grant     public      MIRROR      yes   no    no      no
bearer+grant     private     NORMAL      yes   yes   yes     yes
bearer+grant     private     READ_ONLY   yes   no    no      no
bearer+grant     private     MIRROR      yes   no    no      no
bearer-grant     public      NORMAL      no    no    no      no
bearer-grant     public      READ_ONLY   no    no    no      no
bearer-grant     public      MIRROR      no    no    no      no
bearer-grant     private     NORMAL      no    no    no      no
bearer-grant     private     READ_ONLY   no    no    no      no
bearer-grant     private     MIRROR      no    no    no      no
"""

ACTIONS = {"pull": Action.PULL, "push": Action.PUSH, "delete": Action.DELETE, "*": Action.ADMIN}
ANSWERS = {"yes": True, "no": False}


def _cases() -> list:
    lines = [line.split() for line in ACCESS_TABLE.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    cases = []
    for actor, visibility, state, *answers in rows:
        for action, answer in zip(header[3:], answers, strict=True):
            cases.append(pytest.param(actor, visibility, state, action, ANSWERS[answer], id=f"{actor}-{visibility}-{state}-{action}"))
    return cases


def principal_of(world: World, actor: str, full_name: str, action: str):
    """The principal for a table actor; bearer actors get a token for ``full_name``."""
    if actor == "bearer+grant":
        return bearer("stranger", [(full_name, action)], id=world.users["stranger"].pk)
    if actor == "bearer-grant":
        others = [(full_name, other) for other in ACTIONS if other != action and not (action != "*" and other == "*")]
        return bearer("root", [*others, ("acme/elsewhere", action)], id=world.users["root"].pk, superuser=True)
    return world.principals[actor]


@pytest.mark.parametrize(("actor", "visibility", "state", "action", "expected"), _cases())
def test_access_table(world: World, registry_switches, actor: str, visibility: str, state: str, action: str, expected: bool):
    full_name = repository_name("olivia" if actor == "olivia" else "acme", visibility, state)
    principal = principal_of(world, actor, full_name, action)

    assert is_allowed(principal, ACTIONS[action], world.repository(full_name), name=full_name) is expected


def test_the_table_covers_every_actor_visibility_and_state():
    rows = {tuple(line.split()[:3]) for line in ACCESS_TABLE.strip().splitlines()[1:]}
    partial = {"member", "acme+maker"}  # only there to show a team role alone grants nothing
    full_actors = {line.split()[0] for line in ACCESS_TABLE.strip().splitlines()[1:]} - partial
    assert len(full_actors) == 15
    for actor in full_actors:
        for visibility in ("public", "private"):
            for state in ("NORMAL", "READ_ONLY", "MIRROR"):
                assert (actor, visibility, state) in rows


# -- registry-wide switches ------------------------------------------------------------------
SWITCH_TABLE = """
switches                    actor          repository            action  allowed
read_only                   root           acme/private-normal   push    no
read_only                   root           acme/private-normal   delete  no
read_only                   root           acme/private-normal   *       no
read_only                   root           acme/private-normal   pull    yes
read_only                   repoadmin      acme/private-normal   push    no
read_only                   reader         acme/private-normal   pull    yes
read_only                   anonymous      acme/public-normal    pull    yes
read_only                   bearer+grant   acme/private-normal   push    no
read_only                   bearer+grant   acme/private-normal   pull    yes
pushes_disabled             writer         acme/private-normal   push    no
pushes_disabled             root           acme/private-normal   push    no
pushes_disabled             bearer+grant   acme/private-normal   push    no
pushes_disabled             writer         acme/private-normal   delete  yes
pushes_disabled             writer         acme/private-normal   pull    yes
pushes_disabled             repoadmin      acme/private-normal   *       yes
open                        anonymous      acme/private-normal   pull    yes
open                        anonymous      acme/private-normal   push    yes
open                        anonymous      acme/private-normal   delete  yes
open                        anonymous      acme/private-normal   *       yes
open                        stranger       olivia/private-normal push    yes
open                        bearer-grant   acme/private-normal   pull    yes
open                        anonymous      acme/private-read-only push   no
open                        anonymous      acme/private-mirror   push    no
open                        anonymous      acme/private-read-only pull   yes
open,read_only              anonymous      acme/private-normal   push    no
open,read_only              anonymous      acme/private-normal   pull    yes
open,pushes_disabled        anonymous      acme/private-normal   push    no
-anonymous_pull             anonymous      acme/public-normal    pull    no
-anonymous_pull             stranger       acme/public-normal    pull    yes
-anonymous_pull             reader         acme/private-normal   pull    yes
-anonymous_pull,open        anonymous      acme/private-normal   pull    yes
"""


def _switch_cases() -> list:
    cases = []
    for line in SWITCH_TABLE.strip().splitlines()[1:]:
        switches, actor, full_name, action, answer = line.split()
        cases.append(pytest.param(switches, actor, full_name, action, ANSWERS[answer], id=f"{switches}-{actor}-{full_name}-{action}"))
    return cases


def _apply(registry_switches, switches: str) -> None:
    changes = {}
    for switch in switches.split(","):
        changes[switch.lstrip("-")] = not switch.startswith("-")
    registry_switches(**changes)


@pytest.mark.parametrize(("switches", "actor", "full_name", "action", "expected"), _switch_cases())
def test_registry_switches(world: World, registry_switches, switches: str, actor: str, full_name: str, action: str, expected: bool):
    _apply(registry_switches, switches)
    principal = principal_of(world, actor, full_name, action)

    assert is_allowed(principal, ACTIONS[action], world.repository(full_name), name=full_name) is expected


# -- creating a repository that does not exist yet -------------------------------------------
CREATE_TABLE = """
switches          actor           name               action  allowed   why
-                 olivia          olivia/fresh       push    yes       own namespace
-                 orgadmin        acme/fresh         push    yes       organization admin
-                 creator         acme/fresh         push    yes       creator team
-                 acme+maker      acme/fresh         push    yes       robot in the creator team
-                 member          acme/fresh         push    no        member team only
-                 teamwriter      acme/fresh         push    no        write on every repository is not creation
-                 acme+deployer   acme/fresh         push    no        robot with repository grants only
-                 stranger        olivia/fresh       push    no        another user's namespace
-                 orgadmin        olivia/fresh       push    no        another user's namespace
-                 olivia          nowhere/fresh      push    no        missing namespace
-                 root            nowhere/fresh      push    yes       superuser: becomes an organization
-                 root            olivia/fresh       push    yes       superuser
-                 root            fresh              push    yes       superuser, implicit library/ namespace
-                 auditor         acme/fresh         push    no        read-only superuser
-                 anonymous       olivia/fresh       push    no        anonymous
-                 bearer+grant    acme/fresh         push    yes       the token was granted push on the name
-                 bearer-grant    acme/fresh         push    no        the token lacks push on the name
-                 olivia          olivia/fresh       pull    no        nothing to pull yet
-                 root            acme/fresh         pull    no        nothing to pull yet
-                 olivia          olivia/fresh       delete  no        nothing to delete
read_only         root            olivia/fresh       push    no        read-only registry
read_only         olivia          olivia/fresh       push    no        read-only registry
pushes_disabled   olivia          olivia/fresh       push    no        pushes disabled
open              anonymous       nowhere/fresh      push    yes       open registry
"""


def _create_cases() -> list:
    cases = []
    for line in CREATE_TABLE.strip().splitlines()[1:]:
        switches, actor, name, action, answer, *why = line.split()
        cases.append(pytest.param(switches, actor, name, action, ANSWERS[answer], id=f"{actor}-{action}-{name}-{'_'.join(why)}"))
    return cases


@pytest.mark.parametrize(("switches", "actor", "name", "action", "expected"), _create_cases())
def test_creating_a_missing_repository(world: World, registry_switches, switches: str, actor: str, name: str, action: str, expected: bool):
    if switches != "-":
        _apply(registry_switches, switches)
    canonical = name if "/" in name else f"library/{name}"
    principal = principal_of(world, actor, canonical, action)

    assert is_allowed(principal, ACTIONS[action], None, name=name) is expected


# -- the catalog scope -------------------------------------------------------------------------
CATALOG_TABLE = """
actor                 allowed
anonymous             no
stranger              yes
acme+builder          yes
auditor               yes
bearer+catalog        yes
bearer-catalog        no
"""


@pytest.mark.parametrize(
    ("actor", "expected"),
    [pytest.param(line.split()[0], ANSWERS[line.split()[1]], id=line.split()[0]) for line in CATALOG_TABLE.strip().splitlines()[1:]],
)
def test_listing_the_catalog(world: World, registry_switches, actor: str, expected: bool):
    if actor == "bearer+catalog":
        principal = bearer("stranger", [("registry:catalog", "*")])
    elif actor == "bearer-catalog":
        principal = bearer("root", [("acme/private-normal", "*")], superuser=True)
    else:
        principal = world.principals[actor]

    assert is_allowed(principal, Action.CATALOG) is expected
