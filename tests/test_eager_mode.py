"""Celery's eager mode (``CELERY_TASK_ALWAYS_EAGER``, ``.apply()``) never hammers a provider.

Eagerly, Celery re-runs a task's retry at once, ignoring the countdown and the
provider's ``Retry-After``: a 429 used to turn into nine back-to-back token calls
and a ``MaxRetriesExceededError``. Run eagerly, a transient failure now ends the
task with ``"retry-later"`` after one call; the next sweep tries again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_helpdesk_oauth import tasks
from django_helpdesk_oauth.models import Installation, Token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager(celery_app):
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def refresh_calls(sandbox):
    return sandbox.state.count(endpoint="token", grant_type="refresh_token")


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("provider", ["gorgias", "kustomer"])
def test_an_eager_refresh_makes_one_call_on_a_rate_limit(
    sandbox, installed, gorgias_app, kustomer_app, eager, provider, status
):
    installation = installed(gorgias_app if provider == "gorgias" else kustomer_app)
    before = Token.objects.get().refresh_token
    Token.objects.update(expires_at=timezone.now() + timedelta(seconds=60))
    sandbox.state.inject("token", status=status, headers={"Retry-After": "120"}, times=50)
    result = tasks.refresh_installation_token.delay(installation.pk)
    assert (result.state, result.get()) == ("SUCCESS", "retry-later")
    assert refresh_calls(sandbox) == 1
    installation.refresh_from_db()
    assert installation.status == Installation.Status.ACTIVE
    assert installation.refresh_failures == 1 and f"HTTP {status}" in installation.last_error
    assert Token.objects.get().refresh_token == before


def test_the_eager_sweep_makes_one_call_per_due_installation(
    sandbox, installed, kustomer_app, eager
):
    installed(kustomer_app)
    Token.objects.update(expires_at=timezone.now() + timedelta(seconds=60))
    sandbox.state.inject("token", status=429, headers={"Retry-After": "120"}, times=50)
    assert tasks.refresh_expiring_tokens.delay().get() == 1
    assert refresh_calls(sandbox) == 1
