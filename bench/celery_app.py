"""The Celery app of the benchmark workers: ``celery -A bench.celery_app worker``."""

import json
import os
import threading
import time

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

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


# With BENCH_TASK_TIMES (a folder), every process of the worker writes there, when it
# stops, the seconds each task it ran took from task_prerun to task_postrun: what the
# bench driver compares with the time a slot spends per refresh (the rest is dispatch).
_TIMES_DIR = os.environ.get("BENCH_TASK_TIMES")
_started: dict[str, float] = {}
_durations: list[float] = []
_lock = threading.Lock()


@task_prerun.connect
def _task_started(task_id=None, **kwargs):
    if _TIMES_DIR:
        with _lock:
            _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_done(task_id=None, **kwargs):
    if _TIMES_DIR:
        ended = time.perf_counter()
        with _lock:
            started = _started.pop(task_id, None)
            if started is not None:
                _durations.append(ended - started)


@worker_process_shutdown.connect
@worker_shutdown.connect
def _write_times(**kwargs):
    if _TIMES_DIR and _durations:
        with open(os.path.join(_TIMES_DIR, f"{os.getpid()}.json"), "w") as handle:
            json.dump(_durations, handle)
