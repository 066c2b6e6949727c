"""Settings for the test process: the project's settings with a throw-away data folder."""

import os
import tempfile

os.environ.setdefault("MOORAGE_DATA_DIR", tempfile.mkdtemp(prefix="moorage-test-"))

from registry_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in unit tests
