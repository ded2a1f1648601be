"""Gorgias: one authorization server per account subdomain.

Quirks (DESIGN.md): HTTP Basic client auth only; OpenID Connect ``nonce``;
``expires_in`` is 0 although the JWT access token lives 24 h; refresh keeps
the old, non-expiring refresh token; revoke takes the refresh token.
"""

from __future__ import annotations

from .base import Provider, Revocation


class GorgiasProvider(Provider):
    key = "gorgias"
    name = "Gorgias"
    endpoints = {
        "authorize_url": "https://{tenant}.gorgias.com/oauth/authorize",
        "token_url": "https://{tenant}.gorgias.com/oauth/token",
        "revoke_url": "https://{tenant}.gorgias.com/oauth/revoke",
        "api_base_url": "https://{tenant}.gorgias.com/api/",
    }
    client_auth = "client_secret_basic"
    default_scopes = ("openid", "email", "profile", "offline", "write:all")
    # The marketplace sends the user to the install URL with ?account=acme.
    tenant_params = ("account",)
    tenant_label = "Gorgias account"
    # Refresh answers carry no refresh token: the first one lives on.
    refresh_token_rotation = "never"
    # RFC 7009 at /oauth/revoke with the refresh token (the default strategy).
    revocation = Revocation.rfc7009("refresh_token")
    # Each account is its own authorization server (DESIGN.md: mix-up defence).
    issuer_template = "https://{tenant}.gorgias.com"
    # Documented lifetime of the access token; used only if its JWT has no exp.
    fallback_lifetime = 24 * 3600
    pkce = True  # not enabled at Gorgias yet; it ignores the parameters
    nonce = True
