"""Running a Celery task's body as a worker does, for tests."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry

from django_helpdesk_oauth import tasks


def run_as_worker(installation_id: int) -> Retry:
    """Run ``refresh_installation_token``'s body with a worker's request context (not
    eagerly); return the ``Retry`` it raised, whose ``when`` is the countdown re-published
    to the (in-memory) broker. ``.apply()`` would not retry: run eagerly the task answers
    ``"retry-later"``."""
    task = tasks.refresh_installation_token
    task.push_request(
        id="test-task",
        args=[installation_id],
        kwargs={},
        retries=0,
        is_eager=False,
        called_directly=False,
    )
    try:
        with pytest.raises(Retry) as excinfo:
            task.run(installation_id)
    finally:
        task.pop_request()
    return excinfo.value
