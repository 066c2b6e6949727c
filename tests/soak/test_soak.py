"""The soak (tests/soak/driver.py): a short run in ``make test``, the long one on its own
(``make soak DURATION=600`` or ``MOORAGE_LONG_TESTS=1 pytest tests/soak -m slow``)."""

from __future__ import annotations

import os

import pytest

from tests.soak.driver import run_soak, soak_registry

pytestmark = pytest.mark.live

SHORT_S = 30
LONG_S = int(os.environ.get("MOORAGE_SOAK_SECONDS", "600"))


def _soak(duration: float, workers: int) -> None:
    registry = soak_registry()
    try:
        report = run_soak(registry, duration=duration, workers=workers)
    finally:
        registry.destroy()
    print("\n" + report.render())
    figures = report.figures()
    assert report.failures == [], f"{len(report.failures)} valid operations failed:\n{report.render()}"
    assert report.unknown_blob_errors == []
    assert report.final_check == [], report.render()
    assert report.fsck == "clean", report.fsck
    assert report.gc.get("errors") == [] and report.gc["runs"] >= 3, report.gc
    # The collector had something to race with, and every kind of operation ran.
    assert report.gc["manifests"] > 0 and report.gc["blobs"] > 0, report.gc
    assert {"push", "pull", "tag-move", "delete-tag", "delete-manifest", "referrer"} <= set(figures["by_kind"]), figures["by_kind"]


def test_a_short_soak_loses_nothing_while_the_collector_runs_every_second():
    _soak(SHORT_S, workers=3)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MOORAGE_LONG_TESTS") != "1", reason="long soak: MOORAGE_LONG_TESTS=1 (or make soak DURATION=600)")
def test_a_long_soak_loses_nothing():
    _soak(LONG_S, workers=4)
