"""System check for ``HELPDESK_OAUTH_SANDBOX``: keys the sandbox does not read (typos)."""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core import checks

#: Every key of ``settings.HELPDESK_OAUTH_SANDBOX`` the sandbox reads (add one here when
#: the sandbox starts reading it).
SETTING_KEYS = ("API_KEYS", "CLIENTS", "RATE_LIMITS", "STATE_FILE")


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
