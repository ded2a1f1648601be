"""The test settings, pointed at the test database pytest created (for ``python -m django``)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES = {"default": {**DATABASES["default"], "NAME": os.environ["HELPDESK_OAUTH_TEST_DB_NAME"]}}
