"""Uninstall: revoke at the provider where it can, erase the tokens, mark the installation.

The user's uninstall never waits on the provider: a transient revoke failure
(timeout, 5xx, 429, RFC 7009's 503) leaves a :class:`PendingRevocation` that
the background task retries until the provider confirms.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import client
from ..exceptions import ProviderError
from ..models import Installation, PendingRevocation
from ..signals import installation_uninstalled
from .creds import with_secret_fallback

logger = logging.getLogger(__name__)

#: Give up retrying a revocation after this many attempts (about two days of backoff).
MAX_REVOKE_ATTEMPTS = 20


@dataclass(frozen=True)
class UninstallResult:
    """``revoked``: the provider confirmed; ``pending``: a background retry is queued;
    ``already``: the installation was uninstalled before this call."""

    installation: Installation
    revoked: bool = False
    pending: PendingRevocation | None = None
    already: bool = False


def uninstall(installation: Installation, *, revoke: bool = True) -> UninstallResult:
    """Uninstall ``installation``; idempotent (a second call changes nothing)."""
    with transaction.atomic():
        locked = (
            Installation.objects.select_for_update().select_related("app").get(pk=installation.pk)
        )
        if locked.status == Installation.Status.UNINSTALLED:
            return UninstallResult(locked, already=True)
        token = getattr(locked, "token", None)
        refresh_token = token.refresh_token if token else ""
        if token is not None:
            token.delete()  # erases both tokens
        locked.status = Installation.Status.UNINSTALLED
        locked.uninstalled_at = timezone.now()
        locked.save(update_fields=["status", "uninstalled_at", "updated_at"])
        pending = None
        if revoke and refresh_token and locked.app.provider_spec.supports_revoke:
            # Stored first, in the same transaction: if revoking below fails or the
            # process dies, the background retry still has what it needs.
            pending = PendingRevocation.objects.create(
                app=locked.app, tenant=locked.tenant, token=refresh_token
            )
    revoked = attempt_revocation(pending) if pending is not None else False
    if pending is not None and pending.pk is not None:
        schedule_revocation(pending)
    else:
        pending = None
    logger.info("Uninstalled installation %s (%s); revoked=%s.", locked.pk, locked.tenant, revoked)
    installation_uninstalled.send(Installation, installation=locked, revoked=revoked)
    return UninstallResult(locked, revoked=revoked, pending=pending)


def schedule_revocation(pending: PendingRevocation) -> None:
    """Queue the background retry for ``pending`` at its ``next_attempt_at``."""
    from ..tasks import revoke_pending_token

    countdown = max(0.0, (pending.next_attempt_at - timezone.now()).total_seconds())
    revoke_pending_token.apply_async((pending.pk,), countdown=countdown)


def _backoff(attempts: int) -> float:
    return min(3600.0, 30.0 * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311


def attempt_revocation(pending: PendingRevocation) -> bool:
    """Try one revocation; True if the provider confirmed it.

    The row is deleted when done, and also when retrying cannot help
    (``invalid_grant``, other 4xx, too many attempts); otherwise it is
    rescheduled with backoff that honours ``Retry-After``.
    """
    try:
        with_secret_fallback(
            pending.app, pending.tenant, lambda creds: client.revoke(creds, token=pending.token)
        )
    except ProviderError as exc:
        pending.attempts += 1
        if not exc.transient or pending.attempts >= MAX_REVOKE_ATTEMPTS:
            # invalid_grant / 4xx: nothing left to revoke, or nothing we can fix by retrying.
            logger.warning("Revocation for %s abandoned: %s", pending.tenant, exc)
            pending.delete()
            return False
        delay = max(exc.retry_after or 0.0, _backoff(pending.attempts))
        pending.last_error = str(exc)[:255]
        pending.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        pending.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        logger.info("Revocation for %s will be retried: %s", pending.tenant, exc)
        return False
    pending.delete()
    return True
