"""Keep third-party debug logs from printing tokens and secrets.

requests-oauthlib logs request bodies (client secrets, codes, refresh tokens)
and token responses at DEBUG. Its debug records are dropped; its warnings and
errors still pass.
"""

from __future__ import annotations

import logging

NOISY_LOGGERS = (
    "requests_oauthlib",
    "requests_oauthlib.oauth2_session",
    "requests_oauthlib.oauth2_auth",
    "oauthlib",
    "oauthlib.oauth2.rfc6749.parameters",
    "oauthlib.oauth2.rfc6749.clients.base",
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
