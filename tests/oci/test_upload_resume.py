"""An upload's state lives in the database and storage, not in a process: a chunked upload started
before a server restart finishes afterwards. This module runs its own server so that restarting
it does not disturb the shared one."""

from __future__ import annotations

import pytest
import requests

from tests.live import LiveRegistry
from tests.oci.helpers import digest_of, patch_chunk, random_bytes, start_upload, unique_name

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def own_registry():
    registry = LiveRegistry.create().start()
    yield registry
    registry.destroy()


def test_chunked_upload_started_before_a_restart_finishes_after_it(own_registry):
    name = unique_name()
    data = random_bytes(3 * 1024 * 1024 + 17)
    with requests.Session() as before:
        location = start_upload(before, own_registry.url, name)
        assert patch_chunk(before, location, data[:2_000_000], 0).status_code == 202
    old_pid = own_registry.process.pid

    own_registry.restart()
    assert own_registry.process.pid != old_pid

    with requests.Session() as after:
        status = after.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-1999999"
        assert patch_chunk(after, location, data[2_000_000:], 2_000_000).status_code == 202
        done = after.put(location, params={"digest": digest_of(data)})
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest_of(data)
        assert after.get(f"{own_registry.url}/v2/{name}/blobs/{digest_of(data)}").content == data
