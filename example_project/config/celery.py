"""The Celery app: ``celery -A config worker -B`` (run from ``example_project/``).

Configuration comes from Django settings prefixed ``CELERY_`` (broker, beat
schedule), so the worker and the web process read the same 12-factor env.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds django_helpdesk_oauth.tasks (and any tasks.py of INSTALLED_APPS).
app.autodiscover_tasks()
