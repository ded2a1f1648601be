"""The test settings with ``USE_TZ=False``: the lifecycle suite runs once more under them
(the third pass of ``scripts/test`` lists the files).

A ``TIME_ZONE`` far from UTC makes a local/UTC mix-up (a naive local time read as
UTC, or the reverse) show up as hours of difference instead of passing by chance.
"""

from tests.settings import *  # noqa: F403

USE_TZ = False
TIME_ZONE = "America/New_York"
