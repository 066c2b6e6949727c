"""``python -m tests.soak``: see tests/soak/driver.py."""

import sys

from tests.soak.driver import main

sys.exit(main())
