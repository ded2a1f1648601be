"""Kustomer: org-scoped OAuth with rotating refresh tokens.

Quirks (DESIGN.md): client credentials in the form body only; ``offline_access``
is needed for a refresh token; each refresh returns a new refresh token and
spends the old one; no revoke endpoint; PKCE S256. The default endpoints are
the seed document's global host; :data:`PER_ORG_ENDPOINTS` are the current
docs' per-org hosts, selected through ``HELPDESK_OAUTH["PROVIDERS"]["kustomer"]``.
"""

from __future__ import annotations

from urllib.parse import quote

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

    def extra_authorize_params(self, tenant: str) -> dict[str, str]:
        """The org as a hint: the global endpoint cannot tell which org the user meant
        (the sandbox pre-fills its consent page with it; servers ignore unknown params)."""
        return {"org": tenant}

    # Seed steps 1 and 2: register a private app, generate its client secret.
    supports_secret_rotation = True
    supports_app_registration = True

    def rotate_client_secret(self, *, provider_app_name: str, api_key: str) -> str:
        """``POST /v1/apps/available/{app}/secret``; the old secret stops working."""
        from .. import apps_api  # here, not at import time: apps_api imports the client

        if not provider_app_name:
            raise ValueError("The app's Kustomer name (provider_app_name) is not set.")
        payload = apps_api.post_json(
            self, f"/v1/apps/available/{quote(provider_app_name, safe='')}/secret", api_key, {}
        )
        secret = apps_api.attributes(payload).get("clientSecret")
        if not isinstance(secret, str) or not secret:
            raise apps_api.ProviderError("The apps API answer has no clientSecret.")
        return secret

    def register_app(self, *, name: str, title: str, api_key: str) -> tuple[str, str]:
        """``POST /v1/apps/available`` with the minimal private app definition."""
        from .. import apps_api

        body = {"app": name, "version": "0.0.1", "title": title, "visibility": "private"}
        attrs = apps_api.attributes(apps_api.post_json(self, "/v1/apps/available", api_key, body))
        namespaced, client_id = attrs.get("name"), attrs.get("clientId")
        if not (isinstance(namespaced, str) and isinstance(client_id, str)):
            raise apps_api.ProviderError("The apps API answer has no name or clientId.")
        return namespaced, client_id
