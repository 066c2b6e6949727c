"""Settings for the test process: the project's settings with a throw-away data folder."""

import atexit
import os
import shutil
import tempfile
import uuid

if "MOORAGE_DATA_DIR" not in os.environ:
    _data_dir = tempfile.mkdtemp(prefix="moorage-test-")
    os.environ["MOORAGE_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)

# The test process's own cache namespace in a shared Redis (throttling counters of other runs).
os.environ.setdefault("MOORAGE_REDIS_KEY_PREFIX", f"moorage-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")

from registry_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in unit tests

# Queued work stays in this process's memory: unit tests call the task's service themselves.
CELERY_BROKER_URL = "memory://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
