"""The test settings, pointed at the test database pytest created (for ``python -m django``)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, ROOT_URLCONF

DATABASES = {"default": {**DATABASES["default"], "NAME": os.environ["HELPDESK_OAUTH_TEST_DB_NAME"]}}
# A test may run a command under a project URLconf of its own.
ROOT_URLCONF = os.environ.get("HELPDESK_OAUTH_TEST_URLCONF", ROOT_URLCONF)
