"""Kustomer: org-scoped OAuth with rotating refresh tokens.

Quirks (DESIGN.md): client credentials in the form body only; ``offline_access``
is needed for a refresh token; each refresh returns a new refresh token and
spends the old one; no revoke endpoint; PKCE S256. The default endpoints are
the seed document's global host; :data:`PER_ORG_ENDPOINTS` are the current
docs' per-org hosts, selected through ``HELPDESK_OAUTH["PROVIDERS"]["kustomer"]``.
"""

from __future__ import annotations

from .base import Provider

#: The endpoint set of Kustomer's current docs (per-org hosts).
PER_ORG_ENDPOINTS = {
    "authorize_url": "https://{tenant}.kustomerapp.com/oauth/authorize",
    "token_url": "https://{tenant}.api.kustomerapp.com/oauth/token",
}


class KustomerProvider(Provider):
    key = "kustomer"
    name = "Kustomer"
    endpoints = {
        "authorize_url": "https://api.apps.kustomerapp.com/oauth/authorize",
        "token_url": "https://api.apps.kustomerapp.com/oauth/token",
        # A token works only in the region (host) that issued it.
        "api_base_url": "https://{tenant}.api.kustomerapp.com/v1/",
        "apps_api_url": "https://api.kustomerapp.com",
    }
    client_auth = "body"
    default_scopes = ("org.permission.customer", "org.permission.conversation", "offline_access")
    tenant_params = ("org",)
    tenant_label = "Kustomer organization name"
    tenant_hint = "The name in your Kustomer address: https://<name>.kustomerapp.com"
    # The docs ask for the org name before the flow starts.
    ask_for_tenant = True
    rotates_refresh_tokens = True
    fallback_lifetime = 86400
    pkce = True
    nonce = False
