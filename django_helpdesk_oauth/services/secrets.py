"""Client secrets: create (or register) an app, rotate its secret, expire the previous one.

A rotation keeps the previous secret (encrypted) for ``SECRET_GRACE_PERIOD``;
:func:`.creds.with_secret_fallback` uses it when the new one is refused.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..conf import app_settings
from ..exceptions import ConfigurationError, HelpdeskOAuthError, InvalidAppInput, ProviderError
from ..fields import is_readable
from ..models import ProviderApp
from ..providers import get_provider
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
    """Have the provider generate a new secret (its apps API) and store it.

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


def default_name(provider_name: str, provider_key: str, slug: str) -> str:
    """The display name of an app created without one: the provider's name ("Gorgias"),
    with the slug when it is not the provider's key ("Gorgias (shop)")."""
    return provider_name if slug == provider_key else f"{provider_name} ({slug})"


@sensitive_variables()
def create_app(
    *,
    provider_key: str,
    slug: str,
    client_id: str = "",
    client_secret: str = "",
    name: str = "",
    scopes: str = "",
    enabled: bool = True,
    register_as: str = "",
    api_key: str = "",
) -> ProviderApp:
    """Create a ``ProviderApp``: the one path of the admin create form and
    ``helpdesk_oauth_register_app``.

    From credentials the provider issued (``client_id``, ``client_secret``), or, with
    ``register_as`` (the provider-side app name) and an admin ``api_key`` (used for these
    calls only, never stored), by registering a private app through the provider's
    app-registration API and having it generate the secret; ``name`` is then also the
    app's title there (default ``register_as``). Without ``name`` (nor ``register_as``)
    the display name is :func:`default_name`. ``scopes``: space-separated (runs of
    whitespace collapsed).

    Every input is validated before anything is sent or written: bad input raises
    :class:`~.exceptions.InvalidAppInput` (per-field messages); a refused or failed
    registration raises :class:`SecretRotationError`. Nothing is written on failure.
    """
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    try:
        provider = get_provider(provider_key)
    except ConfigurationError:
        raise InvalidAppInput(
            {"provider": [f"No provider {provider_key!r} is registered."]}
        ) from None
    client_id = (client_id or "").strip()
    register_as = (register_as or "").strip()
    if register_as:
        if not provider.supports_app_registration:
            refuse("__all__", f"{provider.name} has no API to register apps.")
        if client_id or client_secret:
            refuse(
                "__all__", "The provider issues the client ID and secret of an app it registers."
            )
        if not (api_key or "").strip():
            refuse("api_key", "An admin API key is needed to register the app.")
    else:
        if not client_id:
            refuse("client_id", "The client ID is required.")
        try:
            client_secret = clean_secret(client_secret)
        except SecretRotationError as exc:
            refuse("client_secret", str(exc))
    slug = (slug or "").strip()
    app = ProviderApp(
        slug=slug,
        provider=provider.key,
        name=(name or register_as).strip() or default_name(provider.name, provider.key, slug),
        client_id=client_id,
        client_secret=client_secret,
        scopes=" ".join((scopes or "").split()),
        enabled=enabled,
    )
    try:
        # Before calling the provider: a bad slug must not leave an orphan app there.
        app.full_clean(exclude=["client_id", "client_secret"] if register_as else ["client_secret"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                refuse(field if field != NON_FIELD_ERRORS else "__all__", message)
    if errors:
        raise InvalidAppInput(errors)
    if register_as:
        try:
            app_name, app.client_id = apps_api.register_app(
                provider, name=register_as, title=app.name, api_key=api_key.strip()
            )
            app.client_secret = apps_api.rotate_client_secret(
                provider, provider_app_name=app_name, api_key=api_key.strip()
            )
        except (HelpdeskOAuthError, ConfigurationError, ValueError) as exc:
            raise SecretRotationError(str(exc)) from None
        app.provider_app_name = app_name
    try:
        # Atomic: a failing post_save receiver leaves no row either.
        with transaction.atomic():
            app.save()
    except Exception as exc:
        if not register_as:
            raise
        raise SecretRotationError(
            f"{provider.name} registered {app.provider_app_name!r} (client id {app.client_id}) "
            f"but it could not be stored ({type(exc).__name__}); create the ProviderApp by hand "
            "and rotate its secret."
        ) from exc
    logger.info("Provider app %s (%s) created.", app.slug, provider.key)
    return app


@sensitive_variables()
def update_app(
    app: ProviderApp,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    name: str | None = None,
    scopes: str | None = None,
    provider_app_name: str | None = None,
    actor: str = "",
) -> ProviderApp:
    """Change fields of an existing ``ProviderApp``; ``None`` leaves a field as it is.

    A new ``client_secret`` is a rotation (:func:`set_client_secret`: the current one is
    kept for ``SECRET_GRACE_PERIOD`` seconds, ``client_secret_rotated`` is sent). An
    empty ``name`` is :func:`default_name`. Every input is validated first: bad input,
    or nothing to change, raises :class:`~.exceptions.InvalidAppInput` (per-field
    messages) and nothing is written; the writes are one transaction.
    """
    errors: dict[str, list[str]] = {}
    changes: dict[str, object] = {}
    provider = app.provider_spec
    if client_id is not None:
        if client_id.strip():
            changes["client_id"] = client_id.strip()
        else:
            errors.setdefault("client_id", []).append("The client ID is required.")
    if name is not None:
        changes["name"] = name.strip() or default_name(provider.name, provider.key, app.slug)
    if scopes is not None:
        changes["scopes"] = " ".join(scopes.split())
    if provider_app_name is not None:
        changes["provider_app_name"] = provider_app_name.strip()
    if client_secret is not None:
        try:
            client_secret = clean_secret(client_secret, what="new client secret")
        except SecretRotationError as exc:
            errors.setdefault("client_secret", []).append(str(exc))
        else:
            if is_readable(app, "client_secret") and client_secret == app.client_secret:
                errors.setdefault("client_secret", []).append(
                    "The new client secret is the same as the current one."
                )
    # The stored row with the changes applied, validated as the model would be (no secret).
    candidate = ProviderApp.objects.get(pk=app.pk)
    for field, value in changes.items():
        setattr(candidate, field, value)
    try:
        candidate.full_clean(exclude=["client_secret", "previous_client_secret"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field if field != NON_FIELD_ERRORS else "__all__", []).extend(
                messages
            )
    if not errors and not changes and client_secret is None:
        errors["__all__"] = ["Nothing to change."]
    if errors:
        raise InvalidAppInput(errors)
    with transaction.atomic():
        locked = ProviderApp.objects.select_for_update().get(pk=app.pk)
        if changes:
            for field, value in changes.items():
                setattr(locked, field, value)
            locked.save(update_fields=[*changes, "updated_at"])
        if client_secret is not None:
            # Same transaction: a refused rotation (or a failing receiver) undoes the rest.
            locked = _store_secret(locked, client_secret, actor=actor, generated=False)
    logger.info(
        "Provider app %s updated (%s)%s.",
        app.slug,
        ", ".join([*changes, *(["client_secret"] if client_secret is not None else [])]),
        f" by {actor!r}" if actor else "",
    )
    return locked


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
    """Register private app ``name`` (title ``title``) at the provider, generate its secret,
    store a ``ProviderApp``: :func:`create_app` with ``register_as=name``."""
    return create_app(
        provider_key=provider_key,
        slug=slug,
        name=title,
        scopes=scopes,
        register_as=name,
        api_key=api_key,
    )


def expire_previous_secrets() -> int:
    """Erase previous secrets whose grace window has closed; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=app_settings.SECRET_GRACE_PERIOD)
    return ProviderApp.objects.previous_secret_expired(cutoff).update(previous_client_secret="")
