"""The service layer: every flow lives here once; views, tasks, admin and
commands are thin callers."""

from .bulk import RefreshResult, RefreshSummary, refresh_many
from .install import begin_install, complete_install, get_app
from .refresh import Outcome, RefreshFailed, RefreshRetryLater, refresh_installation
from .uninstall import UninstallResult, deauthorize, uninstall

__all__ = [
    "Outcome",
    "RefreshFailed",
    "RefreshResult",
    "RefreshRetryLater",
    "RefreshSummary",
    "UninstallResult",
    "begin_install",
    "complete_install",
    "deauthorize",
    "get_app",
    "refresh_installation",
    "refresh_many",
    "uninstall",
]
