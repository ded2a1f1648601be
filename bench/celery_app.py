"""The Celery app of the benchmark workers: ``celery -A bench.celery_app worker``."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

app = Celery("bench", include=["django_helpdesk_oauth.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")


@worker_ready.connect
def _announce(**kwargs):
    """Tell the bench driver the worker consumes now (it runs at WARNING level)."""
    path = os.environ.get("BENCH_READY_FILE")
    if path:
        with open(path, "w") as handle:
            handle.write("ready\n")
