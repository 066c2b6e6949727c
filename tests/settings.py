"""Settings for the test process: the project's settings with a throw-away data folder."""

import atexit
import os
import shutil
import tempfile

if "MOORAGE_DATA_DIR" not in os.environ:
    _data_dir = tempfile.mkdtemp(prefix="moorage-test-")
    os.environ["MOORAGE_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)

from registry_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in unit tests
