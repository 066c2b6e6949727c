"""Models of the repositories app, one module per domain. Import them from here
(``from repositories.models import Repository``); each module lists its models in ``__all__``."""

from repositories.models.builds import *  # noqa: F401,F403
from repositories.models.console import *  # noqa: F401,F403
from repositories.models.content import *  # noqa: F401,F403
from repositories.models.gc import *  # noqa: F401,F403
from repositories.models.lifecycle import *  # noqa: F401,F403
from repositories.models.logs import *  # noqa: F401,F403
from repositories.models.mirror import *  # noqa: F401,F403
from repositories.models.notifications import *  # noqa: F401,F403
from repositories.models.proxy import *  # noqa: F401,F403
from repositories.models.scans import *  # noqa: F401,F403
from repositories.models.storage import *  # noqa: F401,F403
from repositories.models.vulndb import *  # noqa: F401,F403
