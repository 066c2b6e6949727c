"""PostgreSQL restarted under load (a private cluster of this test: never the shared one).

While the database is down every request is answered, with a success (nothing needed the
database) or 503 UNAVAILABLE with ``Retry-After`` in OCI error JSON; never a 500, never a
dropped connection. When it is back the server reconnects by itself (CONN_HEALTH_CHECKS) and
everything acknowledged before, during and after the outage is there.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.checks import assert_fsck_clean, assert_no_corrupt_blob_file
from tests.faults.load import Load, assert_everything_acknowledged_pulls
from tests.faults.services import PrivatePostgres
from tests.live import LiveRegistry

pytestmark = pytest.mark.live


@pytest.fixture
def postgres():
    server = PrivatePostgres.create()
    yield server
    server.destroy()


def test_requests_during_a_postgresql_restart_get_503_with_retry_after_and_the_server_recovers_by_itself(postgres):
    registry = LiveRegistry.create(database_url=postgres.url)
    try:
        registry.start(workers=2, threads=8)
        load = Load(registry.url, "faults/pg-restart").start()
        try:
            load.wait_for(lambda: len(load.pushed) >= 3, "pushes before the outage")
            postgres.stop("fast")
            down = time.monotonic()
            load.wait_for(lambda: load.count(503, since=down) >= 5, "requests during the outage")
            postgres.start()
            up = time.monotonic()
            load.wait_for(lambda: load.successes_since(up) >= 20 and len(load.pushed) >= 6, "recovery after the restart")
            recovered_pushes = len(load.pushed)
            load.wait_for(lambda: len(load.pushed) >= recovered_pushes + 3, "pushes after the recovery")
        finally:
            load.stop()
        assert load.bad_answers() == [], f"answers other than success or a clean 503: {load.bad_answers()[:5]}"
        during = [a for a in load.answers if down <= a.at < up]
        # A push always needs the database; a pull of a tag whose lookup is warm in Redis does
        # not, so during the outage it may be served (200) or refused (503): both are right.
        assert "blob-push" in {a.kind for a in during if a.status == 503}
        assert [a for a in during if a.kind == "manifest-pull"], "no manifest pulls were tried during the outage"
        assert_everything_acknowledged_pulls(load)
        assert_no_corrupt_blob_file(registry.data_dir / "blobs")
        assert_fsck_clean(registry)
    finally:
        registry.destroy()
