"""Front: one global authorization server; the company is learnt after the exchange.

Quirks (PROVIDERS.md "Front", docs/providers/front.md): HTTP Basic client
authentication only; the token answer states an absolute ``expires_at`` (no
``expires_in``) for a 1-hour access token; a refresh returns "the same, or new"
refresh token (a new one in its last 24 hours of 6 months): whichever comes back is
stored; no ``scope`` parameter (permissions are set on the app); the company
(``cmp_…``) is read from ``GET https://api2.frontapp.com/me``; only company admins
may approve the app, a non-admin is refused on the callback (a 403 page saying so).
"""

from __future__ import annotations

import re
from typing import Any

from .base import AdminConsent, Provider, Revocation

#: A Front company id as ``GET /me`` names it: ``cmp_`` and a short base-36 id (``cmp_k30``).
COMPANY_ID = re.compile(r"cmp_[a-z0-9]{1,32}", re.ASCII)


class FrontProvider(Provider):
    key = "front"
    name = "Front"
    endpoints = {
        "authorize_url": "https://app.frontapp.com/oauth/authorize",
        "token_url": "https://app.frontapp.com/oauth/token",
        "api_base_url": "https://api2.frontapp.com/",
        # The token's company: {"_links": …, "id": "cmp_…", "name": …}.
        "identity_url": "https://api2.frontapp.com/me",
        # No revoke_url: Front's app-OAuth docs document none. Its RFC 8414 metadata
        # advertises https://app.frontapp.com/oauth/revoke (for the MCP server); set
        # HELPDESK_OAUTH["PROVIDERS"]["front"]["revoke_url"] to use it (RFC 7009 below).
    }
    # "Your request MUST be authenticated with Basic authentication."
    client_auth = "client_secret_basic"
    # Permissions are chosen on the app in Front's developer settings, not requested.
    scopes_supported = False
    default_scopes = ()
    # The answer says expires_at (epoch); 1 hour when it says nothing usable.
    fallback_lifetime = 3600
    # "The same, or new" refresh token: whichever comes back is stored.
    refresh_token_rotation = "sometimes"
    # Used only once a revoke_url is configured (see endpoints).
    revocation = Revocation.rfc7009("refresh_token")
    # Global hosts: the company id is read from identity_url after the exchange.
    tenant_after_exchange = True
    tenant_pattern = COMPANY_ID
    tenant_label = "Front company"
    tenant_noun = "company"
    tenant_hint = "Front names it after the approval (cmp_…); nothing to type."
    # "End users authorizing OAuth apps must be admins": a non-admin's approval is
    # "rejected with a 'You need to be an administrator of your Front instance to
    # authorize this request.' error response", back on the callback (RFC 6749
    # §4.1.2.1). Front documents the words, not the error code: any code with them.
    admin_consent = AdminConsent(None, "need to be an administrator")
    # Not in Front's app-OAuth docs; its authorization server advertises S256 and a
    # server that does not use the parameters ignores them.
    pkce = True

    def tenant_from_identity(self, body: Any) -> str | None:
        """``{"id": "cmp_k30", "name": …, "_links": …}`` → ``"cmp_k30"``; else ``None``."""
        company = body.get("id") if isinstance(body, dict) else None
        return company if isinstance(company, str) else None
