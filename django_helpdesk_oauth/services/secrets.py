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
from ..exceptions import ConfigurationError, HelpdeskOAuthError, ProviderError
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
    return _store_secret(app, new_secret, actor=actor, generated=False)


#: Said whenever the provider may have generated a new secret we could not store.
_MAY_HAVE_ROTATED = (
    " {provider} may have rotated the secret already (the previous one then no longer "
    "works): check the app's secret in the {provider} portal and paste it here."
)


@sensitive_variables()
def _store_secret(app: ProviderApp, new_secret: str, *, actor: str, generated: bool) -> ProviderApp:
    """Store ``new_secret``, keep the current one for the grace window, send the signal.

    ``generated``: the provider made it (the old one is already dead there), so it is
    stored even when it equals the current one (then the previous one is left as it
    was); a pasted secret equal to the current one is refused.
    """
    with transaction.atomic():
        locked = ProviderApp.objects.select_for_update().get(pk=app.pk)
        # A current secret no configured key decrypts (wrong or lost key) is replaced and
        # not kept: it could never serve as the grace-window fallback.
        current = locked.client_secret if is_readable(locked, "client_secret") else ""
        if new_secret == current and not generated:
            raise SecretRotationError("The new client secret is the same as the current one.")
        if new_secret != current:
            locked.previous_client_secret = current
        else:
            logger.warning(
                "Provider app %s: the provider generated the current secret again; kept.",
                app.slug,
            )
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
        secret: object = apps_api.rotate_client_secret(
            provider, provider_app_name=app.provider_app_name, api_key=api_key.strip()
        )
    except ProviderError as exc:
        # A 4xx refused the call (401/403 key, 404 app…); a timeout, a 5xx, a redirect
        # or a 2xx without a secret may have come after the provider rotated it.
        refused = exc.status is not None and 400 <= exc.status < 500
        hint = "" if refused else _MAY_HAVE_ROTATED.format(provider=provider.name)
        raise SecretRotationError(f"{exc}{hint}") from None
    except (HelpdeskOAuthError, ConfigurationError, ValueError) as exc:
        raise SecretRotationError(str(exc)) from None
    # The provider has generated it and the old one is dead there: store it as it came
    # (not clean_secret, which is for pasted text), whatever its shape.
    if not isinstance(secret, str) or not secret:
        raise SecretRotationError(
            f"The {provider.name} apps API answered without a usable client secret."
            + _MAY_HAVE_ROTATED.format(provider=provider.name)
        )
    if secret != secret.strip() or any(ch.isspace() for ch in secret) or len(secret) > 1000:
        logger.warning(
            "Provider app %s: the secret %s generated contains whitespace or is %d characters "
            "long; stored as it came.",
            app.slug,
            provider.name,
            len(secret),
        )
    return _store_secret(app, secret, actor=actor, generated=True)


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
    return ProviderApp.objects.previous_secret_expired(cutoff).update(previous_client_secret="")
