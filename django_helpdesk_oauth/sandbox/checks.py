"""System checks for ``HELPDESK_OAUTH_SANDBOX``: keys the sandbox does not read (typos), a
bad ``ACCESS_TOKEN_LIFETIME``."""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core import checks

#: Every key of ``settings.HELPDESK_OAUTH_SANDBOX`` the sandbox reads (add one here when
#: the sandbox starts reading it).
SETTING_KEYS = ("ACCESS_TOKEN_LIFETIME", "API_KEYS", "CLIENTS", "RATE_LIMITS", "STATE_FILE")


@checks.register()
def check_unknown_sandbox_settings(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """A Warning per unknown key, suggesting the closest known one."""
    config = getattr(settings, "HELPDESK_OAUTH_SANDBOX", None) or {}
    messages: list[checks.CheckMessage] = []
    for key in config if isinstance(config, dict) else ():
        if key in SETTING_KEYS:
            continue
        text = key if isinstance(key, str) else repr(key)
        close = difflib.get_close_matches(text.upper(), SETTING_KEYS, n=1, cutoff=0.6)
        messages.append(
            checks.Warning(
                f"HELPDESK_OAUTH_SANDBOX has an unknown key {key!r}: it is ignored.",
                hint=f"Did you mean {close[0]!r}?"
                if close
                else f"Known names: {', '.join(SETTING_KEYS)}.",
                id="helpdesk_oauth_sandbox.W001",
            )
        )
    return messages


@checks.register()
def check_access_token_lifetime(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``ACCESS_TOKEN_LIFETIME`` is unset or a whole number of seconds, at least 1."""
    config = getattr(settings, "HELPDESK_OAUTH_SANDBOX", None) or {}
    value = config.get("ACCESS_TOKEN_LIFETIME") if isinstance(config, dict) else None
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return []
    return [
        checks.Error(
            f'HELPDESK_OAUTH_SANDBOX["ACCESS_TOKEN_LIFETIME"] = {value!r} is not a number '
            "of seconds.",
            hint="Set it to a whole number of seconds, at least 1 (e.g. 120), or remove it.",
            id="helpdesk_oauth_sandbox.E002",
        )
    ]
