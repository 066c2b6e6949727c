"""Access control seen from a client of a live server: the catalog, repositories created by
pushing, read-only repositories, and a registry in read-only mode."""

from __future__ import annotations

import pytest

from tests.identity.helpers import bearer, challenge, error_codes, granted, push_blob, push_image, token, unique
from tests.live import LiveRegistry

pytestmark = pytest.mark.live

MANIFEST_ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


@pytest.fixture
def base(live_world) -> str:
    return live_world.url


def catalog(http, base, **kwargs) -> list[str]:
    response = http.get(f"{base}/v2/_catalog", params={"n": 1000}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["repositories"]


def repository_facts(live_world, name: str) -> dict:
    """Visibility, state and explicit grants of ``name`` as the server's database has them."""
    return live_world.query(
        f"""{{"visibility": r.visibility, "state": r.state, "grants": sorted(
            [str(p.user or p.robot or p.team), p.role] for p in r.permissions.select_related("user", "robot__namespace", "team__organization__namespace"))}}""",
        f"from repositories.models import Repository\nr = Repository.objects.get(full_name={name!r})",
    )


# -- catalog ---------------------------------------------------------------------------------
def test_the_catalog_of_a_user_without_roles_lists_public_repositories_only(http, base, live_world):
    listed = catalog(http, base, auth=live_world.login("bob"))

    assert "alice/public" in listed
    assert not {"alice/private", "alice/frozen", "acme/shared"} & set(listed)


def test_the_catalog_of_a_reader_adds_the_repositories_granted_to_them(http, base, live_world):
    listed = catalog(http, base, auth=live_world.login("carol"))

    assert {"alice/public", "alice/private", "acme/shared"} <= set(listed)  # direct grant; readers team via prototype
    assert "alice/frozen" not in listed


def test_the_catalog_lists_the_owners_private_repositories_to_the_owner(http, base, live_world):
    listed = catalog(http, base, auth=live_world.login("alice"))

    assert {"alice/private", "alice/public", "alice/frozen", "acme/shared"} <= set(listed)


def test_the_catalog_of_a_robot_lists_what_it_was_granted(http, base, live_world):
    listed = catalog(http, base, auth=("acme+ci", live_world.robot_token))

    assert "acme/shared" in listed
    assert "alice/private" not in listed


def test_every_repository_in_a_callers_catalog_can_be_pulled_by_that_caller(http, base, live_world):
    for login in (live_world.login("bob"), live_world.login("carol"), ("acme+ci", live_world.robot_token)):
        for name in catalog(http, base, auth=login):
            assert http.get(f"{base}/v2/{name}/tags/list", auth=login).status_code == 200, (login[0], name)


def test_the_catalog_of_a_superuser_lists_everything(http, base, live_world):
    listed = catalog(http, base, auth=live_world.login("root"))

    assert {"alice/private", "alice/public", "alice/frozen", "acme/shared"} <= set(listed)


def test_an_anonymous_catalog_request_gets_401_naming_the_catalog_scope(http, base):
    response = http.get(f"{base}/v2/_catalog")

    assert response.status_code == 401
    assert challenge(response)["scope"] == "registry:catalog:*"


def test_a_token_with_the_catalog_scope_lists_the_catalog(http, base, live_world):
    catalog_token = token(http, base, "registry:catalog:*", auth=live_world.login("bob"))

    listed = catalog(http, base, headers=bearer(catalog_token))

    assert "alice/public" in listed
    assert "alice/private" not in listed


def test_a_token_without_the_catalog_scope_gets_403_naming_it(http, base, live_world):
    other = token(http, base, "repository:alice/public:pull", auth=live_world.login("root"))

    response = http.get(f"{base}/v2/_catalog", headers=bearer(other))

    assert response.status_code == 403
    assert challenge(response)["scope"] == "registry:catalog:*"


# -- creating by pushing ---------------------------------------------------------------------
def test_pushing_to_a_new_repository_in_your_own_namespace_creates_it_private(http, base, live_world):
    name = unique("alice/new-")

    push_image(http, base, name, "v1", auth=live_world.login("alice"))

    assert repository_facts(live_world, name) == {"visibility": "private", "state": "NORMAL", "grants": []}
    assert http.get(f"{base}/v2/{name}/tags/list", auth=live_world.login("bob")).status_code == 403
    assert http.get(f"{base}/v2/{name}/tags/list").status_code == 401


def test_pushing_to_a_new_organization_repository_makes_the_creator_admin_and_applies_prototypes(http, base, live_world):
    name = unique("acme/bob-made-")
    push_token = token(http, base, f"repository:{name}:pull,push", auth=live_world.login("bob"))

    push_image(http, base, name, "v1", headers=bearer(push_token))

    assert repository_facts(live_world, name) == {
        "visibility": "private",
        "state": "NORMAL",
        "grants": [["acme/readers", "read"], ["bob", "admin"], ["dave", "write"]],
    }
    assert granted(http, base, f"repository:{name}:pull,push", auth=live_world.login("carol"))[0]["actions"] == ["pull"]
    assert granted(http, base, f"repository:{name}:pull,push", auth=live_world.login("dave"))[0]["actions"] == ["pull", "push"]


def test_a_prototype_for_one_activating_user_does_not_apply_to_others(http, base, live_world):
    name = unique("acme/alice-made-")

    push_image(http, base, name, "v1", auth=live_world.login("alice"))

    assert repository_facts(live_world, name)["grants"] == [["acme/readers", "read"], ["alice", "admin"]]


def test_pushing_into_another_users_namespace_is_denied_and_creates_nothing(http, base, live_world):
    name = unique("alice/by-bob-")

    response = push_blob(http, base, name, b"intruder", auth=live_world.login("bob"))

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert live_world.query(f"Repository.objects.filter(full_name={name!r}).exists()", "from repositories.models import Repository") is False


def test_pushing_into_a_missing_namespace_is_denied(http, base, live_world):
    response = push_blob(http, base, unique("nowhere") + "/app", b"lost", auth=live_world.login("alice"))

    assert response.status_code == 403


# -- read-only repositories ------------------------------------------------------------------
def test_pushing_into_a_read_only_repository_is_refused_with_403_saying_so(http, base, live_world):
    response = push_blob(http, base, "alice/frozen", b"too late", auth=live_world.login("alice"))

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert "alice/frozen is read-only" in response.json()["errors"][0]["message"]


def test_deleting_a_tag_of_a_read_only_repository_is_refused(http, base, live_world):
    response = http.delete(f"{base}/v2/alice/frozen/manifests/v1", auth=live_world.login("alice"))

    assert response.status_code == 403
    assert "read-only" in response.json()["errors"][0]["message"]


def test_a_read_only_repository_can_still_be_pulled(http, base, live_world):
    response = http.get(f"{base}/v2/alice/frozen/manifests/v1", auth=live_world.login("alice"), headers=MANIFEST_ACCEPT)

    assert response.status_code == 200


def test_anonymous_callers_are_not_told_the_state_of_a_private_repository(http, base):
    response = push_blob(http, base, "alice/frozen", b"probe")

    assert response.status_code == 401
    assert "read-only" not in response.text


def test_callers_without_access_are_not_told_the_state_of_a_private_repository(http, base, live_world):
    response = push_blob(http, base, "alice/frozen", b"probe", auth=live_world.login("bob"))

    assert response.status_code == 403
    assert "read-only" not in response.text


# -- the registry in read-only mode ----------------------------------------------------------
@pytest.fixture(scope="module")
def read_only_registry(live_world) -> str:
    """A second server on the same database and storage, started with registry.read_only."""
    main = live_world.registry
    server = LiveRegistry(data_dir=main.data_dir, env={**main.env, "MOORAGE_REGISTRY_READ_ONLY": "true"})
    server.start(workers=1, threads=4)
    try:
        yield server.url
    finally:
        server.stop()


def test_a_read_only_registry_refuses_pushes(http, read_only_registry, live_world):
    response = push_blob(http, read_only_registry, "alice/private", b"refused", auth=live_world.login("alice"))

    assert response.status_code == 403
    assert "read-only mode" in response.json()["errors"][0]["message"]


def test_a_read_only_registry_refuses_deletes(http, read_only_registry, live_world):
    response = http.delete(f"{read_only_registry}/v2/alice/private/manifests/v1", auth=live_world.login("alice"))

    assert response.status_code == 403


def test_a_read_only_registry_grants_no_push_scope(http, read_only_registry, live_world):
    access = granted(http, read_only_registry, "repository:alice/private:pull,push,delete", auth=live_world.login("alice"))

    assert access[0]["actions"] == ["pull"]


def test_a_read_only_registry_creates_no_repository_on_push(http, read_only_registry, live_world):
    name = unique("alice/not-created-")

    assert granted(http, read_only_registry, f"repository:{name}:pull,push", auth=live_world.login("alice"))[0]["actions"] == []
    assert live_world.query(f"Repository.objects.filter(full_name={name!r}).exists()", "from repositories.models import Repository") is False


def test_a_read_only_registry_still_serves_pulls(http, read_only_registry, live_world):
    response = http.get(f"{read_only_registry}/v2/alice/private/manifests/v1", auth=live_world.login("carol"), headers=MANIFEST_ACCEPT)

    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == live_world.images["alice/private"]


# -- blobs never cross into a repository the caller may not read -----------------------------
@pytest.fixture
def private_layer(http, base, live_world) -> str:
    manifest = http.get(f"{base}/v2/alice/private/manifests/v1", auth=live_world.login("alice"), headers=MANIFEST_ACCEPT).json()
    return manifest["layers"][0]["digest"]


def test_mounting_from_a_repository_you_cannot_read_falls_back_to_an_upload(http, base, live_world, private_layer):
    name = unique("bob/mount-")

    response = http.post(f"{base}/v2/{name}/blobs/uploads/", params={"mount": private_layer, "from": "alice/private"}, auth=live_world.login("bob"))

    assert response.status_code == 202
    assert http.head(f"{base}/v2/{name}/blobs/{private_layer}", auth=live_world.login("bob")).status_code == 404


def test_mounting_from_a_repository_you_can_read_links_the_blob(http, base, live_world, private_layer):
    name = unique("carol/mount-")

    response = http.post(f"{base}/v2/{name}/blobs/uploads/", params={"mount": private_layer, "from": "alice/private"}, auth=live_world.login("carol"))

    assert response.status_code == 201
    assert http.head(f"{base}/v2/{name}/blobs/{private_layer}", auth=live_world.login("carol")).status_code == 200


def test_a_manifest_cannot_claim_a_private_blob_by_its_digest(http, base, live_world, private_layer):
    name = unique("bob/claim-")
    push_image(http, base, name, "v1", auth=live_world.login("bob"))  # the repository exists and bob owns it
    config = http.get(f"{base}/v2/{name}/manifests/v1", auth=live_world.login("bob"), headers=MANIFEST_ACCEPT).json()["config"]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": private_layer, "size": 128}],
    }

    response = http.put(
        f"{base}/v2/{name}/manifests/stolen", json=manifest, headers={"Content-Type": manifest["mediaType"]}, auth=live_world.login("bob")
    )

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
    assert http.get(f"{base}/v2/{name}/blobs/{private_layer}", auth=live_world.login("bob")).status_code == 404
