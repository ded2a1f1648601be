"""The service layer: every flow lives here once; views, tasks, admin and
commands are thin callers."""

from .install import begin_install, complete_install, get_app
from .refresh import Outcome, RefreshFailed, RefreshRetryLater, refresh_installation
from .uninstall import UninstallResult, uninstall

__all__ = [
    "Outcome",
    "RefreshFailed",
    "RefreshRetryLater",
    "UninstallResult",
    "begin_install",
    "complete_install",
    "get_app",
    "refresh_installation",
    "uninstall",
]
