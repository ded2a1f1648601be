"""Running the example project in a subprocess with a throwaway database, for tests."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"

# pytest's tests.settings, a developer's own database, broker or keys: not for these runs.
SCRUBBED_ENV = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "HELPDESK_OAUTH_KEYS",
    "HELPDESK_OAUTH_ENCRYPTION_KEYS",  # the example's name before HELPDESK_OAUTH_KEYS
    "SANDBOX_BASE_URL",
    "SANDBOX_TOKEN_LIFETIME",
    "DEBUG",
    "SANDBOX_KUSTOMER_ENDPOINTS",
    "ALLOWED_HOSTS",
}


def example_env(directory: Path, **extra: str) -> dict[str, str]:
    """The environment for ``manage.py`` with its SQLite database and ``var/`` in ``directory``."""
    env = {name: value for name, value in os.environ.items() if name not in SCRUBBED_ENV}
    env.update(
        DATABASE_URL=f"sqlite:///{directory / 'db.sqlite3'}",
        EXAMPLE_VAR_DIR=str(directory / "var"),
        PYTHONIOENCODING="utf-8",
        **extra,
    )
    return env
