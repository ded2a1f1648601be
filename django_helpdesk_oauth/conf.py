"""The one settings object: ``HELPDESK_OAUTH`` merged over documented defaults.

Read through ``app_settings`` at call time, never at import time, so that
``override_settings`` and ``settings`` fixtures reach every code path.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "HELPDESK_OAUTH"

DEFAULTS: dict[str, Any] = {
    # Per-provider endpoint template overrides; "{tenant}" is substituted.
    "PROVIDERS": {},
    # Seconds before expiry at which a token is refreshed.
    "REFRESH_MARGIN": 1800,
    # Seconds an authorization request (state) stays valid.
    "STATE_TTL": 600,
    # Seconds for every outbound HTTP call.
    "HTTP_TIMEOUT": 10,
    # Scheme and host of the redirect URI ("https://app.example.com"), when the
    # request's own host is not what the provider has registered (proxies).
    "REDIRECT_BASE_URL": "",
    # Where the callback sends the browser: a URL name or a local path.
    "SUCCESS_URL": "/",
    # Fernet keys (urlsafe base64, 32 bytes). The first encrypts, all decrypt.
    # Empty: a key derived from SECRET_KEY is used and a system check warns.
    "ENCRYPTION_KEYS": [],
    # True while moving from the SECRET_KEY-derived key to ENCRYPTION_KEYS: values
    # written under the keys derived from SECRET_KEY / SECRET_KEY_FALLBACKS still
    # decrypt until helpdesk_oauth_rekey has moved them; then remove it.
    "DECRYPT_WITH_SECRET_KEY": False,
    # fn(user, installation) -> bool deciding who may POST to the uninstall URL.
    # The default requires the model permission helpdesk_oauth.delete_installation.
    "UNINSTALL_PERMISSION": "django_helpdesk_oauth.views.can_uninstall",
    # Seconds the previous client secret stays usable after a rotation.
    "SECRET_GRACE_PERIOD": 86400,
    # Seconds an api_session() reuses a token it read (while not due)
    # before reading it again; 0 reads it on every request.
    "SESSION_TOKEN_TTL": 5,
    # Seconds a refresh lease is held before another worker may take it over.
    "REFRESH_LEASE": 60,
}


class AppSettings:
    """Attribute access to ``HELPDESK_OAUTH`` with defaults; unknown names raise."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def _values(self) -> dict[str, Any]:
        if self._cache is None:
            user = getattr(settings, SETTING_NAME, None) or {}
            if not isinstance(user, dict):
                raise ImproperlyConfigured(f"settings.{SETTING_NAME} must be a dict.")
            self._cache = {**DEFAULTS, **user}
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"Unknown {SETTING_NAME} setting: {name!r}") from None

    def unknown_names(self) -> list[object]:
        """Keys set in ``HELPDESK_OAUTH`` that are not settings of this app (typos), in
        the order given; a system check reports them."""
        user = getattr(settings, SETTING_NAME, None) or {}
        return [key for key in user if key not in DEFAULTS] if isinstance(user, dict) else []

    def provider_overrides(self, provider: str) -> dict[str, str]:
        """Endpoint template overrides set for ``provider`` in ``PROVIDERS``."""
        overrides = self._values["PROVIDERS"] or {}
        return dict(overrides.get(provider) or {})

    def reload(self) -> None:
        """Forget cached values; the next access reads settings again."""
        self._cache = None


app_settings = AppSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        app_settings.reload()
