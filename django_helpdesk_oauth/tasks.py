"""Celery tasks (contract): the beat sweep and the per-installation refresh.

Schedule the sweep every few minutes, shorter than half of ``REFRESH_MARGIN``::

    CELERY_BEAT_SCHEDULE = {
        "helpdesk-oauth-refresh": {
            "task": "django_helpdesk_oauth.tasks.refresh_expiring_tokens",
            "schedule": 300.0,
        },
    }
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from .conf import app_settings
from .exceptions import DecryptionError
from .models import AuthorizationRequest, PendingRevocation
from .services import bulk
from .services.refresh import RefreshFailed, RefreshRetryLater, refresh_installation
from .services.secrets import expire_previous_secrets
from .services.uninstall import attempt_revocation, record_failed_attempt, schedule_revocation

logger = logging.getLogger(__name__)

#: Rows read per sweep query.
SWEEP_BATCH = 500
#: Seconds past its due time after which the sweep re-queues a pending revocation.
REVOCATION_SAFETY_NET = 300
#: Retries of one refresh before giving up until the next sweep.
MAX_REFRESH_RETRIES = 8


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s … capped at 15 min); never
    sooner than the provider's ``Retry-After``."""
    delay = min(900.0, 5.0 * 2**retries) * random.uniform(0.5, 1.5)  # noqa: S311
    return max(delay, retry_after or 0.0)


def due_installation_ids(batch: int | None = None, *, app_id: int | None = None) -> Iterator[int]:
    """Ids of active installations whose token is due, ``batch`` (default
    :data:`SWEEP_BATCH`) per keyset query: :func:`.services.bulk.due_installation_ids`."""
    return bulk.due_installation_ids(batch or SWEEP_BATCH, app_id=app_id)


def purge_expired_authorization_requests(batch: int | None = None) -> int:
    """Delete authorization requests past ``expires_at`` (their state can no longer
    be used), ``batch`` rows per query on the ``expires_at`` index; return the count."""
    batch = batch or SWEEP_BATCH
    now = timezone.now()
    total = 0
    while True:
        ids = list(AuthorizationRequest.objects.expired(now).values_list("pk", flat=True)[:batch])
        if ids:
            total += AuthorizationRequest.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    if total:
        logger.info("Deleted %d expired authorization requests.", total)
    return total


@shared_task(name="django_helpdesk_oauth.tasks.refresh_expiring_tokens", ignore_result=True)
def refresh_expiring_tokens() -> int:
    """Dispatch a refresh for every due token (:meth:`.models.TokenQuerySet.due`: within
    ``REFRESH_MARGIN`` of its expiry, at most half its granted lifetime; never a token
    that never expires); return the count.

    Each dispatch gets a small random countdown so tokens issued together do
    not all hit the provider in the same second. Also re-queues revocations left
    by uninstalls, erases previous client secrets whose grace window closed and
    deletes expired authorization requests.
    """
    spread = max(0.0, min(60.0, app_settings.REFRESH_MARGIN / 10))
    count = 0
    for installation_id in due_installation_ids():
        refresh_installation_token.apply_async(
            (installation_id,),
            countdown=random.uniform(0, spread),  # noqa: S311
        )
        count += 1
    if count:
        logger.info("Dispatched %d token refreshes.", count)
    expire_previous_secrets()
    purge_expired_authorization_requests()
    # Only revocations their own scheduled retry has missed (a lost message, a broker
    # restart): one that is just due is about to be tried by that retry.
    overdue = timezone.now() - timedelta(seconds=REVOCATION_SAFETY_NET)
    for pending_id in PendingRevocation.objects.due(overdue).values_list("id", flat=True)[
        :SWEEP_BATCH
    ]:
        revoke_pending_token.delay(pending_id)
    return count


@shared_task(
    bind=True,
    name="django_helpdesk_oauth.tasks.refresh_installation_token",
    ignore_result=True,
    acks_late=True,
    max_retries=MAX_REFRESH_RETRIES,
)
def refresh_installation_token(self: Any, installation_id: int) -> str:
    """Refresh one installation's token if due. Safe to run many times at once.

    Returns ``"refreshed"``, ``"fresh"``, ``"skipped"``, ``"failed"`` (nothing a retry
    can fix), or, run eagerly (``.apply()``, ``CELERY_TASK_ALWAYS_EAGER``),
    ``"retry-later"`` after a transient failure: Celery would re-run an eager retry at
    once, ignoring the countdown and the provider's ``Retry-After``, so the next sweep
    retries instead. On a worker a transient failure is retried with :func:`backoff`.
    """
    try:
        return str(refresh_installation(installation_id))
    except RefreshRetryLater as exc:
        if self.request.is_eager:
            return "retry-later"
        raise self.retry(countdown=backoff(self.request.retries, exc.retry_after)) from None
    except RefreshFailed as exc:
        logger.warning("Refresh of installation %s failed for good: %s", installation_id, exc)
        return "failed"
    except DecryptionError:
        # A wrong or missing encryption key: recorded on the installation (still active);
        # retrying cannot help until the key is fixed, and the next sweep tries again.
        return "failed"


@shared_task(name="django_helpdesk_oauth.tasks.revoke_pending_token", ignore_result=True)
def revoke_pending_token(pending_id: int) -> bool:
    """Retry one revocation left by an uninstall; True if the provider confirmed it.

    Never raises: every failure, even a row that cannot be read (a wrong encryption
    key), is one more attempt with backoff, so ``attempts`` grows and the row is
    abandoned after ``MAX_REVOKE_ATTEMPTS``. Reschedules itself while it fails.
    """
    # Read without the encrypted columns first: the due check must work even when
    # the token cannot be decrypted.
    row = (
        PendingRevocation.objects.filter(pk=pending_id)
        .values("next_attempt_at", "attempts", "tenant", "app_id")
        .first()
    )
    if row is None or row["next_attempt_at"] > timezone.now() + timedelta(seconds=1):
        return False  # done already, or another attempt is scheduled later
    try:
        pending = PendingRevocation.objects.select_related("app").get(pk=pending_id)
    except PendingRevocation.DoesNotExist:
        return False  # finished meanwhile
    except Exception as exc:
        pending = PendingRevocation(
            pk=pending_id, app_id=row["app_id"], tenant=row["tenant"], attempts=row["attempts"]
        )
        record_failed_attempt(pending, exc)
    else:
        if attempt_revocation(pending):
            return True
    if pending.pk is not None:
        schedule_revocation(pending)
    return False
