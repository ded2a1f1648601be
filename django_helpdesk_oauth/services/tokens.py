"""Turning a token endpoint's answer into ``Token`` field values.

The answer is read by :func:`~django_helpdesk_oauth.token_response.parse_token_response`
(our parser, never oauthlib's); these helpers say what of it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..exceptions import UnusableTokenResponse
from ..providers import Provider
from ..token_response import TokenResponse, parse_token_response, usable_refresh_token


def _parsed(provider: Provider, raw: Mapping[str, Any], now: datetime) -> TokenResponse:
    if isinstance(raw, TokenResponse):
        return raw
    return parse_token_response(provider, dict(raw), now=now)


def token_fields(
    provider: Provider,
    raw: Mapping[str, Any],
    *,
    now: datetime,
    previous_refresh_token: str = "",
) -> dict[str, Any]:
    """Field values for :class:`~django_helpdesk_oauth.models.Token` from a usable answer.

    ``raw`` is a :class:`~django_helpdesk_oauth.token_response.TokenResponse` (or a
    raw JSON object, parsed here). An answer without a usable ``refresh_token``
    keeps ``previous_refresh_token`` (Gorgias never rotates); one with a new
    refresh token replaces it (Kustomer). Keys: ``access_token``,
    ``refresh_token``, ``token_type``, ``scope``, ``expires_at`` (``None``: never
    expires), ``lifetime`` (a ``timedelta``; ``None`` for a token that never expires).

    Raises :class:`UnusableTokenResponse` (naming no token) when the access token
    cannot be used; then store :func:`salvage_fields` instead.
    """
    parsed = _parsed(provider, raw, now)
    if not parsed.usable or parsed.expiry is None:
        raise unusable(provider, parsed, "token response")
    new_refresh_token = parsed.refresh_token if usable_refresh_token(parsed.refresh_token) else ""
    return {
        "access_token": parsed.access_token,
        "refresh_token": new_refresh_token or previous_refresh_token,
        "token_type": parsed.token_type,
        "scope": parsed.scope,
        "expires_at": parsed.expiry.expires_at,
        # The granted lifetime (None: never expires) caps the refresh margin (Token.is_due).
        "lifetime": parsed.expiry.lifetime,
    }


def salvage_fields(parsed: TokenResponse, *, previous_refresh_token: str = "") -> dict[str, Any]:
    """What to keep from an answer whose access token is unusable.

    ``{"refresh_token": …}`` when it carries a usable refresh token
    (:func:`~django_helpdesk_oauth.token_response.usable_refresh_token`: no blank,
    placeholder or number) other than ``previous_refresh_token`` (a rotating
    provider has spent the old one: losing the new one loses the customer), else
    ``{}`` (the previous one is kept).
    """
    new = parsed.refresh_token
    if usable_refresh_token(new) and new != previous_refresh_token:
        return {"refresh_token": new}
    return {}


def unusable(provider: Provider, parsed: TokenResponse, what: str) -> UnusableTokenResponse:
    """The typed error for an answer whose access token cannot be used (no token in it)."""
    kept = "; its refresh token was kept" if parsed.refresh_token else ""
    return UnusableTokenResponse(
        f"{provider.name} {what}: unusable answer ({parsed.problem}){kept}.",
        provider=provider.key,
        error="unusable_token_response",
        status=200,
    )
