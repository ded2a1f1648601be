"""The example project's configuration package.

Importing the Celery app here makes ``@shared_task`` (the package's tasks) bind
to it whenever Django starts, so ``.delay()`` from a web request uses our broker.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
