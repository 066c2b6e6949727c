"""oras-py (library) against the authenticated registry: the Basic auth backend, a bearer token
fetched from /v2/auth, and the default token backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e_identity.support import ORG, fetch_token, manifest_digest, tags, token_access

oras_client = pytest.importorskip("oras.client", reason="oras-py not installed (pip install oras; it is in requirements-dev.txt)")

pytestmark = [pytest.mark.e2e, pytest.mark.live]


def _artifact(tmp_path: Path, label: str) -> Path:
    path = tmp_path / "artifact.txt"
    path.write_text(f"artifact pushed with {label}\n")
    return path


def _push_and_pull(client, registry, name: str, artifact: Path, outdir: Path) -> str:
    """Push ``artifact`` as ``name:v1``, pull it back into ``outdir``; the manifest digest."""
    target = f"{registry.host}/{name}:v1"
    response = client.push(files=[f"{artifact}:text/plain"], target=target, disable_path_validation=True)
    assert response.status_code == 201, response.text
    digest = response.headers["Docker-Content-Digest"]
    assert client.get_tags(f"{registry.host}/{name}") == ["v1"]
    (pulled,) = client.pull(target=target, outdir=str(outdir))
    assert Path(pulled).read_bytes() == artifact.read_bytes()
    return digest


def test_oras_push_and_pull_with_the_basic_auth_backend(auth_registry, identities, tmp_path: Path):
    name, owner = f"{ORG}/oras-basic", identities.password
    client = oras_client.OrasClient(hostname=auth_registry.host, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth(owner.username, owner.secret)
    digest = _push_and_pull(client, auth_registry, name, _artifact(tmp_path, "basic"), tmp_path / "pulled")
    assert manifest_digest(auth_registry, name, "v1", owner) == digest


def test_oras_push_and_pull_with_a_bearer_token_from_the_token_service(auth_registry, identities, tmp_path: Path):
    """clients.md's workaround: one token for pull,push,delete, set with ``set_token_auth``."""
    name, robot = f"{ORG}/oras-bearer", identities.robot
    token = fetch_token(auth_registry, f"repository:{name}:pull,push,delete", creds=robot)
    # The robot may create in acme (creator team); the repository exists once the token is issued.
    assert token_access(token) == [{"type": "repository", "name": name, "actions": ["pull", "push", "delete"]}]
    client = oras_client.OrasClient(hostname=auth_registry.host, insecure=True)
    client.auth.set_token_auth(token)
    digest = _push_and_pull(client, auth_registry, name, _artifact(tmp_path, "bearer"), tmp_path / "pulled")
    assert manifest_digest(auth_registry, name, "v1", robot) == digest

    client.delete_tag(f"{auth_registry.host}/{name}", tag="v1")
    assert tags(auth_registry, name, robot) == []


def test_oras_default_token_backend_with_basic_credentials(auth_registry, identities, tmp_path: Path):
    """oras-py's token backend caches one token and refreshes it only on 403. Moorage answers a
    token without push with 403 DENIED plus the challenge for ``pull,push``, so the push goes
    through (a registry answering 401 there needs the workaround above)."""
    name, app = f"{ORG}/oras-token", identities.app_token_dollar
    client = oras_client.OrasClient(hostname=auth_registry.host, insecure=True)
    client.auth.set_basic_auth(app.username, app.secret)
    digest = _push_and_pull(client, auth_registry, name, _artifact(tmp_path, "token backend"), tmp_path / "pulled")
    assert manifest_digest(auth_registry, name, "v1", identities.password) == digest


def test_oras_push_by_an_outsider_is_refused(auth_registry, identities, tmp_path: Path):
    """The outsider's token grants nothing; oras-py asks again with its credentials on 403 and is
    refused again: DENIED, and nothing is tagged. (Failure paths are kept to this one: oras-py's
    retry decorator sleeps 3 s, 5 s, 11 s ... on most errors.)"""
    name, owner, outsider = f"{ORG}/oras-private", identities.password, identities.outsider
    client = oras_client.OrasClient(hostname=auth_registry.host, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth(owner.username, owner.secret)
    _push_and_pull(client, auth_registry, name, _artifact(tmp_path, "owner"), tmp_path / "pulled")

    token = fetch_token(auth_registry, f"repository:{name}:pull,push", creds=outsider)
    assert token_access(token) == [{"type": "repository", "name": name, "actions": []}]
    intruder = oras_client.OrasClient(hostname=auth_registry.host, insecure=True)
    intruder.auth.set_basic_auth(outsider.username, outsider.secret)
    intruder.auth.set_token_auth(token)
    with pytest.raises(ValueError, match="DENIED"):
        intruder.push(files=[f"{_artifact(tmp_path, 'outsider')}:text/plain"], target=f"{auth_registry.host}/{name}:v2", disable_path_validation=True)
    assert tags(auth_registry, name, owner) == ["v1"]
