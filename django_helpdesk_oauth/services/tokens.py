"""Turning a raw token response into ``Token`` field values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..providers import Provider


def token_fields(
    provider: Provider, raw: dict[str, Any], *, now: datetime, previous_refresh_token: str = ""
) -> dict[str, Any]:
    """Field values for :class:`~django_helpdesk_oauth.models.Token` from a token response.

    A response without a ``refresh_token`` keeps ``previous_refresh_token``
    (Gorgias never rotates); one with a new refresh token replaces it (Kustomer).
    """
    scope = raw.get("scope", "")
    if isinstance(scope, list):
        scope = " ".join(scope)
    return {
        "access_token": str(raw["access_token"]),
        "refresh_token": str(raw.get("refresh_token") or previous_refresh_token),
        "token_type": str(raw.get("token_type") or "Bearer")[:40],
        "scope": str(scope)[:1000],
        "expires_at": provider.token_expiry(raw, now).expires_at,
    }
