"""System checks (``manage.py check``) for the settings this app reads."""

from __future__ import annotations

from typing import Any

from django.core import checks

from . import crypto
from .conf import app_settings
from .exceptions import ConfigurationError
from .providers import base, registry


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Keys present and valid; the SECRET_KEY fallback is a warning."""
    if not app_settings.ENCRYPTION_KEYS:
        return [
            checks.Warning(
                'HELPDESK_OAUTH["ENCRYPTION_KEYS"] is empty: tokens are encrypted with a key '
                "derived from SECRET_KEY, so rotating SECRET_KEY makes them unreadable.",
                hint="Set it to a list of keys from cryptography.fernet.Fernet.generate_key().",
                id="helpdesk_oauth.W001",
            )
        ]
    try:
        crypto.encrypt("check")
    except ConfigurationError as exc:
        return [checks.Error(str(exc), id="helpdesk_oauth.E001")]
    return []


@checks.register()
def check_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every provider named in ``PROVIDERS`` exists and its endpoint names are known."""
    errors: list[checks.CheckMessage] = []
    for key, overrides in (app_settings.PROVIDERS or {}).items():
        if key not in registry:
            errors.append(
                checks.Error(
                    f'HELPDESK_OAUTH["PROVIDERS"] names an unknown provider {key!r}.',
                    hint=f"Known providers: {', '.join(sorted(registry))}.",
                    id="helpdesk_oauth.E002",
                )
            )
            continue
        for name in overrides or {}:
            if name not in base.ENDPOINTS:
                errors.append(
                    checks.Error(
                        f'HELPDESK_OAUTH["PROVIDERS"]["{key}"] has an unknown endpoint {name!r}.',
                        hint=f"Known endpoints: {', '.join(base.ENDPOINTS)}.",
                        id="helpdesk_oauth.E003",
                    )
                )
    return errors
