"""Reading JWT claims without verifying signatures.

Used only on tokens we received directly from the provider's token endpoint
over TLS (OpenID Connect Core §3.1.3.7 allows TLS server authentication in
place of signature checks there): the access token's ``exp`` and the
``id_token``'s ``nonce`` / ``aud``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def unverified_claims(token: str | None) -> dict[str, Any] | None:
    """The payload of a compact JWS, or ``None`` if ``token`` is not one."""
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None
