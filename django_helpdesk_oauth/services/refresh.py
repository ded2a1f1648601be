"""Refreshing one installation's token, single-flight across every worker.

Read first, lease second: one SELECT (token, installation and app joined)
decides in Python whether the token is due; a token that is not due costs that
one statement. A due one is leased (invariant 1) with one conditional UPDATE on
the token row guarded by the version the SELECT saw (``refresh_count``), the
lease being free, the token still due and its installation still active (an
``invalid_grant`` marks the installation without moving the version), so the
snapshot read is the row leased: every writer of the token values moves
``refresh_count`` on (a refresh, the salvage of a rotated refresh token, a
re-install), and a rekey writes the same plaintext. It works the same on SQLite
and PostgreSQL, across threads, processes and machines. The HTTP call runs
outside any transaction; the result is written with a second conditional UPDATE
guarded by the same version, which also releases the lease: three statements for
a refresh. A caller that finds the lease taken waits and re-reads the token
instead of refreshing again: with rotating refresh tokens (Kustomer) a second
refresh would spend the token and lose the customer.
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import OperationalError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import client
from ..conf import app_settings
from ..exceptions import (
    DecryptionError,
    HelpdeskOAuthError,
    InvalidClient,
    InvalidGrant,
    ProviderError,
)
from ..models import Installation, ProviderApp, Token, due_condition, is_due
from ..providers import Provider
from ..signals import (
    installation_needs_reauth,
    refresh_token_not_rotated,
    token_refresh_failed,
    token_refreshed,
)
from ..token_response import TokenResponse, usable_refresh_token
from ..transport import LEASE_SAFETY
from . import isolation
from .creds import with_secret_fallback
from .revocations import queue_revocation, schedule_revocation
from .tokens import salvage_fields, token_fields, unusable

logger = logging.getLogger(__name__)

#: Seconds between re-reads while another worker holds the lease.
WAIT_POLL = 0.05


class Outcome(enum.StrEnum):
    """What :func:`refresh_installation` did."""

    REFRESHED = "refreshed"  # this call refreshed the token
    FRESH = "fresh"  # not due, or another worker refreshed it meanwhile
    SKIPPED = "skipped"  # no token, or the installation is not active


class RefreshRetryLater(HelpdeskOAuthError):
    """A transient failure (timeout, 5xx, 429, lease busy): the token is untouched; retry.

    ``retry_after`` is the provider's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RefreshFailed(HelpdeskOAuthError):
    """A permanent failure for now (``invalid_grant``, ``invalid_client``…): do not retry."""

    def __init__(self, message: str, error: ProviderError) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class _Snapshot:
    token: Token
    installation: Installation
    app: ProviderApp


def _bookkeep(rows: QuerySet[Any], **fields: Any) -> int:
    """UPDATE bookkeeping columns (errors, failure counts); a lock timeout is logged, not
    raised: a token already saved (or a failure already decided) must not be reported
    as lost because a caller's transaction holds a lock on the installation."""
    try:
        return rows.update(**fields)
    except OperationalError as exc:
        logger.warning(
            "Bookkeeping on %s skipped (%s).", rows.model._meta.label, type(exc).__name__
        )
        return 0


def _short(exc: BaseException) -> str:
    return str(exc)[:255]


def _take_lease(token: Token, owner: str, now: datetime, due: Q) -> bool:
    """Lease ``token``'s row for ``owner`` if it is still the version read, its lease is
    free (or lapsed) at ``now``, it is still ``due`` and its installation is still
    active: one conditional UPDATE.

    The installation's status is part of the condition because marking it
    ``needs_reauth`` (an ``invalid_grant``) does not move the token's version: a caller
    whose read came before another worker's whole failed refresh would otherwise send
    the refresh token the provider has just refused once more. An ``EXISTS`` on the
    installation (not a join, which Django turns into ``pk IN (SELECT …)``) keeps the
    version and lease terms on the row the UPDATE locks.
    """
    lease_free = Q(lease_owner="") | Q(lease_expires_at__lt=now)
    active = Exists(
        Installation.objects.active().filter(pk=OuterRef("installation_id")).values("pk")
    )
    return bool(
        Token.objects.filter(
            due, lease_free, active, pk=token.pk, refresh_count=token.refresh_count
        ).update(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=app_settings.REFRESH_LEASE),
        )
    )


def _lease_taken(token: Token, now: datetime) -> bool:
    """Whether another worker held ``token``'s lease when it was read (lapsed: free)."""
    return bool(token.lease_owner) and (
        token.lease_expires_at is None or token.lease_expires_at >= now
    )


def _release(installation_id: int, owner: str) -> None:
    Token.objects.filter(installation_id=installation_id, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )


def _snapshot(installation_id: int) -> _Snapshot | None:
    """The token, its installation and app in one SELECT (``None``: no token)."""
    # A slice, not .first(): at most one row (one-to-one), so no ORDER BY is needed.
    rows = list(
        Token.objects.select_related("installation__app").filter(installation_id=installation_id)[
            :1
        ]
    )
    if not rows:
        return None
    token = rows[0]
    return _Snapshot(token, token.installation, token.installation.app)


def _due_condition(now: datetime, version: int | None) -> Q:
    """Which token rows need this refresh (the lease UPDATE's condition).

    A token that never expires (``expires_at`` NULL) matches neither: asking to refresh
    it, even forced, is a no-op (:attr:`Outcome.FRESH`) that sends nothing.
    """
    if version is not None:
        # Forced refresh of a token the caller saw rejected: only if nobody refreshed it since.
        return Q(refresh_count=version, expires_at__isnull=False)
    return due_condition(now)


def _still_due(token: Token, now: datetime, version: int | None) -> bool:
    """:func:`_due_condition` evaluated on a row already read."""
    if version is not None:
        return token.refresh_count == version and token.expires_at is not None
    return is_due(token.expires_at, token.lifetime, now)


@sensitive_variables()
def refresh_installation(
    installation_id: int, *, if_version: int | None = None, wait: float | None = None
) -> Outcome:
    """Refresh the installation's token if it is due (or if ``if_version`` still matches).

    Safe to call from any number of threads, processes and machines at once:
    exactly one refreshes, the others return :attr:`Outcome.FRESH` once it is
    done. Raises :class:`RefreshRetryLater` (token untouched) or
    :class:`RefreshFailed`, or :class:`~django_helpdesk_oauth.exceptions.DecryptionError`
    when the stored token or client secret cannot be decrypted (nothing sent; the reason
    is recorded on the installation, which stays active).

    Called inside a transaction of the caller's (``ATOMIC_REQUESTS``, an
    ``atomic()`` block), the refresh runs on a connection of its own and commits
    independently (:mod:`.isolation`): a rollback of the caller's transaction
    can't bring back a refresh token the provider has already spent. On SQLite (one
    writer) a refresh is not attempted inside a caller's transaction
    (:class:`RefreshRetryLater`; nothing is sent to the provider) and the Celery
    sweep refreshes the token instead; on PostgreSQL a lock the caller holds on our
    rows makes it :class:`RefreshRetryLater` too, after ``isolation.LOCK_TIMEOUT``.
    """
    if isolation.in_caller_transaction():
        if isolation.single_writer_database():
            raise RefreshRetryLater(
                "Not refreshed inside the caller's transaction on SQLite (one writer); "
                "the background refresh will do it."
            )
        try:
            return isolation.on_own_connection(
                _refresh_when_due, installation_id, if_version=if_version, wait=wait
            )
        except OperationalError:
            # A lock the caller's transaction holds on our rows (lock_timeout): the
            # lease could not be taken, so nothing was sent to the provider.
            raise RefreshRetryLater(
                "Not refreshed: a lock held by the caller's transaction blocked the lease."
            ) from None
    return _refresh_when_due(installation_id, if_version=if_version, wait=wait)


def _refresh_when_due(
    installation_id: int, *, if_version: int | None, wait: float | None
) -> Outcome:
    owner = ""
    # A holder may make two token calls (the secret grace-window retry).
    patience = 2 * app_settings.HTTP_TIMEOUT + LEASE_SAFETY
    deadline = time.monotonic() + (wait if wait is not None else patience)
    raced = False
    while True:
        snap = _snapshot(installation_id)
        if snap is None:
            return Outcome.SKIPPED
        if snap.installation.status != Installation.Status.ACTIVE:
            # Never refreshed (needs re-authorization, uninstalled): nothing to lease.
            return Outcome.SKIPPED
        now = timezone.now()
        if not _still_due(snap.token, now, if_version):
            return Outcome.FRESH
        if not _lease_taken(snap.token, now):
            owner = owner or uuid.uuid4().hex
            # Read before the UPDATE, so the lease ends no earlier than this figure says.
            lease = float(app_settings.REFRESH_LEASE)
            lease_ends = time.monotonic() + lease
            if _take_lease(snap.token, owner, now, _due_condition(now, if_version)):
                # A lease shorter than the checks allow (E006) still leaves half of it.
                safety = min(float(LEASE_SAFETY), lease / 2)
                return _refresh_with_lease(snap, owner, lease_ends - safety)
            if not raced:
                # Changed since the read (refreshed, leased, deleted): re-read it now.
                raced = True
                continue
        # Another worker holds the lease: wait for its result.
        if time.monotonic() >= deadline:
            raise RefreshRetryLater("Another worker is refreshing this token; try again later.")
        raced = False
        time.sleep(WAIT_POLL)


def _refresh_with_lease(snap: _Snapshot, owner: str, call_deadline: float) -> Outcome:
    installation_id = snap.installation.pk
    try:
        return _refresh_holding_lease(snap, owner, call_deadline)
    except DecryptionError as exc:
        _release(installation_id, owner)
        _record_unreadable(installation_id, exc)
        raise
    except BaseException:
        # Whatever failed (provider error, unreadable token, misconfiguration), the
        # lease is freed now rather than blocking refreshes until it expires.
        _release(installation_id, owner)
        raise


@sensitive_variables()
def _refresh_holding_lease(snap: _Snapshot, owner: str, call_deadline: float) -> Outcome:
    """Refresh while holding the lease on ``snap.token`` (the version leased).
    ``call_deadline`` (``time.monotonic()`` seconds) is when every token call must have
    ended: ``LEASE_SAFETY`` seconds (at most half the lease) before the lease lapses, so
    no other worker can take it over while our call is still in flight."""
    token, installation, app = snap.token, snap.installation, snap.app
    installation_id = installation.pk
    if installation.status != Installation.Status.ACTIVE or not token.refresh_token:
        _release(installation_id, owner)
        expired = token.expires_at is not None and token.expires_at <= timezone.now()
        # A provider whose tokens never expire (Intercom) has no refresh token by design:
        # an expires_at moved by hand doesn't make its token dead.
        expires = app.provider_spec.access_tokens_expire
        if installation.status == Installation.Status.ACTIVE and expired and expires:
            _expired_without_refresh_token(installation)
        return Outcome.SKIPPED
    version = token.refresh_count
    try:
        raw = with_secret_fallback(
            app,
            installation.tenant,
            lambda creds: client.refresh(
                creds,
                refresh_token=token.refresh_token,
                deadline=min(time.monotonic() + app_settings.HTTP_TIMEOUT, call_deadline),
            ),
            config=installation.connection_config,
        )
    except ProviderError as exc:
        # The lease is released by _refresh_with_lease as this propagates.
        raise _record_failure(snap, exc, version) from None
    if not raw.usable:
        # The lease is released by _refresh_with_lease as this propagates.
        raise _keep_what_is_usable(snap, raw, version)
    now = timezone.now()
    not_rotated = _not_rotated(app.provider_spec, raw, token.refresh_token)
    if not_rotated:
        # Blank, a placeholder, a number, none, or ours again: never stored over ours
        # (which the provider has probably spent); the next refresh will tell.
        logger.warning(
            "Refresh of installation %s: %s always rotates refresh tokens but its answer "
            "has %s; the previous one is kept.",
            installation.pk,
            app.provider_spec.name,
            "no usable one" if not_rotated == "missing" else "the same one",
        )
    fields = token_fields(
        app.provider_spec, raw, now=now, previous_refresh_token=token.refresh_token
    )
    saved = Token.objects.filter(pk=token.pk, refresh_count=version).update(
        **fields,
        issued_at=now,
        last_refreshed_at=now,
        refresh_count=F("refresh_count") + 1,
        lease_owner="",
        lease_expires_at=None,
    )
    if not saved:
        if not Token.objects.filter(pk=token.pk).exists():
            # Uninstalled (or deleted) while the answer was on its way: the provider
            # has issued this pair, so it is revoked rather than left live there.
            _revoke_unstored(app, installation, fields, "was deleted")
            return Outcome.SKIPPED
        _release(installation_id, owner)
        if _reinstalled_since(installation):
            # The pair belongs to the grant the re-install replaced (and revoked): nothing
            # of ours holds it, so it is revoked rather than left live at the provider.
            _revoke_unstored(app, installation, fields, "was replaced by a re-install")
            return Outcome.FRESH
        # Someone else saved a newer token while our lease had lapsed; theirs stands.
        logger.warning(
            "Refresh result for installation %s discarded: a newer token exists.", installation_id
        )
        return Outcome.FRESH
    if installation.refresh_failures or installation.last_error:
        _bookkeep(
            Installation.objects.filter(pk=installation.pk),
            refresh_failures=0,
            last_error="",
            last_error_at=None,
        )
    logger.info(
        "Refreshed the token of installation %s (%r).", installation.pk, installation.tenant
    )
    token_refreshed.send(Installation, installation=installation)
    if not_rotated:
        refresh_token_not_rotated.send(Installation, installation=installation, reason=not_rotated)
    return Outcome.REFRESHED


def _reinstalled_since(installation: Installation) -> bool:
    """Whether ``installation`` (as read before the refresh) was installed again since:
    a re-install replaces the grant and moves ``installed_at``. One query."""
    current = (
        Installation.objects.filter(pk=installation.pk)
        .values_list("installed_at", flat=True)
        .first()
    )
    return current is not None and current != installation.installed_at


@sensitive_variables()
def _revoke_unstored(
    app: ProviderApp, installation: Installation, fields: Mapping[str, Any], what: str
) -> None:
    """Queue the revocation of a refreshed pair that no Token row holds (the
    installation's token ``what``: deleted, replaced by a re-install), the provider's
    way (its strategy's token kind), with the connection config the pair was issued
    under. Never with a revocation that ends the installation (Intercom): a re-install's
    new grant would go with it."""
    strategy = app.provider_spec.revocation
    if strategy.ends_installation:
        logger.warning(
            "Refresh result for installation %s discarded: the installation's token %s "
            "meanwhile; not revoked (the provider's revocation ends the installation).",
            installation.pk,
            what,
        )
        return
    kind = strategy.token
    pending = queue_revocation(
        app,
        installation.tenant,
        fields.get(kind) or "",
        kind=kind,
        config=installation.connection_config,
    )
    logger.warning(
        "Refresh result for installation %s discarded: the installation's token %s "
        "meanwhile; revocation queued=%s.",
        installation.pk,
        what,
        pending is not None,
    )
    if pending is not None:
        schedule_revocation(pending)


def _not_rotated(provider: Provider, raw: TokenResponse, sent: str) -> str:
    """``"missing"`` / ``"unchanged"`` when a provider declared ``"always"`` rotating
    answered without a new refresh token; ``""`` otherwise (and for ``"sometimes"`` /
    ``"never"``, where keeping the old one is normal)."""
    if provider.refresh_token_rotation != "always":
        return ""
    if not usable_refresh_token(raw.refresh_token):
        return "missing"
    return "unchanged" if raw.refresh_token == sent else ""


def _keep_what_is_usable(
    snap: _Snapshot, parsed: TokenResponse, version: int
) -> RefreshRetryLater | RefreshFailed:
    """A 2xx whose access token is unusable: store its rotated refresh token, then retry.

    The provider has spent the refresh token we sent (Kustomer rotates), so a new
    one in the answer is written now, in this step, or the customer is lost. The
    old access token and its expiry stay (the token is still due, so the retry
    uses the new refresh token); ``refresh_count`` moves on so the version guard
    and a waiter's ``if_version`` see the change. The failure is booked on the
    installation like any transient one (:class:`UnusableTokenResponse`).
    """
    token = snap.token
    kept = salvage_fields(parsed, previous_refresh_token=token.refresh_token)
    if kept:
        saved = Token.objects.filter(pk=token.pk, refresh_count=version).update(
            **kept, refresh_count=F("refresh_count") + 1, lease_owner="", lease_expires_at=None
        )
        if saved:
            version += 1
        else:
            logger.warning(
                "Refresh result for installation %s discarded: a newer token exists.",
                snap.installation.pk,
            )
    return _record_failure(snap, unusable(snap.app.provider_spec, parsed, "token refresh"), version)


def _record_unreadable(installation_id: int, exc: DecryptionError) -> None:
    """A stored token or client secret no configured key decrypts (a wrong or lost key).

    Nothing was sent: the values are read before the provider is called. The reason is
    booked on the installation (and on the app when it is the client secret), but the
    installation stays active, never ``needs_reauth``: restoring the key fixes it.
    """
    now = timezone.now()
    reason = _short(exc)
    _bookkeep(
        Installation.objects.filter(pk=installation_id),
        last_error=reason,
        last_error_at=now,
        refresh_failures=F("refresh_failures") + 1,
    )
    if exc.model == ProviderApp._meta.label and exc.pk is not None:
        _bookkeep(ProviderApp.objects.filter(pk=exc.pk), last_error=reason, last_error_at=now)
    logger.error("Refresh of installation %s impossible: %s", installation_id, reason)


def _expired_without_refresh_token(installation: Installation) -> None:
    """No refresh token (e.g. Kustomer without ``offline_access``) and the access token is
    gone: only a new install helps, so say so instead of staying "active"."""
    marked = _bookkeep(
        Installation.objects.active().filter(pk=installation.pk),
        status=Installation.Status.NEEDS_REAUTH,
        last_error="The access token expired and there is no refresh token (offline scope?).",
        last_error_at=timezone.now(),
    )
    if marked:
        logger.warning("Installation %s expired without a refresh token.", installation.pk)
        installation.status = Installation.Status.NEEDS_REAUTH
        installation_needs_reauth.send(Installation, installation=installation)


def _record_failure(
    snap: _Snapshot, exc: ProviderError, version: int
) -> RefreshRetryLater | RefreshFailed:
    """Book the failure on the installation (or the app) and say what to raise."""
    installation, app = snap.installation, snap.app
    now = timezone.now()
    reason = _short(exc)
    if isinstance(exc, InvalidClient):
        # The app's credentials, not the tenant's grant: never mark installations. The
        # app's last_error was written by creds.with_secret_fallback, naming the fix.
        logger.error(
            "Provider app %s: credentials rejected during refresh (%s).", app.slug, exc.error
        )
        token_refresh_failed.send(
            Installation, installation=installation, error=exc, will_retry=False
        )
        return RefreshFailed(reason, exc)
    bookkeeping = {
        "last_error": reason,
        "last_error_at": now,
        "refresh_failures": F("refresh_failures") + 1,
    }
    if isinstance(exc, InvalidGrant):
        # Only if the refresh token we used is still the stored one: if another worker
        # rotated it meanwhile, this invalid_grant is the race, not a revoked grant.
        marked = _bookkeep(
            Installation.objects.active().filter(pk=installation.pk, token__refresh_count=version),
            status=Installation.Status.NEEDS_REAUTH,
            **bookkeeping,
        )
        if marked:
            logger.warning(
                "Installation %s needs re-authorization (invalid_grant).", installation.pk
            )
            installation.status = Installation.Status.NEEDS_REAUTH
            installation_needs_reauth.send(Installation, installation=installation)
        token_refresh_failed.send(
            Installation, installation=installation, error=exc, will_retry=False
        )
        return RefreshFailed(reason, exc)
    _bookkeep(Installation.objects.filter(pk=installation.pk), **bookkeeping)
    will_retry = exc.transient
    logger.warning("Refresh of installation %s failed: %s", installation.pk, reason)
    token_refresh_failed.send(
        Installation, installation=installation, error=exc, will_retry=will_retry
    )
    if will_retry:
        return RefreshRetryLater(reason, retry_after=exc.retry_after)
    return RefreshFailed(reason, exc)
