"""A logging filter that keeps OAuth parameters out of access logs."""

from __future__ import annotations

import logging
import re

#: Query parameters that carry one-time codes, flow secrets or tokens.
SENSITIVE = re.compile(
    r"([?&](?:code|state|nonce|code_verifier|id_token|access_token|refresh_token|token)=)"
    r"[^&\s\"]*"
)


class RedactOAuthQuery(logging.Filter):
    """Replace the values of :data:`SENSITIVE` parameters in a record's message with ``…``.

    For runserver's ``django.server`` log, which prints every request line,
    including the callback's ``?code=…&state=…``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SENSITIVE.sub(r"\1…", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
