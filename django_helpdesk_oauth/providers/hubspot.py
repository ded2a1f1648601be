"""HubSpot: one global authorization server; the account (hub) is named after the exchange.

Quirks (PROVIDERS.md "HubSpot", docs/providers/hubspot.md): no tenant on the install
URL, the hub id comes back in the token response (``hub_id``), else from the
account-info call; client credentials in the form body; 30-minute access tokens
(``expires_in: 1800``) and long-lived refresh tokens that never rotate; RFC 7009
revocation of the refresh token on the date-versioned API; error answers with RFC
6749 ``error`` and/or HubSpot's own ``status`` (``BAD_REFRESH_TOKEN``).

Endpoints: the date-versioned OAuth API (``/oauth/2026-03/…``), which takes every
token and secret in the request body. The v1 endpoints (``/oauth/v1/token``, the
token-in-path ``/oauth/v1/refresh-tokens/{token}``) are sunset on 2027-02-16
(:data:`V1_SUNSET`); HubSpot announces a new date version through its changelog, and
``HELPDESK_OAUTH["PROVIDERS"]["hubspot"]`` moves any endpoint without a code change.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from .base import Provider, Revocation

#: The day HubSpot turns off the legacy v1 OAuth endpoints (its v1 migration guide).
V1_SUNSET = datetime.date(2027, 2, 16)

#: A hub (portal) id: a positive decimal integer, no sign, no leading zero.
HUB_ID = re.compile(r"[1-9][0-9]{0,19}", re.ASCII)


class HubSpotProvider(Provider):
    key = "hubspot"
    name = "HubSpot"
    endpoints = {
        "authorize_url": "https://app.hubspot.com/oauth/authorize",
        "token_url": "https://api.hubapi.com/oauth/2026-03/token",
        "revoke_url": "https://api.hubapi.com/oauth/2026-03/token/revoke",
        "api_base_url": "https://api.hubapi.com/",
        # Read only when the token response has no hub_id (older answers): a GET with
        # the access token in the Authorization header, never in the URL.
        "identity_url": "https://api.hubapi.com/account-info/v3/details",
    }
    # The 2026-03 endpoints take client_id and client_secret in the form body only.
    client_auth = "client_secret_post"
    # "oauth" is required of every HubSpot app; "tickets" reads the help desk.
    default_scopes = ("oauth", "tickets")
    # The install URL (the marketplace's Install button) names no account: the
    # token response's hub_id, or the account-info answer's portalId, does.
    tenant_after_exchange = True
    tenant_response_field = "hub_id"
    tenant_pattern = HUB_ID
    tenant_label = "HubSpot account ID"
    tenant_noun = "account"
    tenant_hint = "The number HubSpot shows as your account ID (Hub ID)."
    # expires_in says 1800 (30 minutes); this is used only if an answer omits it.
    fallback_lifetime = 1800
    # Refresh answers carry a refresh token equal to the one sent: nothing rotates.
    refresh_token_rotation = "never"
    # POST /oauth/2026-03/token/revoke, token=<refresh token> and the client in the body.
    revocation = Revocation.rfc7009("refresh_token")
    # v1 answers carry HubSpot's own status only; 2026-03 answers carry both shapes.
    # Only BAD_REFRESH_TOKEN is documented; the other two are HubSpot's v1 statuses as
    # its community reports them. Extend in a subclass if HubSpot documents more.
    error_code_aliases = {
        "status": {
            "BAD_REFRESH_TOKEN": "invalid_grant",
            "BAD_AUTH_CODE": "invalid_grant",
            "BAD_CLIENT_ID": "invalid_client",
        }
    }
    # The 2026-03 token endpoint accepts a code_verifier.
    pkce = True
    nonce = False

    def tenant_from_identity(self, body: Any) -> str | None:
        """``GET /account-info/v3/details`` → its ``portalId`` (a JSON integer) as digits,
        or ``None`` when the answer names none. Validated by :data:`HUB_ID` after."""
        portal = body.get("portalId") if isinstance(body, dict) else None
        if isinstance(portal, int) and not isinstance(portal, bool):
            return str(portal)
        return portal if isinstance(portal, str) else None
