"""Django settings for the benchmarks and the integration tests' Celery workers.

Everything that differs between runs comes from the environment, so the bench
driver and the worker subprocesses it starts agree:

``BENCH_DATABASE_URL``  PostgreSQL (default ``postgres://postgres@127.0.0.1:5432/bench``)
``BENCH_BROKER_URL``    Celery broker (default Redis db 14 on 127.0.0.1)
``BENCH_QUEUE``         the queue the driver publishes to and the worker consumes
``BENCH_SANDBOX_URL``   where the sandbox providers are served, mount prefix included
``BENCH_FS_BROKER_DIR`` the folder of the ``filesystem://`` broker
``BENCH_REFRESH_LEASE`` / ``BENCH_REFRESH_MARGIN`` / ``BENCH_HTTP_TIMEOUT``  overrides
"""

import os

import environ

from tests.settings import *  # noqa: F403  (the same apps, URLs, sandbox clients and keys)
from tests.settings import HELPDESK_OAUTH as _TEST_HELPDESK_OAUTH

DATABASES = {
    "default": {
        **environ.Env.db_url_config(
            os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
        ),
        # Persistent connections, as any production deployment has: without them
        # every Celery task opens a new PostgreSQL connection (Celery's Django fixup
        # closes it after each task when CONN_MAX_AGE is 0).
        "CONN_MAX_AGE": 600,
    }
}

HELPDESK_OAUTH = {**_TEST_HELPDESK_OAUTH}
if os.environ.get("BENCH_SANDBOX_URL"):
    from django_helpdesk_oauth.sandbox.endpoints import provider_settings

    HELPDESK_OAUTH["PROVIDERS"] = provider_settings(os.environ["BENCH_SANDBOX_URL"])
for _name, _cast in (
    ("REFRESH_LEASE", int),
    ("REFRESH_MARGIN", int),
    ("HTTP_TIMEOUT", float),
):
    if os.environ.get(f"BENCH_{_name}"):
        HELPDESK_OAUTH[_name] = _cast(os.environ[f"BENCH_{_name}"])

CELERY_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("BENCH_QUEUE", "helpdesk-oauth-bench")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if CELERY_BROKER_URL.startswith("filesystem://"):
    import tempfile

    _folder = os.environ.get("BENCH_FS_BROKER_DIR") or tempfile.mkdtemp(prefix="hdo-broker-")
    os.makedirs(os.path.join(_folder, "processed"), exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _folder,
        "data_folder_out": _folder,
        "processed_folder": os.path.join(_folder, "processed"),
        "control_folder": os.path.join(_folder, "control"),  # else ./control in the cwd
        "store_processed": False,
        # DESIGN.md: about 0.05 s, or a task waits a second for the next poll.
        "polling_interval": 0.05,
    }

# Warnings only: an INFO line per refresh would be part of what we measure.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
