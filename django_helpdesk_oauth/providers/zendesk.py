"""Zendesk: one authorization server per subdomain, 30-minute JWTs, rotation on every refresh.

Quirks (PROVIDERS.md "Zendesk", ``docs/providers/zendesk.md``): the user types the
subdomain (``?subdomain=acme``, a form asks when it is missing); client credentials
in a JSON body; the access token is a JWT (``typ: at+jwt``) living 30 minutes by
default, and the token answer states no ``expires_in`` unless the request sends one
(this definition sends :data:`REQUESTED_LIFETIME`; without it the JWT ``exp`` is read);
every refresh returns a new refresh token and **deletes the previous access and
refresh token**, so one refresh per installation at a time is mandatory (the service's
lease); revocation is ``DELETE /api/v2/oauth/tokens/current.json`` with the access
token; PKCE S256.

A multi-account app needs a *global* OAuth client (identifier ``zdg-…``, requested
from a ``d3v-`` test account); a local client works for its own subdomain only.
"""

from __future__ import annotations

from .base import Provider, Revocation

#: Seconds: the access-token lifetime the exchange and each refresh ask for (Zendesk's
#: ``expires_in`` request parameter, an integer above 300 and below 172800; 1800 is the
#: default lifetime of new clients). Override ``token_params`` / ``refresh_params`` in a
#: subclass to ask for another, or set them to ``{}`` to take the lifetime configured
#: on the OAuth client in Admin Center (the answer then states none: the JWT ``exp`` is
#: read).
REQUESTED_LIFETIME = 1800


class ZendeskProvider(Provider):
    key = "zendesk"
    name = "Zendesk"
    endpoints = {
        "authorize_url": "https://{tenant}.zendesk.com/oauth/authorizations/new",
        "token_url": "https://{tenant}.zendesk.com/oauth/tokens",
        # DELETE with the access token in the Authorization header: the token record
        # (access + refresh token) of this grant is deleted.
        "revoke_url": "https://{tenant}.zendesk.com/api/v2/oauth/tokens/current.json",
        "api_base_url": "https://{tenant}.zendesk.com/api/v2/",
    }
    client_auth = "client_secret_post"
    # Zendesk's documented request format; a form is accepted too.
    token_request_format = "json"
    # Without it the answer states no lifetime (a JSON integer: the model keeps ints).
    token_params = {"expires_in": REQUESTED_LIFETIME}
    refresh_params = {"expires_in": REQUESTED_LIFETIME}
    # Read-only access to what the token's user can see; apps set their own
    # (ProviderApp.scopes: "read write", "tickets:read users:read", …).
    default_scopes = ("read",)
    tenant_params = ("subdomain",)
    tenant_label = "Zendesk subdomain"
    tenant_noun = "account"
    tenant_hint = "The name in your Zendesk address: https://<subdomain>.zendesk.com"
    # Zendesk has no marketplace install URL for OAuth integrations: the user starts
    # from the app's site, so the form asks for the subdomain.
    ask_for_tenant = True
    # Each refresh answer carries a new refresh token; the previous pair is deleted.
    refresh_token_rotation = "always"
    revocation = Revocation.bearer("DELETE")
    # The documented default lifetime (used only if neither expires_in nor the JWT exp
    # is readable).
    fallback_lifetime = 1800
    # Zendesk documents no RFC 9207 iss on its callback: not compared.
    issuer_template = ""
    # Supported for every client, required for public ones.
    pkce = True
    nonce = False
