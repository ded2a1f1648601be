"""The app's client credentials for a tenant, with the post-rotation grace window.

A rotation keeps the previous secret (encrypted) for ``SECRET_GRACE_PERIOD``:
if the token endpoint answers ``invalid_client`` with the new secret inside
that window, the call is retried once with the previous one, so a rotation
done in the wrong order does not break every tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import client
from ..conf import app_settings
from ..exceptions import InvalidClient
from ..fields import is_readable
from ..models import ProviderApp

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
    window = timedelta(seconds=app_settings.SECRET_GRACE_PERIOD)
    return app.previous_client_secret if timezone.now() < app.secret_rotated_at + window else ""


@sensitive_variables()
def with_secret_fallback(
    app: ProviderApp,
    tenant: str,
    call: Callable[[client.Credentials], T],
    *,
    config: Mapping[str, Any] | None = None,
) -> T:
    """Run ``call`` with the app's credentials (for ``tenant`` and ``config``); on
    ``invalid_client`` inside the grace window, once more with the previous secret."""
    try:
        return call(credentials(app, tenant, config=config))
    except InvalidClient:
        previous = previous_secret(app)
        if not previous:
            raise
        logger.warning(
            "Provider app %s: the new client secret was rejected; using the previous one "
            "(grace window after a rotation).",
            app.slug,
        )
        return call(credentials(app, tenant, secret=previous, config=config))
