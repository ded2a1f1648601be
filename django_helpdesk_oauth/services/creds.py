"""The app's client credentials for a tenant, with the post-rotation grace window.

A rotation keeps the previous secret (encrypted) for ``SECRET_GRACE_PERIOD``:
if the token endpoint answers ``invalid_client`` with the new secret inside
that window, the call is retried once with the previous one, so a rotation
done in the wrong order does not break every tenant. That is not silent: the
app's ``last_error`` says the previous secret is in use and until when, and
``client_secret_rejected`` is sent (:func:`credential_health` reads it back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import OperationalError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import client
from ..conf import app_settings
from ..exceptions import InvalidClient, ProviderError
from ..fields import is_readable
from ..models import ProviderApp
from ..signals import client_secret_rejected
from ..timeutil import utc_iso

logger = logging.getLogger(__name__)

T = TypeVar("T")


@sensitive_variables()
def credentials(
    app: ProviderApp,
    tenant: str,
    *,
    secret: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> client.Credentials:
    """The client credentials of ``app`` for ``tenant`` and ``config`` (the
    installation's ``connection_config``: which region's hosts)."""
    return client.Credentials(
        provider=app.provider_spec,
        tenant=tenant,
        client_id=app.client_id,
        client_secret=app.client_secret if secret is None else secret,
        connection_config=dict(config or {}),
    )


@sensitive_variables()
def previous_secret(app: ProviderApp) -> str:
    """The previous secret while the grace window is open, else ``""`` (also when no
    configured key decrypts it: a fallback must never raise over the real error)."""
    if app.secret_rotated_at is None or not is_readable(app, "previous_client_secret"):
        return ""
    if not app.previous_client_secret:
        return ""
    ends = grace_ends(app)
    return app.previous_client_secret if ends is not None and timezone.now() < ends else ""


@sensitive_variables()
def with_secret_fallback(
    app: ProviderApp,
    tenant: str,
    call: Callable[[client.Credentials], T],
    *,
    config: Mapping[str, Any] | None = None,
) -> T:
    """Run ``call`` with the app's credentials (for ``tenant`` and ``config``); on
    ``invalid_client`` inside the grace window, once more with the previous secret.

    A rejected current secret is recorded on the app (``last_error``, ``last_error_at``:
    :func:`note_rejected`) and ``client_secret_rejected`` is sent, also when the previous
    secret saves the call; the current secret accepted again clears the app's error.
    Raises what ``call`` raises (:class:`~.exceptions.InvalidClient` when no secret works).
    """
    try:
        result = call(credentials(app, tenant, config=config))
    except InvalidClient:
        previous = previous_secret(app)
        if not previous:
            note_rejected(app, fallback_until=None)
            raise
        logger.warning(
            "Provider app %s: the new client secret was rejected; using the previous one "
            "(grace window after a rotation).",
            app.slug,
        )
        try:
            result = call(credentials(app, tenant, secret=previous, config=config))
        except InvalidClient:
            note_rejected(app, fallback_until=None, previous_tried=True)
            raise
        except ProviderError as exc:
            # Refused for another reason than the client (invalid_grant…): the previous
            # secret authenticated. Transient: nothing is known about it.
            if not exc.transient:
                note_rejected(app, fallback_until=grace_ends(app))
            raise
        note_rejected(app, fallback_until=grace_ends(app))
        return result
    note_accepted(app)
    return result


def grace_ends(app: ProviderApp) -> datetime | None:
    """When the previous secret stops being tried (``secret_rotated_at`` plus
    ``SECRET_GRACE_PERIOD`` seconds), or ``None`` when the app was never rotated."""
    if app.secret_rotated_at is None:
        return None
    return app.secret_rotated_at + timedelta(seconds=app_settings.SECRET_GRACE_PERIOD)


#: How the app's ``last_error`` starts while the previous secret stands in.
FALLBACK_NOTE = (
    "The current client secret was rejected (invalid_client); the previous one is in use until"
)


def note_rejected(
    app: ProviderApp, *, fallback_until: datetime | None, previous_tried: bool = False
) -> None:
    """Record on ``app`` that the provider rejected its current secret, and send
    ``client_secret_rejected(app=, fallback_until=)``.

    ``fallback_until``: the grace window's end when the previous secret was accepted
    instead (``last_error`` then starts with :data:`FALLBACK_NOTE`); ``None`` when no
    secret worked.
    """
    if fallback_until is not None:
        until = utc_iso(fallback_until.replace(microsecond=0))
        message = f"{FALLBACK_NOTE} {until}. Fix the secret before then."
    else:
        message = (
            "The client secret was rejected (invalid_client)"
            + ("; the previous one too" if previous_tried else "")
            + ". Fix the secret (rotate it) or the client ID."
        )
    now = timezone.now()
    rows = ProviderApp.objects.filter(pk=app.pk)
    try:
        rows.update(last_error=message[:255], last_error_at=now)
    except OperationalError as exc:
        # Bookkeeping only: a lock held by a caller's transaction must not hide the answer.
        logger.warning("Provider app %s: error not recorded (%s).", app.slug, type(exc).__name__)
    else:
        app.last_error, app.last_error_at = message[:255], now
    logger.error("Provider app %s: %s", app.slug, message)
    client_secret_rejected.send(ProviderApp, app=app, fallback_until=fallback_until)


def note_accepted(app: ProviderApp) -> None:
    """The current secret worked: clear the app's error, if the copy in hand has one
    (no query otherwise, so a healthy app's refresh costs nothing more)."""
    if not app.last_error:
        return
    try:
        ProviderApp.objects.filter(pk=app.pk).exclude(last_error="").update(
            last_error="", last_error_at=None
        )
    except OperationalError as exc:
        logger.warning("Provider app %s: error not cleared (%s).", app.slug, type(exc).__name__)
        return
    app.last_error, app.last_error_at = "", None
    logger.info("Provider app %s: the current client secret is accepted again.", app.slug)


@dataclass(frozen=True)
class CredentialHealth:
    """What is wrong with an app's client credentials, for status output and the admin.

    ``last_error``/``last_error_at``: the app's recorded problem (``""``/``None``: none);
    ``fallback_until``: while the previous secret stands in for a rejected current one,
    when the grace window ends (else ``None``).
    """

    slug: str
    last_error: str
    last_error_at: datetime | None
    fallback_until: datetime | None

    @property
    def ok(self) -> bool:
        """No recorded problem."""
        return not self.last_error

    @property
    def previous_secret_in_use(self) -> bool:
        """The provider rejects the current secret and the previous one is used instead."""
        return self.fallback_until is not None


def credential_health(app: ProviderApp, now: datetime | None = None) -> CredentialHealth:
    """``app``'s :class:`CredentialHealth` (reads only the loaded instance: no query)."""
    until = None
    if app.last_error.startswith(FALLBACK_NOTE):
        ends = grace_ends(app)
        if ends is not None and (now or timezone.now()) < ends:
            until = ends
    return CredentialHealth(app.slug, app.last_error, app.last_error_at, until)
