"""The storage section's ``direct_download: {location: true}`` and ``replicate_to_all`` as the
settings module builds them (a fresh process per case: settings are built once at import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.live import ROOT

PRINT_LOCATIONS = (
    "import json; from django.conf import settings; "
    "print(json.dumps({'locations': settings.MOORAGE_STORAGE_LOCATIONS, 'replicate': settings.MOORAGE['storage']['replicate_to_all']}))"
)


def settings_with(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    environ.update({"DJANGO_SETTINGS_MODULE": "registry_site.settings", "MOORAGE_DATA_DIR": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-c", PRINT_LOCATIONS], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)


LOCATIONS = {
    "local": {"driver": "filesystem", "options": {"location": "/tmp/moorage-never-written"}},
    "s3_eu": {"driver": "s3", "options": {"bucket_name": "b"}, "direct_download": True},
    "s3_us": {"driver": "s3", "options": {"bucket_name": "c"}},
}


def test_storage_level_direct_download_turns_locations_on_and_off(tmp_path):
    result = settings_with(
        tmp_path,
        MOORAGE_STORAGE_LOCATIONS=json.dumps(LOCATIONS),
        MOORAGE_STORAGE_DIRECT_DOWNLOAD=json.dumps({"s3_us": True, "s3_eu": False}),
        MOORAGE_STORAGE_REPLICATE_TO_ALL="true",
    )

    assert result.returncode == 0, result.stderr
    built = json.loads(result.stdout)
    assert {name: loc["direct_download"] for name, loc in built["locations"].items()} == {"local": False, "s3_eu": False, "s3_us": True}
    assert built["replicate"] is True


def test_the_defaults_keep_the_per_location_flag_and_replication_off(tmp_path):
    result = settings_with(tmp_path, MOORAGE_STORAGE_LOCATIONS=json.dumps(LOCATIONS))

    assert result.returncode == 0, result.stderr
    built = json.loads(result.stdout)
    assert {name: loc["direct_download"] for name, loc in built["locations"].items()} == {"local": False, "s3_eu": True, "s3_us": False}
    assert built["replicate"] is False


def test_direct_download_naming_an_unknown_location_is_a_configuration_error(tmp_path):
    result = settings_with(tmp_path, MOORAGE_STORAGE_LOCATIONS=json.dumps(LOCATIONS), MOORAGE_STORAGE_DIRECT_DOWNLOAD='{"s3_asia": true}')

    assert result.returncode != 0
    assert "storage.direct_download: unknown location(s) s3_asia" in result.stderr


def test_direct_download_values_must_be_booleans(tmp_path):
    result = settings_with(tmp_path, MOORAGE_STORAGE_DIRECT_DOWNLOAD='{"default": "yes"}')

    assert result.returncode != 0
    assert "storage.direct_download" in result.stderr
