"""Uninstall: revoke at the provider where it can, erase the tokens, mark the installation.

The user's uninstall never waits on the provider: a transient revoke failure
(timeout, 5xx, 429, RFC 7009's 503) leaves a :class:`PendingRevocation` that
the background task retries until the provider confirms.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import client
from ..exceptions import (
    ConfigurationError,
    FlowError,
    HelpdeskOAuthError,
    InvalidSignature,
    InvalidTenant,
    ProviderError,
)
from ..fields import Unreadable
from ..models import Installation, PendingRevocation, ProviderApp, Token, is_due
from ..providers.base import TokenKind
from ..signals import installation_uninstalled
from .creds import previous_secret, with_secret_fallback
from .refresh import refresh_installation

# Re-exported: callers of v1 import them from here.
from .revocations import REVOKE_TASK, queue_revocation, schedule_revocation  # noqa: F401

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


def refresh_before_revoking(installation: Installation) -> None:
    """Refresh ``installation``'s token first when its revocation takes the access
    token (Zendesk's bearer ``DELETE``) and that token is due or expired.

    An expired access token is refused (401) and the grant, i.e. the refresh token,
    would stay live at the provider. Best effort, never raises: a refresh that fails
    or must wait (another worker's lease, a caller's transaction on SQLite) leaves
    the revocation to go ahead with the stored token.
    """
    provider = ProviderApp.objects.get(pk=installation.app_id).provider_spec
    if not provider.supports_revoke or provider.revocation.token != "access_token":
        return
    row = (
        Token.objects.filter(installation_id=installation.pk)
        .values("expires_at", "lifetime")
        .first()
    )
    if row is None or not is_due(row["expires_at"], row["lifetime"]):
        return
    try:
        # Single-flight (the refresh lease); skips by itself when there is no refresh token.
        refresh_installation(installation.pk)
    except Exception as exc:
        logger.warning(
            "Installation %s: the due access token could not be refreshed before its "
            "revocation (%s); revoking with the stored one.",
            installation.pk,
            _describe(exc),
        )


@sensitive_variables()
def uninstall(installation: Installation, *, revoke: bool = True) -> UninstallResult:
    """Uninstall ``installation``; idempotent (a second call changes nothing).

    Raises :class:`~django_helpdesk_oauth.exceptions.DecryptionError` (nothing changed)
    when the refresh token to revoke cannot be decrypted with any configured key.
    """
    if revoke:
        refresh_before_revoking(installation)
    with transaction.atomic():
        locked = (
            Installation.objects.select_for_update().select_related("app").get(pk=installation.pk)
        )
        if locked.status == Installation.Status.UNINSTALLED:
            return UninstallResult(locked, already=True)
        token = getattr(locked, "token", None)
        revoke = revoke and locked.app.provider_spec.supports_revoke
        # The token the provider's revocation takes (Gorgias: refresh; Zendesk: access).
        kind = locked.app.provider_spec.revocation.token
        # Read only when it is to be revoked. One no key decrypts raises DecryptionError
        # here, before anything changed (restore the key, or uninstall with revoke=False).
        to_revoke = getattr(token, kind) if token is not None and revoke else ""
        if token is not None:
            token.delete()  # erases both tokens
        locked.status = Installation.Status.UNINSTALLED
        locked.uninstalled_at = timezone.now()
        locked.save(update_fields=["status", "uninstalled_at", "updated_at"])
        pending = None
        if revoke and to_revoke:
            # Stored first, in the same transaction: if revoking below fails or the
            # process dies, the background retry still has what it needs.
            pending = PendingRevocation.objects.create(
                app=locked.app,
                tenant=locked.tenant,
                token=to_revoke,
                token_kind=kind,
                connection_config=locked.connection_config,
            )
    revoked = attempt_revocation(pending) if pending is not None else False
    if pending is not None and pending.pk is not None:
        schedule_revocation(pending)
    else:
        pending = None
    logger.info("Uninstalled installation %s (%r); revoked=%s.", locked.pk, locked.tenant, revoked)
    installation_uninstalled.send(Installation, installation=locked, revoked=revoked)
    return UninstallResult(locked, revoked=revoked, pending=pending)


@sensitive_variables()  # the client secrets the signature is checked with
def deauthorize(app: ProviderApp, body: bytes, signature: str | None) -> UninstallResult | None:
    """The provider uninstalled ``app`` for a tenant (``helpdesk_oauth:deauthorize``).

    ``body`` is the raw request body, ``signature`` the value of the provider's
    signature header (``None`` if absent). The signature is checked first, before
    the body is parsed (:meth:`DeauthorizeSignature.verify`, with the client secret
    and, inside the grace window, the previous one). Then the tenant the payload
    names gets :func:`uninstall` without revocation (the provider dropped the grant
    already): installation ``uninstalled``, tokens erased, ``installation_uninstalled``
    sent with ``revoked=False``. Returns ``None`` when nothing changed (an unknown or
    already uninstalled tenant: a replayed webhook lands here).

    Raises :class:`InvalidSignature` (401), :class:`FlowError` (400: not a JSON
    object, or no valid tenant in it), :class:`ConfigurationError` when the provider
    declares no signature scheme, :class:`DecryptionError` when the client secret
    cannot be decrypted. Nothing changes on any of these.
    """
    provider = app.provider_spec
    scheme = provider.deauthorize
    if scheme is None:
        raise ConfigurationError(f"The {provider.name} provider sends no deauthorize webhook.")
    if not scheme.verify(body, signature, [app.client_secret, previous_secret(app)]):
        logger.warning(
            "Deauthorize for %s refused: the %s header is missing or does not sign the body.",
            app.slug,
            scheme.header,
        )
        raise InvalidSignature()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FlowError("The payload is not JSON.") from None
    raw = provider.tenant_from_deauthorize(payload)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    try:
        tenant = provider.validate_tenant(raw)
    except InvalidTenant:
        shown = raw[:80] if isinstance(raw, str) else type(raw).__name__
        logger.warning(
            "Deauthorize for %s: the payload names no valid tenant (%r).", app.slug, shown
        )
        raise FlowError("The payload names no valid tenant.") from None
    installation = Installation.objects.filter(app=app, tenant=tenant).first()
    if installation is None:
        logger.info("Deauthorize for %s: no installation for tenant %r.", app.slug, tenant)
        return None
    result = uninstall(installation, revoke=False)
    if result.already:
        logger.info("Deauthorize for %s: tenant %r was uninstalled already.", app.slug, tenant)
        return None
    logger.info("Deauthorized by %s: installation %s (%r).", provider.name, installation.pk, tenant)
    return result


def _backoff(attempts: int) -> float:
    return min(3600.0, 30.0 * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311


@sensitive_variables()
def attempt_revocation(pending: PendingRevocation) -> bool:
    """Try one revocation; True if the provider confirmed it. Never raises.

    The row is deleted when done, and also when retrying cannot help
    (``invalid_grant``, other 4xx, ``MAX_REVOKE_ATTEMPTS`` reached). Any other
    failure (timeout, 5xx, 429, but also a misconfiguration or a bug) counts as
    one attempt: see :func:`record_failed_attempt`.
    """
    try:
        with_secret_fallback(
            pending.app,
            pending.tenant,
            lambda creds: client.revoke(
                creds, token=pending.token, token_type_hint=pending.token_kind
            ),
            config=pending.connection_config,
        )
    except Exception as exc:
        # The uninstall that queued this has committed: whatever went wrong is one
        # attempt with backoff, never an error for the view, admin or command.
        record_failed_attempt(pending, exc)
        return False
    pending.delete()
    return True


def record_failed_attempt(pending: PendingRevocation, exc: BaseException) -> None:
    """Count ``exc`` as one failed attempt of ``pending``.

    Abandons it (row deleted, ``pending.pk`` set to ``None``) on a permanent
    provider answer (4xx) or once ``MAX_REVOKE_ATTEMPTS`` is reached; otherwise
    sets ``attempts``, ``last_error`` and ``next_attempt_at`` (exponential backoff,
    never sooner than the provider's ``Retry-After``). ``pending.pk`` is also
    ``None`` afterwards when the row was gone already (another worker finished it).
    """
    pending.attempts += 1
    reason = _describe(exc)
    permanent = isinstance(exc, ProviderError) and not exc.transient
    if permanent and pending.token_kind == "access_token" and getattr(exc, "status", None) == 401:
        # Not "nothing left to revoke": an expired access token is refused while the
        # grant it came from (the refresh token) may still be live at the provider.
        reason = f"{reason} (the access token was refused; the grant may still be live)"
    if permanent or pending.attempts >= MAX_REVOKE_ATTEMPTS:
        # invalid_grant / 4xx: nothing left to revoke, or nothing we can fix by retrying.
        logger.warning(
            "Revocation for %r abandoned after %d attempt(s): %s",
            pending.tenant,
            pending.attempts,
            reason,
        )
        PendingRevocation.objects.filter(pk=pending.pk).delete()
        pending.pk = None
        return
    retry_after = exc.retry_after if isinstance(exc, ProviderError) else None
    delay = max(retry_after or 0.0, _backoff(pending.attempts))
    pending.last_error = reason[:255]
    pending.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    # A conditional UPDATE, not save(): the row may have been finished meanwhile.
    updated = PendingRevocation.objects.filter(pk=pending.pk).update(
        attempts=pending.attempts,
        last_error=pending.last_error,
        next_attempt_at=pending.next_attempt_at,
    )
    if not updated:
        pending.pk = None
        return
    logger.info(
        "Revocation for %r will be retried in %d s: %s", pending.tenant, round(delay), reason
    )


def _describe(exc: BaseException) -> str:
    """A message safe to store and log: our errors never hold a token or secret;
    anything else might (a ``UnicodeEncodeError`` quotes its input), so only its type."""
    if isinstance(exc, HelpdeskOAuthError | ImproperlyConfigured):
        return str(exc) or type(exc).__name__
    return f"unexpected {type(exc).__name__} during revocation"


@sensitive_variables()
def stored_token(installation: Installation, kind: TokenKind = "refresh_token") -> str:
    """The installation's stored ``kind`` token (``"refresh_token"`` or
    ``"access_token"``); ``""`` if none or unreadable (a wrong encryption key: nothing
    we could revoke with)."""
    value = Token.objects.filter(installation=installation).values_list(kind, flat=True).first()
    if isinstance(value, Unreadable):  # what a value no configured key opens loads as
        logger.warning(
            "Installation %s: stored %s unreadable; not revoked.",
            installation.pk,
            kind.replace("_", " "),
        )
        return ""
    return value or ""


def stored_refresh_token(installation: Installation) -> str:
    """The stored refresh token (:func:`stored_token`); kept for callers of v1."""
    return stored_token(installation, "refresh_token")


def revoke_or_retry(pending: PendingRevocation) -> bool:
    """One attempt now (:func:`attempt_revocation`); if still pending, the background
    retry is queued. True if the provider confirmed the revocation."""
    revoked = attempt_revocation(pending)
    if pending.pk is not None:
        schedule_revocation(pending)
    return revoked


@sensitive_variables()
def delete_installation(installation: Installation) -> PendingRevocation | None:
    """Delete ``installation`` and its token, revoking the refresh token like an uninstall.

    The row and the token go in one transaction with the queued revocation; the
    revocation is tried once after the commit, then retried in the background.
    Returns the queued revocation (``None`` when there was nothing to revoke).
    """
    refresh_before_revoking(installation)
    with transaction.atomic():
        locked = (
            Installation.objects.select_for_update().select_related("app").get(pk=installation.pk)
        )
        kind = locked.app.provider_spec.revocation.token
        pending = queue_revocation(
            locked.app,
            locked.tenant,
            stored_token(locked, kind),
            kind=kind,
            config=locked.connection_config,
        )
        locked.delete()
        if pending is not None:
            transaction.on_commit(lambda: revoke_or_retry(pending))
    logger.info(
        "Deleted installation %s (%r); revocation queued=%s.",
        installation.pk,
        locked.tenant,
        pending is not None,
    )
    return pending
