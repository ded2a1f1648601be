"""Client secrets: register an app, rotate its secret, expire the previous one.

A rotation keeps the previous secret (encrypted) for ``SECRET_GRACE_PERIOD``;
:func:`.creds.with_secret_fallback` uses it when the new one is refused.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..conf import app_settings
from ..exceptions import ConfigurationError, HelpdeskOAuthError
from ..fields import is_readable
from ..models import ProviderApp
from ..signals import client_secret_rotated
from . import apps_api

logger = logging.getLogger(__name__)


class SecretRotationError(HelpdeskOAuthError):
    """The secret could not be rotated (bad input, or the provider refused)."""


@sensitive_variables()
def clean_secret(value: str | None, *, what: str = "client secret") -> str:
    """``value`` stripped; :class:`SecretRotationError` if empty, spaced or over-long."""
    value = (value or "").strip()
    if not value:
        raise SecretRotationError(f"The {what} is empty.")
    if any(ch.isspace() for ch in value) or len(value) > 1000:
        raise SecretRotationError(f"The {what} contains whitespace or is too long.")
    return value


@sensitive_variables()
def set_client_secret(app: ProviderApp, new_secret: str, *, actor: str = "") -> ProviderApp:
    """Store ``new_secret`` (e.g. pasted from the provider's portal), keep the old one for
    the grace window, send ``client_secret_rotated``."""
    new_secret = clean_secret(new_secret, what="new client secret")
    with transaction.atomic():
        locked = ProviderApp.objects.select_for_update().get(pk=app.pk)
        # A current secret no configured key decrypts (wrong or lost key) is replaced and
        # not kept: it could never serve as the grace-window fallback.
        current = locked.client_secret if is_readable(locked, "client_secret") else ""
        if new_secret == current:
            raise SecretRotationError("The new client secret is the same as the current one.")
        locked.previous_client_secret = current
        locked.client_secret = new_secret
        locked.secret_rotated_at = timezone.now()
        locked.last_error = ""
        locked.last_error_at = None
        locked.save()
    logger.info(
        "Provider app %s: client secret rotated%s.", app.slug, f" by {actor!r}" if actor else ""
    )
    client_secret_rotated.send(ProviderApp, app=locked)
    return locked


@sensitive_variables()
def rotate_via_provider(app: ProviderApp, api_key: str, *, actor: str = "") -> ProviderApp:
    """Have the provider generate a new secret (Kustomer's apps API) and store it.

    ``api_key`` is used for this one call: never stored, never logged.
    """
    provider = app.provider_spec
    if not provider.supports_secret_rotation:
        raise SecretRotationError(
            f"{provider.name} has no API to rotate secrets: paste the new secret instead."
        )
    if not (api_key or "").strip():
        raise SecretRotationError("The API key is empty.")
    if not app.provider_app_name:
        raise SecretRotationError(
            f"The {provider.name} app name is not set on {app.slug}: set provider_app_name."
        )
    try:
        secret = apps_api.rotate_client_secret(
            provider, provider_app_name=app.provider_app_name, api_key=api_key.strip()
        )
    except (HelpdeskOAuthError, ConfigurationError, ValueError) as exc:
        raise SecretRotationError(str(exc)) from None
    return set_client_secret(app, secret, actor=actor)


@sensitive_variables()
def register_app(
    *,
    provider_key: str,
    slug: str,
    name: str,
    title: str,
    api_key: str,
    scopes: str = "",
) -> ProviderApp:
    """Register a private app at the provider, generate its secret, store a ``ProviderApp``."""
    from ..providers import get_provider

    provider = get_provider(provider_key)
    if not provider.supports_app_registration:
        raise SecretRotationError(f"{provider.name} has no API to register apps.")
    app = ProviderApp(slug=slug, provider=provider_key, name=title, scopes=scopes)
    try:
        # Before calling the provider: a bad slug must not leave an orphan app there.
        app.full_clean(exclude=["client_id", "client_secret"])
    except ValidationError as exc:
        raise SecretRotationError("; ".join(exc.messages)) from None
    try:
        app_name, client_id = apps_api.register_app(
            provider, name=name, title=title, api_key=api_key
        )
        secret = apps_api.rotate_client_secret(
            provider, provider_app_name=app_name, api_key=api_key
        )
    except (HelpdeskOAuthError, ConfigurationError, ValueError) as exc:
        raise SecretRotationError(str(exc)) from None
    app.client_id, app.client_secret, app.provider_app_name = client_id, secret, app_name
    try:
        app.save()
    except DatabaseError:
        raise SecretRotationError(
            f"{provider.name} registered {app_name!r} (client id {client_id}) but it could not "
            "be stored; create the ProviderApp by hand and rotate its secret."
        ) from None
    return app


def expire_previous_secrets() -> int:
    """Erase previous secrets whose grace window has closed; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=app_settings.SECRET_GRACE_PERIOD)
    return (
        ProviderApp.objects.filter(secret_rotated_at__lt=cutoff)
        .exclude(previous_client_secret="")
        .update(previous_client_secret="")
    )
