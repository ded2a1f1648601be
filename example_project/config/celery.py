"""The Celery app: ``celery -A config worker -B`` (run from ``example_project/``).

Configuration comes from Django settings prefixed ``CELERY_`` (broker, beat
schedule), so the worker and the web process read the same 12-factor env.
"""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds django_helpdesk_oauth.tasks (and any tasks.py of INSTALLED_APPS).
app.autodiscover_tasks()


@worker_ready.connect
def say_where_the_sandbox_is(**kwargs: object) -> None:
    """Name the sandbox address the worker refreshes at, and the setting that moves it."""
    from django.conf import settings

    if getattr(settings, "SANDBOX_BASE_URL", "") is None:
        from integrations.sandbox_base import DEFAULT_BASE

        print(
            f"Refreshing at the sandbox at {DEFAULT_BASE} (runserver's default address). "
            "If runserver listens elsewhere, start this worker with "
            "SANDBOX_BASE_URL=http://127.0.0.1:<port>/sandbox.",
            flush=True,
        )
