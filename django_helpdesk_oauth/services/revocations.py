"""Queueing a token for revocation at the provider: the lowest step of the uninstall.

Kept apart from :mod:`.uninstall` so the refresh service can queue the revocation of a
pair it could not store (the installation was uninstalled meanwhile) while the uninstall
service still refreshes through :mod:`.refresh`: imports stay one-way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from celery import current_app
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..models import PendingRevocation, ProviderApp
from ..providers.base import TokenKind

logger = logging.getLogger(__name__)

#: The Celery task that retries a revocation, by its registered name: the tasks call
#: the services, so they look the task up instead of importing it (one-way imports).
REVOKE_TASK = "django_helpdesk_oauth.tasks.revoke_pending_token"


def schedule_revocation(pending: PendingRevocation) -> None:
    """Queue the background retry for ``pending`` at its ``next_attempt_at``."""
    countdown = max(0.0, (pending.next_attempt_at - timezone.now()).total_seconds())
    try:
        # The app's registry (tasks register in AppConfig.ready); apply_async, unlike
        # send_task, honours task_always_eager.
        current_app.tasks[REVOKE_TASK].apply_async((pending.pk,), countdown=countdown)
    except Exception as exc:
        # Called after the uninstall committed (a broker outage must not turn it into a
        # 500); the beat sweep re-queues revocations whose retry was never queued.
        logger.warning(
            "Could not queue the revocation retry for %r (%s); the sweep will.",
            pending.tenant,
            type(exc).__name__,
        )


@sensitive_variables()
def queue_revocation(
    app: ProviderApp,
    tenant: str,
    token: str,
    *,
    kind: TokenKind = "refresh_token",
    config: Mapping[str, Any] | None = None,
) -> PendingRevocation | None:
    """Store ``token`` (a ``kind``: ``"refresh_token"`` or ``"access_token"``) for
    revocation at the provider; ``None`` when there is nothing to do (no token, or the
    provider has no revocation).

    Call it inside the transaction that drops the token locally, so the two stand
    or fall together; then :func:`~.uninstall.revoke_or_retry` (now) or
    :func:`schedule_revocation` (background) after the commit.
    """
    if not token or not app.provider_spec.supports_revoke:
        return None
    return PendingRevocation.objects.create(
        app=app, tenant=tenant, token=token, token_kind=kind, connection_config=dict(config or {})
    )
