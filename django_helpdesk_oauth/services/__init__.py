"""The service layer: every flow lives here once; views, tasks, admin and
commands are thin callers."""

from .install import begin_install, complete_install, get_app

__all__ = ["begin_install", "complete_install", "get_app"]
