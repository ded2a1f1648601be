"""Keep logs from printing tokens, secrets and one-time codes.

requests-oauthlib logs request bodies (client secrets, codes, refresh tokens)
and token responses at DEBUG: :func:`install` (run by the app's ``ready()``)
drops its debug records; its warnings and errors still pass.

Web servers' access logs print every request line, including the callback's
``?code=…&state=…``: add :class:`RedactOAuthQuery` to those handlers (e.g.
runserver's ``django.server`` logger), see ``docs/security.md``.
"""

from __future__ import annotations

import logging
import re

NOISY_LOGGERS = (
    "requests_oauthlib",
    "requests_oauthlib.oauth2_session",
    "requests_oauthlib.oauth2_auth",
    "oauthlib",
    "oauthlib.oauth2.rfc6749.parameters",
    "oauthlib.oauth2.rfc6749.clients.base",
    # Its debug lines quote each request's path: a revoke URL may hold a token (HubSpot v1).
    "urllib3.connectionpool",
)


class DropDebug(logging.Filter):
    """Drop records below INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_filter = DropDebug()


def install() -> None:
    """Attach the filter to each logger that may print secrets (idempotent)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


#: Query parameters that carry one-time codes, flow secrets or tokens.
SENSITIVE_QUERY = re.compile(
    r"([?&](?:code|state|nonce|code_verifier|id_token|access_token|refresh_token|token)=)"
    r"[^&\s\"]*"
)


class RedactOAuthQuery(logging.Filter):
    """Replace the values of OAuth query parameters in a record's message with ``…``.

    For access logs such as runserver's ``django.server``::

        LOGGING["filters"] = {"oauth": {"()": "django_helpdesk_oauth.logredact.RedactOAuthQuery"}}
        LOGGING["handlers"]["console"]["filters"] = ["oauth"]
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SENSITIVE_QUERY.sub(r"\1…", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
